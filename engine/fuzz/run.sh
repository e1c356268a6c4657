#!/usr/bin/env bash
# Runs the libFuzzer harnesses, FUZZ_JOBS at a time (default: one per
# core), each for SECONDS.
#   engine/fuzz/run.sh BUILD_DIR SECONDS [NAME...]   (default: every harness)
# BUILD_DIR is the ASan build (`make fuzz` builds the harnesses in build-asan/).
# Each harness starts from its seeds in engine/fuzz/corpus/NAME/ plus what
# earlier runs found in BUILD_DIR/fuzz-corpus/NAME/ (new inputs go there,
# never into the source tree). A finding stops that harness, saves the input
# as BUILD_DIR/fuzz-artifacts/NAME-crash-* (or -leak-, -timeout-, -oom-) and
# makes the script exit 1 after the remaining harnesses ran; docs/testing.md
# says how to turn it into a regression input.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  mapfile -t names < <(sed -n 's/^LOADPILOT_FUZZ_DECLARE(\([a-z_]*\)).*/\1/p' "$src/fuzz_targets.inc")
fi

dict_for() {
  case $1 in
    response_parser | request_parser) echo "$src/dict/http.dict" ;;
    target) echo "$src/dict/url.dict" ;;
    *) echo "$src/dict/json.dict" ;;
  esac
}

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
for name in "${names[@]}"; do
  if [[ ! -x $build/engine/fuzz/fuzz_$name ]]; then
    echo "fuzz: $build/engine/fuzz/fuzz_$name not built (`make fuzz`, or cmake --build BUILD_DIR --target fuzz_harnesses in an ASan build)" >&2
    exit 2
  fi
done

# run_one NAME: one harness for SECONDS; prints its line and returns 1 on a
# finding.
run_one() {
  local name=$1 bin=$build/engine/fuzz/fuzz_$1 log=$build/fuzz-logs/$1.log start=$SECONDS
  mkdir -p "$build/fuzz-corpus/$name"
  # -timeout: an input taking 10 s is a hang, and a finding.
  # -print_funcs=0: keep the log to one line per event.
  if "$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -print_funcs=0 \
      -dict="$(dict_for "$name")" -artifact_prefix="$build/fuzz-artifacts/$name-" \
      "$build/fuzz-corpus/$name" "$src/corpus/$name" >"$log" 2>&1; then
    local runs corpus
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    corpus=$(ls "$build/fuzz-corpus/$name" | wc -l)
    echo "fuzz $name: ok, ${runs:-?} inputs in $((SECONDS - start)) s, $corpus found inputs kept"
  else
    { echo "fuzz $name: FINDING after $((SECONDS - start)) s (log: $log)"
      { grep -A2 "fuzz invariant violated" "$log" || true
        grep -E "ERROR: |SUMMARY: |Test unit written" "$log" || true; } | head -10 | sed 's/^/  /'
    } >&2
    return 1
  fi
}

# FUZZ_JOBS harnesses at a time (default: one per core); each is one
# process on one core, so on 2 cores two run in the time of one.
jobs=${FUZZ_JOBS:-$(nproc)}
declare -A running=()
failed=()
reap() {  # waits for one harness to end and notes a finding
  local pid status=0
  wait -n -p pid || status=$?
  ((status == 0)) || failed+=("${running[$pid]}")
  unset "running[$pid]"
}
for name in "${names[@]}"; do
  while ((${#running[@]} >= jobs)); do reap; done
  run_one "$name" &
  running[$!]=$name
done
while ((${#running[@]} > 0)); do reap; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: findings in ${failed[*]}; inputs in $build/fuzz-artifacts/" >&2
  exit 1
fi
