#!/usr/bin/env bash
# Python VUsers vs Locust, side by side against the same nginx on loopback, in
# one run. Not part of `make test` (benchmarks measure; tests assert).
# Usage: bench/python_vs_locust.sh [path/to/loadpilot]
# Environment: BENCH_SECONDS (default 10), BENCH_USERS (default 64).
# Needs nginx and Debian's python3-locust (/usr/bin/python3 -m locust).
# Any tool that fails, or a results file this run did not write, ends the
# script with "bench: ..." and exit code 1 (bench/lib.sh).
source "$(dirname "$0")/lib.sh"
USERS=${BENCH_USERS:-64}

# The same one-request task four ways. The path is built per iteration, so
# the native fast path cannot apply (dry-run confirms it below).
cat > "$work/locustfile.py" <<'PY'
import random
from locust import FastHttpUser, constant, task

class Dynamic(FastHttpUser):
    wait_time = constant(0)

    @task
    def tiny(self):
        self.client.get(f"/tiny?id={random.randint(1, 1_000_000)}", name="tiny")
PY
cat > "$work/python.py" <<'PY'
import random
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s")
class Dynamic(VUser):
    @task
    def tiny(self, client):
        client.get(f"/tiny?id={random.randint(1, 1_000_000)}", name="tiny")
PY
cat > "$work/native.py" <<'PY'
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s")
class Fixed(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny?id=1", name="tiny")
PY
cat > "$work/hooks.py" <<'PY'
import random
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s", max_vusers=10000)
class Hooks(VUser):
    def on_start(self, client):
        self.headers = {"X-User": str(random.randint(1, 1000))}
        client.get("/tiny?login=1")

    @task
    def tiny(self, client):
        client.get(f"/tiny?id={random.randint(1, 1_000_000)}", headers=self.headers,
                   name="tiny")

    def check_tiny(self, status_code, body):
        assert status_code == 200 and body["ok"] is True
PY
for f in python native hooks; do
  "$BIN" run "$work/$f.py" --target "$url" --dry-run > "$work/$f.plan" || die "--dry-run of $f.py failed"
  /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin)['tasks'][0]; print(f'$f: {t[\"runtime\"]} ({t[\"reason\"]})')" \
    < "$work/$f.plan"
done

rows=""
run() {  # label scenario extra-args...: one LoadPilot run, added to $rows
  local label=$1 s=$2 agents
  shift 2
  lp "$work/$s.py" --target "$url" --duration "${SECS}s" --max-connections "$USERS" \
    --output text "$@"
  # The agent processes the run used, from its start line ("2 agents, ...";
  # one process says only its workers).
  agents=$(grep -o -m1 '[0-9]* agents' "$OUT" | cut -d' ' -f1 || true)
  rows+="$label|${agents:-1}|$(json_of "$RESULTS" "round(r['rps']['actual']), r['requests'], r['errors']" |
    tr ' ' '|')|$CPU|$RSS"$'\n'
}

echo
echo "== 1. unlimited rate, $USERS users/connections, ${SECS}s, nginx 1 worker"
locust_csv=$(fresh locust)
cpu /usr/bin/python3 -m locust -f "$work/locustfile.py" --headless \
  -u "$USERS" -r "$USERS" -t "${SECS}s" -H "$url" --only-summary --csv "$locust_csv"
[[ -s "${locust_csv}_stats.csv" ]] || die "locust wrote no ${locust_csv}_stats.csv"
rows+="locust (FastHttpUser, 1 process)|1|$(/usr/bin/python3 -c "
import csv; rows = list(csv.DictReader(open('${locust_csv}_stats.csv')))
agg = [r for r in rows if r['Name'] == 'Aggregated'][0]
print(round(float(agg['Requests/s'])), agg['Request Count'], agg['Failure Count'], sep='|')")|$CPU|$RSS"$'\n'
# One process with one worker thread: the figures per process.
run "python task, --agents 1" python --agents 1 --workers 1
run "native fast path, --agents 1" native --agents 1 --workers 1
run "python + hooks, --agents 1" hooks --agents 1 --workers 1
# Neither --agents nor --workers: what a run gets by default (--agents auto).
run "python task, default" python
run "python + hooks, default" hooks
# Two agent processes asked for, one worker each. CPU is the coordinator's
# and its agents' together, RSS the largest process's.
run "python task, --agents 2" python --agents 2 --workers 2
/usr/bin/python3 - "$rows" <<'PY'
import sys
rows = {}
for line in sys.argv[1].splitlines():
    name, agents, rps, total, errors, cpu, rss = line.split("|")
    r = rows[name] = dict(agents=int(agents), rps=float(rps), total=int(total),
                          errors=int(errors), cpu=float(cpu), rss=int(rss))
    print(f"{name:<33} {r['agents']:>2} proc {r['rps']:>9.0f} req/s  errors {r['errors']:<3}"
          f" CPU {r['cpu']:6.2f} s = {r['cpu'] / max(1, r['total']) * 1e6:5.1f} us/req"
          f"   RSS {r['rss'] / 1024:6.1f} MB")
    if r["total"] == 0 or r["errors"]:
        sys.exit(f"bench: {name}: {r['total']} requests, {r['errors']} errors")
