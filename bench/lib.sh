# Shared set-up for the benchmark scripts (sourced, not run).
# Sets BIN, work (a temporary folder removed on exit) and url (an nginx with
# one worker on a free loopback port, serving bench/nginx.conf.in), and
# defines cpu and start_demo_api.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/engine/loadpilot}")
SECS=${BENCH_SECONDS:-10}
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null; kill ${api:-} 2>/dev/null; rm -rf "$work"' EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/@PORT@/$port/" -e "s#@DIR@#$work#g" bench/nginx.conf.in > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5
url="http://127.0.0.1:$port"

cpu() {  # user+sys CPU seconds and peak RSS (kB) of a command: prints "CPU RSS"
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > "$work/out" 2>&1 || true
  # The last line: time writes "Command exited with non-zero status N" first.
  tail -1 "$work/time" | awk '{printf "%.2f %d\n", $1 + $2, $3}'
}

start_demo_api() {  # demo-api options...: starts it on a free port; sets api (pid) and api_url
  "$BIN" demo-api --port 0 --threads 1 "$@" > "$work/api.log" 2>&1 &
  api=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/api.log" && break
    sleep 0.05
  done
  api_url=$(grep -o 'http://[0-9.:]*' "$work/api.log")
}
