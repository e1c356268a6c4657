#!/usr/bin/env bash
# HTTP/2 side by side: LoadPilot vs h2load (Debian's nghttp2-client) against
# the same nginx with http2 (cleartext, prior knowledge) on loopback, with
# the same connections and streams per connection; then LoadPilot over
# HTTP/2 vs over HTTP/1.1 at one fixed rate, CPU per request. Not part of
# `make test` (benchmarks measure; tests assert).
# Usage: bench/http2.sh [path/to/loadpilot]
# Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 4),
# BENCH_STREAMS (default 32), BENCH_RATE (default 5000).
source "$(dirname "$0")/lib.sh"
CONNS=${BENCH_CONNECTIONS:-4}
STREAMS=${BENCH_STREAMS:-32}
RATE=${BENCH_RATE:-5000}

# A second nginx: the one lib.sh starts speaks HTTP/1.1 only.
h2port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/h2"
sed -e "s/@PORT@/$h2port http2/" -e "s#@DIR@#$work/h2#g" bench/nginx.conf.in > "$work/h2/nginx.conf"
sed -i 's/^  keepalive_requests 1000000;/  keepalive_requests 1000000;\n  http2_max_requests 1000000;\n  http2_max_concurrent_streams 256;/' "$work/h2/nginx.conf"
nginx -c "$work/h2/nginx.conf" -p "$work/h2"
trap 'kill $(cat "$work/nginx.pid" "$work/h2/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.5
h2url="http://127.0.0.1:$h2port"

cat > "$work/h2.py" <<PY
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s", http_version="2", max_streams=$STREAMS)
class Tiny(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")
PY

json() { json_of "$RESULTS" "$1"; }

echo "== 1. unlimited rate, 1 thread, $CONNS connections x $STREAMS streams, ${SECS}s, nginx 1 worker (h2c)"
cpu h2load -t1 -c"$CONNS" -m"$STREAMS" -D"$SECS" "$h2url/tiny"
h2_cpu=$CPU h2_rss=$RSS
h2_rps=$(awk '/^finished in/ {print $4}' "$OUT")
h2_total=$(awk '/^requests:/ {print $8}' "$OUT")
[[ -n "$h2_rps" && -n "$h2_total" ]] || die "h2load printed no figures: $(cat "$OUT")"
h2_failed=$(awk '/^requests:/ {print $10}' "$OUT")
[[ "$h2_failed" == 0 ]] || die "h2load: $h2_failed requests failed: $(cat "$OUT")"
lp "$work/h2.py" --target "$h2url" --duration "${SECS}s" --workers 1 --max-connections "$CONNS" \
  --output text
lp_cpu=$CPU lp_rss=$RSS
lp_rps=$(json "round(r['rps']['actual'])")
lp_total=$(json "r['requests']")
lp_err=$(json "r['errors']")
lp_proto=$(json "r['protocol']['name']")
/usr/bin/python3 - <<PY
h2_rps, lp_rps = float("$h2_rps"), float("$lp_rps")
h2_us = float("$h2_cpu") / float("$h2_total") * 1e6
lp_us = float("$lp_cpu") / float("$lp_total") * 1e6
print(f"h2load    {h2_rps:>10.0f} req/s   CPU {h2_us:.2f} µs/req   RSS {int('$h2_rss')/1024:.1f} MB")
print(f"loadpilot {lp_rps:>10.0f} req/s   CPU {lp_us:.2f} µs/req   RSS {int('$lp_rss')/1024:.1f} MB   errors $lp_err   $lp_proto")
print(f"ratio loadpilot/h2load: requests/s {lp_rps / h2_rps:.3f}, CPU per request {lp_us / h2_us:.3f}")
PY

echo
echo "== 2. fixed $RATE iterations/s for ${SECS}s, 1 thread: HTTP/2 ($CONNS connections) vs HTTP/1.1 (50 connections)"
for proto in 2 1.1; do
  # nginx's h2c port speaks HTTP/2 only: HTTP/1.1 goes to the first nginx.
  conns=$CONNS target=$h2url
  [[ $proto == 1.1 ]] && conns=50 target=$url
  lp "$work/h2.py" --target "$target" --rps "$RATE" --mode constant --duration "${SECS}s" \
    --workers 1 --max-connections "$conns" --http-version "$proto" --output text
  /usr/bin/python3 - "$RESULTS" "$CPU" "$proto" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu, proto = float(sys.argv[2]), sys.argv[3]
print(f"HTTP/{proto:<4} {r['requests']:>8} requests, errors {r['errors']}, CPU {cpu / r['requests'] * 1e6:.2f} µs/req, "
      f"p50 {r['latency']['p50_ms']:.3f} ms, p99 {r['latency']['p99_ms']:.3f} ms, {r['protocol']['name']}")
PY
done
