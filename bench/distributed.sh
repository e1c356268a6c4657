#!/usr/bin/env bash
# Distributed runs: do two agents over NATS send as much as two local agent
# processes over pipes? Runs, against the same nginx (one worker) on
# loopback, in one script run:
#   1. --agents 2 (pipes), rps="max", BENCH_SECONDS;
#   2. --external-agents 2 over a nats-server started here, the same run.
# Prints requests/s of each and the ratio NATS / pipes (goal >= 0.95), the
# coordinator's CPU seconds per agent-second, and the bytes through NATS per
# agent-second (from the server's /varz counters). Not part of `make test`.
# Usage: bench/distributed.sh [path/to/loadpilot]; BENCH_SECONDS (default 10).
#
# bench/distributed.sh scale [path/to/loadpilot]: one coordinator and 10,
# 100, 300 and 1,000 simulated agents (`loadpilot agent --simulate N`) on
# a nats-server, measured (bench/distributed_scale.py says what and how;
# BENCH_AGENTS, BENCH_SECONDS, BENCH_FRAME_BYTES, BENCH_RATE_PER_AGENT).
if [[ "${1:-}" == scale ]]; then
  shift
  cd "$(dirname "$0")/.."
  exec /usr/bin/python3 bench/distributed_scale.py "${1:-build/engine/loadpilot}"
fi
source "$(dirname "$0")/lib.sh"
cat > "$work/max.py" <<'PY'
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s")
class Max(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")
PY
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nport=$(free_port)
mport=$(free_port)
nats-server -a 127.0.0.1 -p "$nport" -m "$mport" > "$work/nats.log" 2>&1 &
nats_pid=$!
agents=()
trap 'kill ${agents[*]:-} $nats_pid 2>/dev/null || true; kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.5
for i in 1 2; do
  "$BIN" agent --nats-url "nats://127.0.0.1:$nport" --agent-id "bench$i" > "$work/agent$i.log" 2>&1 &
  agents+=($!)
done
sleep 1
for a in "${agents[@]}"; do kill -0 "$a" 2>/dev/null || die "a loadpilot agent ended at its start"; done
varz() {
  curl -sf "http://127.0.0.1:$mport/varz" |
    /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["in_bytes"] + v["out_bytes"])' ||
    die "cannot read the NATS server's /varz"
}

one() {  # extra-args...: one run; sets RATE (requests/s), CPU and DURATION
  lp "$work/max.py" --target "$url" --duration "${SECS}s" --max-connections 50 --output text "$@"
  [[ "$(json_of "$RESULTS" "r['errors']")" == 0 ]] || die "errors in the run with $*"
  local figures
  figures=$(json_of "$RESULTS" "round(r['requests'] / r['duration_s']), r['duration_s']")
  read -r RATE DURATION <<< "$figures"
}

one --agents 2
pipes=$RATE
before=$(varz)
one --external-agents 2 --nats-url "nats://127.0.0.1:$nport"
nats=$RATE nats_cpu=$CPU nats_s=$DURATION
after=$(varz)
/usr/bin/python3 - "$pipes" "$nats" "$nats_cpu" "$nats_s" "$before" "$after" <<'PY'
import sys
pipes, nats, cpu, secs, before, after = map(float, sys.argv[1:])
print(f"--agents 2 (pipes):          {pipes:10.0f} req/s")
print(f"--external-agents 2 (NATS):  {nats:10.0f} req/s")
print(f"ratio NATS / pipes:          {nats / pipes:10.3f}  (goal >= 0.95)")
print(f"coordinator CPU per agent-second: {cpu / (2 * secs) * 1000:.1f} ms")
print(f"NATS bytes per agent-second:      {(after - before) / (2 * secs) / 1024:.1f} KiB")
PY
