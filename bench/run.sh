#!/usr/bin/env bash
# Side-by-side benchmarks: LoadPilot vs wrk against the same nginx on
# loopback, in one run. Not part of `make test` (benchmarks measure; tests
# assert). Usage: bench/run.sh [path/to/loadpilot]   (or: make bench)
# Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50).
source "$(dirname "$0")/lib.sh"
CONNS=${BENCH_CONNECTIONS:-50}
cat > "$work/one.py" <<'PY'
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s")
class Tiny(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")
PY
sed -e 's#/tiny#/api/products/1#' -e 's/class Tiny/class Product/' "$work/one.py" > "$work/product.py"

echo "== 1. unlimited rate, 1 thread, $CONNS connections, ${SECS}s, nginx 1 worker"
cpu wrk -t1 -c"$CONNS" -d"${SECS}s" "$url/tiny"
wrk_cpu=$CPU wrk_rss=$RSS
wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$OUT")
wrk_total=$(awk '/requests in/ {print $1}' "$OUT")
[[ -n "$wrk_rps" && -n "$wrk_total" ]] || die "wrk printed no figures: $(cat "$OUT")"
# wrk counts non-2xx answers and socket errors apart; any means the figure
# is not the clean rate it claims.
! grep -qE 'Non-2xx|Socket errors' "$OUT" || die "wrk saw errors: $(cat "$OUT")"
lp "$work/one.py" --target "$url" --rps max --duration "${SECS}s" --workers 1 \
  --max-connections "$CONNS" --output text
lp_cpu=$CPU lp_rss=$RSS
figures=$(json_of "$RESULTS" "round(r['rps']['actual']), r['requests'], r['errors']")
read -r lp_rps lp_total lp_err <<< "$figures"
[[ "$lp_err" == 0 && "$lp_total" -gt 0 ]] || die "loadpilot: $lp_total requests, $lp_err errors"
/usr/bin/python3 - <<PY
wrk_rps, lp_rps = float("$wrk_rps"), float("$lp_rps")
wrk_cpu100k = float("$wrk_cpu") / float("$wrk_total") * 1e5
lp_cpu100k = float("$lp_cpu") / float("$lp_total") * 1e5
print(f"wrk       {wrk_rps:>10.0f} req/s   CPU {wrk_cpu100k:.2f} s/100k req   RSS {int('$wrk_rss')/1024:.1f} MB")
print(f"loadpilot {lp_rps:>10.0f} req/s   CPU {lp_cpu100k:.2f} s/100k req   RSS {int('$lp_rss')/1024:.1f} MB   errors $lp_err")
print(f"ratio loadpilot/wrk: requests/s {lp_rps / wrk_rps:.3f}, "
      f"requests per CPU-second {wrk_cpu100k / lp_cpu100k:.3f}")
PY

echo
echo "== 2. fixed 10,000 iterations/s for 30 s (constant mode)"
# Dropped arrivals fail the run's verdict (exit code 1); they are what this
# measures, and are printed.
BENCH_OK_CODES="0 1" lp "$work/one.py" --target "$url" --rps 10000 --mode constant --duration 30s \
  --output text
/usr/bin/python3 - "$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
it = r["iterations"]
planned, started = it["planned"], it["started"]
print(f"planned {planned:.0f}  started {started}  finished {it['finished']}  "
      f"deviation {100 * (started - planned) / planned:+.3f}%")
print(f"late (>1 ms after due) {it['late']} = {100 * it['late'] / max(1, started):.3f}% of starts "
      f"(p99 start lag <= 1 ms iff this is <= 1%)   dropped {it['dropped']}")
print(f"latency p50 {r['latency']['p50_ms']:.3f} ms  p99 {r['latency']['p99_ms']:.3f} ms")
PY

echo
echo "== 3. peak RSS with 1000 open connections (demo-api, 200 ms latency, 5000/s)"
start_demo_api --latency-ms 200
lp "$work/product.py" --target "$api_url" --rps 5000 --mode constant --duration 8s \
  --max-connections 1000 --output ndjson
/usr/bin/python3 - "$RESULTS" "$RSS" "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
conns = max(json.loads(l).get("connections", 0) for l in open(sys.argv[3]) if l.startswith("{"))
print(f"requests {r['requests']}  errors {r['errors']}  p50 {r['latency']['p50_ms']:.1f} ms  "
      f"open connections (peak) {conns}  peak RSS {int(sys.argv[2]) / 1024:.1f} MB")
PY
