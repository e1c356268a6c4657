#!/usr/bin/env bash
# What measuring the generator's own health costs (docs/engine.md#generator-health):
# a run at RATE requests/s (default 10,000) against demo-api, sampled by
# `perf record`, and the share of the loadpilot process's samples that fall
# in the health code (the lag probe, the CPU and steal readings, each
# thread's run-queue wait from schedstat, the recording of them); then what
# one schedstat read costs in the kernel, which perf's user-side symbols do
# not show. Usage: bench/generator_health.sh [BIN] [RATE]
# Needs perf (Debian: linux-perf). BENCH_SECONDS sets the run's length.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/engine/loadpilot}")
RATE=${2:-10000}
SECS=${BENCH_SECONDS:-8}
command -v perf > /dev/null || { echo "perf is not installed (apt-get install linux-perf)"; exit 2; }
work=$(mktemp -d)
trap 'kill ${api:-} 2>/dev/null; rm -rf "$work"' EXIT

"$BIN" demo-api --port 0 > "$work/api.log" 2>&1 &
api=$!
for _ in $(seq 100); do grep -q "listening on" "$work/api.log" && break; sleep 0.05; done
url=$(grep -o 'http://[^ ]*' "$work/api.log")
cat > "$work/health.py" <<PY
from loadpilot import VUser, scenario, task

@scenario(rps=$RATE, duration="${SECS}s", mode="constant")
class Health(VUser):
    @task
    def health(self, client):
        client.get("/health")
PY
LOADPILOT_NO_METRICS=1 perf record -q -F 4000 -o "$work/perf.data" -- \
  "$BIN" run "$work/health.py" --target "$url" --no-report --output text \
  --results-json "$work/r.json" > "$work/run.log" 2>&1 ||
  { echo "bench: the run under perf failed:" >&2; tail -20 "$work/run.log" >&2; exit 1; }
# $work is new for this script run, so r.json can only be this run's.
[[ -s "$work/r.json" ]] || { echo "bench: the run wrote no results file" >&2; exit 1; }
# Self samples per symbol of the loadpilot process (every thread, kernel
# time included); the health code's symbols by name.
perf report -i "$work/perf.data" --no-children --comm loadpilot,lp-worker-0,lp-worker-1,lp-worker-2,lp-worker-3 \
  --sort symbol --stdio -F sample,symbol 2> /dev/null | grep -E '^ +[0-9]' > "$work/symbols" || true
total=$(awk '{s += $1} END {print s + 0}' "$work/symbols")
[[ "$total" -gt 0 ]] || { echo "bench: perf recorded no samples of the loadpilot process" >&2; exit 1; }
# No sample in the health code is a result (a grep that matches nothing is
# not a failure of the benchmark).
health=$({ grep -E 'arm_probe|record_lag|record_busy|record_python|record_cpu_wait|HostUsage|thread_cpu|read_ticks|process_cpu|RunQueueWait|schedstat' \
  "$work/symbols" || true; } | awk '{s += $1} END {print s + 0}')
achieved=$(/usr/bin/python3 -c "import json; r=json.load(open('$work/r.json')); print(r['rps']['actual'], r['generator']['cpu_mean'])")
echo "rate asked $RATE/s; achieved and the process's CPU per core: $achieved"
echo "samples of the loadpilot process: $total; in the generator-health code: $health"
grep -E 'arm_probe|record_lag|record_busy|record_python|record_cpu_wait|HostUsage|thread_cpu|read_ticks|process_cpu|RunQueueWait|schedstat' \
  "$work/symbols" | sed 's/^/  /' | cut -c1-120 || true
/usr/bin/python3 -c "
t, h = $total, $health
if not t: print('no samples')
elif h: print(f'health share of the process CPU: {100*h/t:.3f}%')
else: print(f'health share of the process CPU: no sample, under {300/t:.3f}% (95%)')"
# The kernel's share of a schedstat read (open, read, close of
# /proc/thread-self/schedstat), which the symbols above do not include:
# timed from Python, so an upper bound (the interpreter's own overhead is
# in it). Each engine thread reads it once a second.
/usr/bin/python3 -c "
import os, time
path = '/proc/thread-self/schedstat'
if not os.path.exists(path):
    print('schedstat: not on this kernel (the wait reads 0, nothing is spent)'); raise SystemExit
n = 20000
t = time.thread_time()
for _ in range(n):
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 128)
    os.close(fd)
us = (time.thread_time() - t) / n * 1e6
threads = os.cpu_count() + 1
print(f'schedstat read: {us:.1f} us of CPU each (upper bound); {threads} threads once a second: '
      f'{us * threads / 1e4:.4f}% of one core')"
