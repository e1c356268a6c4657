#!/usr/bin/env bash
# Pacing of a stages table against a constant run at the same peak: the
# share of iterations that started more than 1 ms late (<= 1% means a p99
# start lag of at most 1 ms), against the same nginx on loopback.
# Usage: bench/stages.sh [path/to/loadpilot]   Environment: BENCH_PEAK
# (default 5000 iterations/s).
source "$(dirname "$0")/lib.sh"
PEAK=${BENCH_PEAK:-5000}
half=$((PEAK / 2))
cat > "$work/constant.py" <<PY
from loadpilot import VUser, scenario, task

@scenario(rps=$PEAK, duration="20s", mode="constant")
class Constant(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")
PY
# Five stages, 20 s in all, peaking at the same rate.
cat > "$work/stages.py" <<PY
from loadpilot import VUser, scenario, task

@scenario(stages=[("4s", $half), ("4s", $half), ("4s", $PEAK), ("4s", $PEAK), ("4s", 0)])
class Stages(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")
PY
for name in constant stages; do
  "$BIN" run "$work/$name.py" --target "$url" --no-metrics --no-report --output text \
    --results-json "$work/$name.json" > "$work/out" 2>&1 || true
  /usr/bin/python3 - "$work/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
it = r["iterations"]
planned, started = it["planned"], it["started"]
print(f"{sys.argv[2]:<9} planned {planned:.0f}  started {started}  "
      f"deviation {started - planned:+.0f}  late (>1 ms) {it['late']} = "
      f"{100 * it['late'] / max(1, started):.3f}%  dropped {it['dropped']}  "
      f"latency p99 {r['latency']['p99_ms']:.3f} ms")
PY
done
