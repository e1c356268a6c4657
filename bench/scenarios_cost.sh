#!/usr/bin/env bash
# The cost of several scenarios in one run: 3 scenarios of 4 tasks each
# (docs/scenarios.md#several-scenarios-in-one-run) against the same traffic
# as one scenario of 12 tasks, against the same nginx on loopback, in
# alternating pairs (BENCH_PAIRS, default 3) so that a busy machine weighs
# on both alike. Prints the CPU per request of each run and the ratio.
# Usage: bench/scenarios_cost.sh [path/to/loadpilot]   Environment:
# BENCH_RATE (the run's total, default 3000 iterations/s), BENCH_SECONDS.
source "$(dirname "$0")/lib.sh"
RATE=${BENCH_RATE:-3000}
PAIRS=${BENCH_PAIRS:-3}
part=$((RATE / 3))
tasks() {  # prefix: four native tasks, one path each
  for i in 1 2 3 4; do
    printf '    @task\n    def %s%d(self, client):\n        client.get("/tiny?%s%d")\n\n' \
      "$1" "$i" "$1" "$i"
  done
}
{
  echo "from loadpilot import VUser, scenario, task"
  for s in a b c; do
    printf '\n@scenario(rps=%d, duration="%ss", mode="constant")\nclass S%s(VUser):\n' \
      "$part" "$SECS" "$s"
    tasks "$s"
  done
} > "$work/three.py"
{
  echo "from loadpilot import VUser, scenario, task"
  printf '\n@scenario(rps=%d, duration="%ss", mode="constant")\nclass One(VUser):\n' "$RATE" "$SECS"
  for s in a b c; do tasks "$s"; done
} > "$work/one.py"
per_request() {  # label: CPU per request of the last lp run, in microseconds
  local requests
  requests=$(json_of "$RESULTS" 'r["requests"]')
  [[ "$requests" -gt 0 ]] || die "$1: no requests"
  /usr/bin/python3 -c "import sys; print(f'{float(sys.argv[1]) * 1e6 / int(sys.argv[2]):.2f}')" \
    "$CPU" "$requests"
}
one_total=0 three_total=0
for pair in $(seq "$PAIRS"); do
  lp "$work/one.py" --target "$url" --output text
  one=$(per_request one)
  one_req=$(json_of "$RESULTS" 'r["requests"]')
  lp "$work/three.py" --all --target "$url" --output text
  three=$(per_request three)
  three_req=$(json_of "$RESULTS" 'r["requests"]')
  [[ "$(json_of "$RESULTS" 'len(r["scenarios"])')" == 3 ]] || die "the run of three ran $(json_of "$RESULTS" 'len(r["scenarios"])') scenarios"
  echo "pair $pair: one scenario $one µs CPU/request ($one_req requests), three scenarios $three µs ($three_req requests)"
  one_total=$(/usr/bin/python3 -c "print($one_total + $one)")
  three_total=$(/usr/bin/python3 -c "print($three_total + $three)")
done
/usr/bin/python3 -c "import sys; o, t = float(sys.argv[1]), float(sys.argv[2]); print(f'mean CPU per request: one {o / $PAIRS:.2f} µs, three {t / $PAIRS:.2f} µs, ratio {t / o:.3f} (goal <= 1.05)')" "$one_total" "$three_total"
