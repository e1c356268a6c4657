#!/usr/bin/env bash
# Python VUsers vs Locust, side by side against the same nginx on loopback, in
# one run. Not part of `make test` (benchmarks measure; tests assert).
# Usage: bench/python_vs_locust.sh [path/to/loadpilot]
# Environment: BENCH_SECONDS (default 10), BENCH_USERS (default 64).
# Needs nginx and Debian's python3-locust (/usr/bin/python3 -m locust).
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
  "$BIN" run "$work/$f.py" --target "$url" --dry-run |
    /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin)['tasks'][0]; print(f'$f: {t[\"runtime\"]} ({t[\"reason\"]})')"
done

lp() {  # scenario, extra args...: runs LoadPilot, prints "REQ_PER_S CPU RSS_KB"
  local s=$1; shift
  read -r c r < <(cpu "$BIN" run "$work/$s.py" --target "$url" --duration "${SECS}s" \
    --workers 1 --max-connections "$USERS" --no-metrics --no-report --output text --results-json "$work/$s.json" "$@")
  echo "$(/usr/bin/python3 -c "import json; r = json.load(open('$work/$s.json')); print(round(r['rps']['actual']), r['requests'])") $c $r"
}

echo
echo "== 1. unlimited rate, $USERS users/connections, ${SECS}s, nginx 1 worker"
read -r lc_cpu lc_rss < <(cpu /usr/bin/python3 -m locust -f "$work/locustfile.py" --headless \
  -u "$USERS" -r "$USERS" -t "${SECS}s" -H "$url" --only-summary --csv "$work/locust")
read -r locust_rps locust_total < <(/usr/bin/python3 -c "
import csv; rows = list(csv.DictReader(open('$work/locust_stats.csv')))
agg = [r for r in rows if r['Name'] == 'Aggregated'][0]
print(round(float(agg['Requests/s'])), agg['Request Count'])")
read -r py_rps py_total py_cpu py_rss < <(lp python)
read -r nat_rps nat_total nat_cpu nat_rss < <(lp native)
read -r hk_rps hk_total hk_cpu hk_rss < <(lp hooks)
# The same two Python variants in two agent processes (one Python thread
# each); CPU is the coordinator's and its agents' together, RSS the largest
# process's.
read -r py2_rps py2_total py2_cpu py2_rss < <(lp python --processes 2)
read -r hk2_rps hk2_total hk2_cpu hk2_rss < <(lp hooks --processes 2)
/usr/bin/python3 - <<PY
rows = [("locust (FastHttpUser, 1 process)", $locust_rps, $locust_total, $lc_cpu, $lc_rss),
        ("loadpilot python task", $py_rps, $py_total, $py_cpu, $py_rss),
        ("loadpilot native fast path", $nat_rps, $nat_total, $nat_cpu, $nat_rss),
        ("loadpilot python + on_start + check", $hk_rps, $hk_total, $hk_cpu, $hk_rss),
        ("loadpilot python task, 2 processes", $py2_rps, $py2_total, $py2_cpu, $py2_rss),
        ("loadpilot python + hooks, 2 processes", $hk2_rps, $hk2_total, $hk2_cpu, $hk2_rss)]
for name, rps, total, cpu, rss in rows:
    print(f"{name:<38} {rps:>9.0f} req/s   CPU {cpu:5.2f} s = {cpu / total * 1e6:5.1f} us/req"
          f"   RSS {rss / 1024:6.1f} MB")
print(f"ratio python task / locust:          {$py_rps / $locust_rps:.2f}, 2 processes {$py2_rps / $locust_rps:.2f}  (goal >= 10)")
print(f"ratio python+hooks / native:         {$hk_rps / $nat_rps:.2f}, 2 processes {$hk2_rps / $nat_rps:.2f}  (goal >= 0.5)")
PY

echo
echo "== 2. added latency of the Python path at 5,000 iterations/s (constant, ${SECS}s)"
for s in native hooks; do
  "$BIN" run "$work/$s.py" --target "$url" --rps 5000 --mode constant --duration "${SECS}s" \
    --no-metrics --no-report --output text --results-json "$work/$s-5k.json" > "$work/out" 2>&1 || true
done
/usr/bin/python3 - "$work/native-5k.json" "$work/hooks-5k.json" <<'PY'
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
read -r _ rss < <(cpu "$BIN" run "$work/hooks.py" --target "$api_url" --rps 5000 --mode constant \
  --duration 6s --max-connections 500 --no-metrics --no-report --output text --results-json "$work/rss.json")
/usr/bin/python3 - "$work/rss.json" "$rss" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
it = r["iterations"]
# No iteration can finish within the run (2 s responses behind a queue), so
# every started arrival created its own VUser, and drops mean the pool was full.
print(f"VUsers resident {it['started']} (pool limit 10000; {it['dropped']} arrivals dropped "
      f"with the pool full)   peak RSS {int(sys.argv[2]) / 1024:.1f} MB   "
      f"(one Python thread, no thread per VUser)")
PY