us = {k: v["cpu"] / v["total"] * 1e6 for k, v in rows.items()}
loc, py, nat = "locust (FastHttpUser, 1 process)", "python task, --agents 1", "native fast path, --agents 1"
hk, pyd, hkd = "python + hooks, --agents 1", "python task, default", "python + hooks, default"
py2 = "python task, --agents 2"
print(f"CPU per request, python task / locust: {us[py] / us[loc]:.3f}  (goal <= 0.1)")
print(f"ratio python task / locust: 1 process {rows[py]['rps'] / rows[loc]['rps']:.2f}, "
      f"default ({rows[pyd]['agents']} processes) {rows[pyd]['rps'] / rows[loc]['rps']:.2f}, "
      f"--agents 2 {rows[py2]['rps'] / rows[loc]['rps']:.2f}  (goal: default >= 10)")
print(f"ratio python+hooks / native: 1 process {rows[hk]['rps'] / rows[nat]['rps']:.2f}, "
      f"default ({rows[hkd]['agents']} processes) {rows[hkd]['rps'] / rows[nat]['rps']:.2f}"
      f"  (goal: 1 process >= 0.5)")
PY

echo
echo "== 2. added latency of the Python path at 5,000 iterations/s (constant, ${SECS}s, one process)"
# A run that could not start every arrival fails its verdict (exit code 1)
# and is still measured: its started and dropped counts are printed.
BENCH_OK_CODES="0 1" lp "$work/native.py" --target "$url" --rps 5000 --mode constant \
  --duration "${SECS}s" --agents 1 --output text
native_5k=$RESULTS
BENCH_OK_CODES="0 1" lp "$work/hooks.py" --target "$url" --rps 5000 --mode constant \
  --duration "${SECS}s" --agents 1 --output text
hooks_5k=$RESULTS
/usr/bin/python3 - "$native_5k" "$hooks_5k" <<'PY'
import json, sys
native, hooks = (json.load(open(p)) for p in sys.argv[1:])
for name, r in (("native", native), ("python + on_start + check", hooks)):
    it = r["iterations"]
    print(f"{name:<27} p50 {r['latency']['p50_ms'] * 1000:7.0f} us  p99 {r['latency']['p99_ms'] * 1000:7.0f} us"
          f"   started {it['started']} dropped {it['dropped']} errors {r['errors']}")
print(f"p50 added by the Python path: {(hooks['latency']['p50_ms'] - native['latency']['p50_ms']) * 1000:.0f} us"
      " (goal <= 100 us)")
PY

echo
echo "== 3. 10,000 resident VUsers (demo-api, 2 s latency, 500 connections, 5,000 iterations/s for 6 s)"
start_demo_api --latency-ms 2000
# The pool fills and arrivals are dropped by design here, which may fail
# the run's verdict (exit code 1): not a failure of the benchmark.
BENCH_OK_CODES="0 1" lp "$work/hooks.py" --target "$api_url" --rps 5000 --mode constant \
  --duration 6s --max-connections 500 --agents 1 --output text
/usr/bin/python3 - "$RESULTS" "$RSS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
it = r["iterations"]
# No iteration can finish within the run (2 s responses behind a queue), so
# every started arrival created its own VUser, and drops mean the pool was full.
print(f"VUsers resident {it['started']} (pool limit 10000; {it['dropped']} arrivals dropped "
      f"with the pool full)   peak RSS {int(sys.argv[2]) / 1024:.1f} MB   "
      f"(one Python thread, no thread per VUser)")
PY
