# Shared set-up for the benchmark scripts (sourced, not run).
# Sets BIN, work (a temporary folder removed on exit) and url (an nginx with
# one worker on a free loopback port, serving bench/nginx.conf.in), and
# defines die, fresh, cpu, lp, json_of and start_demo_api.
#
# A benchmark must not report a figure that this run did not measure: every
# tool's exit code is checked, and every results file is read from a path
# no earlier command wrote (fresh), after checking that the run wrote it.
# Anything else ends the script with "bench: ..." and exit code 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/engine/loadpilot}")
SECS=${BENCH_SECONDS:-10}
work=$(mktemp -d)
# `|| true`: under set -e a failing kill would replace the script's exit code.
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; kill ${api:-} 2>/dev/null || true; rm -rf "$work"' EXIT

die() {  # message...: ends the benchmark loudly
  echo "bench: $*" >&2
  exit 1
}

fresh() {  # name: a path under $work that no command has written yet
  local dir
  dir=$(mktemp -d "$work/run.XXXXXX")
  echo "$dir/$1"
}

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/@PORT@/$port/" -e "s#@DIR@#$work#g" bench/nginx.conf.in > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
sleep 0.5
url="http://127.0.0.1:$port"

# cpu command...: runs it under /usr/bin/time; sets CPU (user+sys seconds),
# RSS (peak kB), WALL (seconds) and OUT (a fresh file with its stdout and stderr). A
# non-zero exit code ends the benchmark (BENCH_OK_CODES lists others that
# are fine for this one command, e.g. "0 1"). Not to be called in a
# subshell: the variables are the result.
cpu() {
  OUT=$(fresh out)
  local times rc ok=" ${BENCH_OK_CODES:-0} "
  times=$(fresh time)
  rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$times" "$@" > "$OUT" 2>&1 || rc=$?
  if [[ "$ok" != *" $rc "* ]]; then
    echo "bench: $1 exited with code $rc; its output:" >&2
    tail -20 "$OUT" >&2
    die "$* failed"
  fi
  # The last line: time writes "Command exited with non-zero status N" first.
  [[ -s "$times" ]] || die "no timing of $*"
  read -r WALL CPU RSS < <(tail -1 "$times" | awk '{printf "%.2f %.2f %d\n", $1, $2 + $3, $4}')
}

# lp scenario.py args...: `loadpilot run` under cpu with --results-json at
# a fresh path; sets CPU, RSS, OUT and RESULTS (the results file, checked
# to exist and to hold this run's figures).
lp() {
  RESULTS=$(fresh results.json)
  cpu "$BIN" run "$@" --no-metrics --no-report --results-json "$RESULTS"
  [[ -s "$RESULTS" ]] || die "loadpilot run $* wrote no results file ($RESULTS)"
}

json_of() {  # file expression: prints the Python expression of r (the file's JSON)
  /usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print($2)" "$1" ||
    die "cannot read $2 from $1"
}

start_demo_api() {  # demo-api options...: starts it on a free port; sets api (pid) and api_url
  local log
  log=$(fresh api.log)
  "$BIN" demo-api --port 0 --threads 1 "$@" > "$log" 2>&1 &
  api=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$log" && break
    kill -0 "$api" 2>/dev/null || die "demo-api ended at its start: $(cat "$log")"
    sleep 0.05
  done
  api_url=$(grep -o 'http://[0-9.:]*' "$log") || die "demo-api did not start: $(cat "$log")"
}
