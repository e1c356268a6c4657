#!/usr/bin/env bash
# Soak: 10,000 connections for 10 minutes against demo-api with 1 s latency.
# Samples the loadpilot process's RSS and open descriptors every 10 s and
# reports the RSS slope after warm-up (a least-squares fit, MB per minute)
# and whether descriptors grew. Not part of `make test`.
# Usage: bench/soak.sh [path/to/loadpilot]
# Environment: SOAK_SECONDS (default 600), SOAK_CONNECTIONS (default 10000),
#              SOAK_LATENCY_MS (default 1000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/engine/loadpilot}")
SECS=${SOAK_SECONDS:-600}
CONNS=${SOAK_CONNECTIONS:-10000}
LAT=${SOAK_LATENCY_MS:-1000}
# Each connection is a descriptor in each of the two processes.
want=$((CONNS + 1024))
hard=$(ulimit -Hn)
[[ "$hard" != unlimited && "$hard" -lt "$want" ]] && {
  echo "soak: needs $want open files per process, the hard limit is $hard" >&2; exit 2; }
ulimit -n "$want"
work=$(mktemp -d)
trap 'kill ${api:-} ${lp:-} 2>/dev/null; rm -rf "$work"' EXIT

"$BIN" demo-api --port 0 --threads 1 --latency-ms "$LAT" > "$work/api.log" 2>&1 &
api=$!
for _ in $(seq 100); do grep -q "listening on" "$work/api.log" && break; sleep 0.05; done
api_url=$(grep -o 'http://[0-9.:]*' "$work/api.log") || { echo "bench: demo-api did not start" >&2; exit 1; }

# Enough arrivals to keep every connection busy: CONNS per latency, a
# little under so the run is paced, not overloaded.
RPS=$((CONNS * 1000 / LAT * 9 / 10))
cat > "$work/soak.py" <<PY
from loadpilot import VUser, scenario, task

@scenario(rps=$RPS, duration="${SECS}s", mode="constant")
class Soak(VUser):
    @task
    def product(self, client):
        client.get("/api/products/1")
PY
"$BIN" run "$work/soak.py" --target "$api_url" --max-connections "$CONNS" --no-metrics \
  --no-report --output text --results-json "$work/r.json" > "$work/run.log" 2>&1 &
lp=$!
echo "== soak: ${SECS}s, $RPS iterations/s, up to $CONNS connections, demo-api ${LAT} ms"
: > "$work/samples"
start=$(date +%s)
while kill -0 "$lp" 2>/dev/null; do
  now=$(($(date +%s) - start))
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$lp/status" 2>/dev/null || echo 0)
  fds=$(ls "/proc/$lp/fd" 2>/dev/null | wc -l || echo 0)
  [[ "$rss" != 0 ]] && echo "$now $rss $fds" >> "$work/samples"
  sleep 10
done
rc=0
wait "$lp" || rc=$?
# A soak that drops or fails fails its verdict (exit code 1) and is still
# measured; anything else (invalid input, a crash) has no figures to give.
[[ $rc == 0 || $rc == 1 ]] || { echo "bench: loadpilot exited with code $rc:" >&2; tail -20 "$work/run.log" >&2; exit 1; }
# $work is new for this script run, so r.json can only be this run's.
[[ -s "$work/r.json" ]] || { echo "bench: the run wrote no results file" >&2; exit 1; }
/usr/bin/python3 - "$work/samples" "$work/r.json" <<'PY'
import json, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
warm = [r for r in rows if r[0] >= 60] or rows
n = len(warm)
xs = [r[0] / 60 for r in warm]
ys = [r[1] / 1024 for r in warm]
mx, my = sum(xs) / n, sum(ys) / n
den = sum((x - mx) ** 2 for x in xs) or 1
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den
fds = [r[2] for r in warm]
r = json.load(open(sys.argv[2]))
it = r["iterations"]
print(f"samples {len(rows)}  RSS after warm-up {min(ys):.1f}..{max(ys):.1f} MB  "
      f"slope {slope:+.3f} MB/min")
print(f"descriptors after warm-up {min(fds)}..{max(fds)} (first {fds[0]}, last {fds[-1]})")
print(f"requests {r['requests']}  errors {r['errors']}  started {it['started']}  "
      f"dropped {it['dropped']}  cut off {it['cut_off']}  p50 {r['latency']['p50_ms']:.1f} ms  "
      f"p99 {r['latency']['p99_ms']:.1f} ms")
PY
