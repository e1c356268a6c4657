#!/usr/bin/env bash
# make demo: start the bundled demo API on a free loopback port, run
# examples/checkout.py against it with the live dashboard, print the summary.
set -euo pipefail
BIN=${1:-build/engine/loadpilot}
cd "$(dirname "$0")/.."
mkdir -p results
log=$(mktemp)
"$BIN" demo-api --host 127.0.0.1 --port 0 --latency-ms 2 --jitter-ms 3 --error-rate 0.5 >"$log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null; wait $api 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  sleep 0.05
done
url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
if [[ -z "$url" ]]; then
  echo "demo: demo-api did not start:" >&2
  cat "$log" >&2
  exit 1
fi
echo "demo: demo-api at $url"
# Prometheus metrics on :9090 as usual, or on a free port when 9090 is taken
# (a local Prometheus, say), so the demo never fails over the port.
metrics_port=9090
if ! python3 -c 'import socket,sys; s=socket.socket(); s.bind(("0.0.0.0", 9090))' 2>/dev/null; then
  metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')
  echo "demo: port 9090 is busy; metrics on http://127.0.0.1:$metrics_port/metrics instead"
fi
set +e
"$BIN" run examples/checkout.py --target "$url" --results-json results/demo.json \
  --metrics-port "$metrics_port"
code=$?
set -e
echo "demo: loadpilot exited with $code (0: thresholds passed, 1: a threshold breached)"
exit 0
