#!/usr/bin/env bash
# Tests of the container images (`make test-images`; docs/kubernetes.md#container-images).
# Not a ctest test: it needs a Docker daemon and the images `make images`
# builds, so `make test` does not run it.
#
#   engine/tests/images/test_images.sh [HOST_LOADPILOT]
#
# HOST_LOADPILOT (default build/engine/loadpilot) is the host build the
# images are compared with and that coordinates the distributed run.
# Images: loadpilot-coordinator:TAG and loadpilot-agent:TAG, TAG from
# $IMAGE_TAG (default local). Every container runs with --network host and
# every socket is on 127.0.0.1, but for the last checks', which are on two
# user-defined networks of their own that reach nothing beyond this
# machine (--internal). Each container the test starts carries the
# label loadpilot-test-images=PID and is removed on exit (with the two
# Docker networks it makes, labelled the same), also on failure
# or Ctrl-C; every wait is bounded. Exit code 0 when every check passed,
# 1 on the first failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
source "$ROOT/scripts/docker-daemon.sh"

BIN=$(realpath "${1:-$ROOT/build/engine/loadpilot}")
TAG="${IMAGE_TAG:-local}"
COORD="loadpilot-coordinator:$TAG"
AGENT="loadpilot-agent:$TAG"
LABEL="loadpilot-test-images=$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/loadpilot-test-images.XXXXXX")
host_pids=()

cleanup() {
  local ids
  ids=$(timeout 30 "$DOCKER" ps -aq --filter "label=$LABEL" 2>/dev/null || true)
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 "$DOCKER" rm -f $ids >/dev/null 2>&1 || true
  fi
  ids=$(timeout 30 "$DOCKER" network ls -q --filter "label=$LABEL" 2>/dev/null || true)
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    timeout 60 "$DOCKER" network rm $ids >/dev/null 2>&1 || true
  fi
  local pid
  for pid in "${host_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${host_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "test_images: interrupted" >&2; exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

# docker with a time limit: a daemon that hangs fails the test, not CI.
dk() { timeout "${DK_TIMEOUT:-60}" "$DOCKER" "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; fails the test after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then fail "$what: not within $limit s"; fi
    sleep 0.2
  done
}

http_get() {  # URL: prints the body; fails on a status other than 2xx
  python3 -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r: sys.stdout.write(r.read().decode())' "$1"
}

# start_nats: a nats-server of its own on a free loopback port; sets nats_port.
start_nats() {
  nats_port=$(free_port)
  nats-server -a 127.0.0.1 -p "$nats_port" >"$WORK/nats-$nats_port.log" 2>&1 &
  host_pids+=($!)
  wait_for 10 "nats-server on 127.0.0.1:$nats_port" port_open "$nats_port"
}
port_open() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }

# start_demo_api: the host build's demo-api on a free loopback port; sets target.
start_demo_api() {
  local log
  log=$(mktemp "$WORK/demo.XXXXXX")
  "$BIN" demo-api --host 127.0.0.1 --port 0 --threads 1 >"$log" 2>&1 &
  host_pids+=($!)
  wait_for 10 "demo-api on the host" grep -q 'http://127\.0\.0\.1:[0-9]' "$log"
  target=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1)
}

# run_shopper RESULTS CONTAINER WHAT OPTION...: the host build runs
# examples/shopper.py (Python tasks, on_start, async tasks) against $target
# at 40/s for 3 s with the OPTIONs that put it on agents; on failure shows
# the run's output and CONTAINER's log, and fails as WHAT.
run_shopper() {
  local results=$1 container=$2 what=$3 code=0
  shift 3
  LOADPILOT_NO_METRICS=1 timeout 120 "$BIN" run "$ROOT/examples/shopper.py" --target "$target" \
    --rps 40 --duration 3s --ramp-up 0s --mode constant "$@" \
    --output text --no-color --no-report --results-json "$results" >"$results.log" 2>&1 || code=$?
  if [[ $code -ne 0 ]]; then
    tail -n 30 "$results.log" >&2
    echo "--- $container:" >&2
    dk logs "$container" 2>&1 | tail -n 20 >&2
    fail "$what exited $code"
  fi
}

# shopper_counts_agree RESULTS AGENT_ID...: run_shopper's results against
# demo-api's /stats: 120 iterations, every request served, no error, a
# passed run, on_start/on_stop once per VUser, run on exactly AGENT_IDs.
shopper_counts_agree() {
  local results=$1
  shift
  http_get "$target/stats" >"$results.stats"
  python3 - "$results" "$results.stats" "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
stats = json.load(open(sys.argv[2]))
expected_ids = sorted(sys.argv[3:])
problems = []
its = r["iterations"]
if not its["started"] == its["finished"] == 120:
    problems.append(f"iterations {its}, expected 120 started and finished (40/s for 3 s)")
if r["requests"] != stats["total"]:
    problems.append(f"the run counted {r['requests']} requests, demo-api served {stats['total']}")
if r["errors"] != 0 or not r["passed"]:
    problems.append(f"{r['errors']} errors, passed {r['passed']}")
routes = stats["routes"]
if routes.get("POST /auth/login", 0) == 0 or routes["POST /auth/login"] != routes.get("POST /auth/logout"):
    problems.append(f"on_start/on_stop did not run once per VUser: {routes}")
ids = sorted(a["id"] for a in r["external_agents"]["agents"])
if ids != expected_ids:
    problems.append(f"external agents {ids}, expected {expected_ids}")
for p in problems:
    print("  " + p, file=sys.stderr)
print(f"  {r['requests']} requests = demo-api's total, {its['finished']} iterations on agents {ids}")
sys.exit(1 if problems else 0)
PY
}

# ---------------------------------------------------------------- set-up
[[ -x "$BIN" ]] || fail "no host build at $BIN (run make build)"
lp_docker_answers || fail "no Docker daemon answers $DOCKER (make images starts one)"
for image in "$COORD" "$AGENT"; do
  dk image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing (run make images)"
done
command -v nats-server >/dev/null || fail "nats-server is not installed (scripts/install-deps.sh)"

# ------------------------------------------- the two Dockerfiles agree
# Everything from the build stages to the runtime stage's ENTRYPOINT must
# be the same text, so BuildKit builds it once and both images hold the
# same binary.
stages() { sed -n '/^# ---- build stages/,/^ENTRYPOINT/p' "$1"; }
if ! diff <(stages "$ROOT/engine/Dockerfile.coordinator") <(stages "$ROOT/engine/Dockerfile.agent") \
    >"$WORK/stages.diff"; then
  cat "$WORK/stages.diff" >&2
  fail "engine/Dockerfile.coordinator and engine/Dockerfile.agent differ before their last section"
fi
[[ -n "$(stages "$ROOT/engine/Dockerfile.agent")" ]] || fail "no build stages marker in engine/Dockerfile.agent"
ok "both Dockerfiles share their build and runtime stages"

# ------------------------------------------- metadata, user, version
host_version=$("$BIN" --version)
for image in "$COORD" "$AGENT"; do
  entrypoint=$(dk image inspect -f '{{json .Config.Entrypoint}}' "$image")
  [[ "$entrypoint" == '["loadpilot"]' ]] || fail "$image: entrypoint $entrypoint, expected [\"loadpilot\"]"
  user=$(dk image inspect -f '{{.Config.User}}' "$image")
  [[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "$image: USER '$user' is not a numeric non-root uid"
  uid=$(dk run --rm --network host --label "$LABEL" --entrypoint id "$image" -u)
  [[ "$uid" =~ ^[0-9]+$ && "$uid" -ne 0 ]] || fail "$image: runs as uid '$uid'"
  version=$(dk run --rm --network host --label "$LABEL" "$image" --version)
  [[ "$version" == "$host_version" ]] || fail "$image: '$version', the host build says '$host_version'"
  size=$(dk image inspect -f '{{.Size}}' "$image")
  ok "$image: entrypoint loadpilot, uid $uid, '$version', $((size / 1000000)) MB"
done

cmd=$(dk image inspect -f '{{json .Config.Cmd}}' "$COORD")
[[ "$cmd" == '["coordinator","--serve","--listen","0.0.0.0:8080","--metrics-host","0.0.0.0"]' ]] || fail "$COORD: CMD $cmd"
health=$(dk image inspect -f '{{json .Config.Healthcheck}}' "$COORD")
[[ "$health" == *python3* && "$health" == *LOADPILOT_HEALTHZ_URL* ]] || fail "$COORD: HEALTHCHECK $health"
healthz_url=$(dk image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$COORD" |
  sed -n 's/^LOADPILOT_HEALTHZ_URL=//p')
[[ "$healthz_url" == http://127.0.0.1:8080/healthz ]] || fail "$COORD: LOADPILOT_HEALTHZ_URL '$healthz_url'"
ports=$(dk image inspect -f '{{json .Config.ExposedPorts}}' "$COORD")
[[ "$ports" == '{"8080/tcp":{},"9090/tcp":{}}' ]] || fail "$COORD: EXPOSE $ports"
cmd=$(dk image inspect -f '{{json .Config.Cmd}}' "$AGENT")
[[ "$cmd" == '["agent"]' ]] || fail "$AGENT: CMD $cmd"
health=$(dk image inspect -f '{{json .Config.Healthcheck}}' "$AGENT")
[[ "$health" == null ]] || fail "$AGENT: has a HEALTHCHECK ($health); an agent has no HTTP port"
ok "coordinator: CMD coordinator --serve, EXPOSE 8080 9090, HEALTHCHECK on \$LOADPILOT_HEALTHZ_URL; agent: CMD agent, no HEALTHCHECK"

# ------------------ the coordinator image serves demo-api; its HEALTHCHECK runs
# The HEALTHCHECK command, pointed at demo-api's /health, must turn the
# container healthy with the image's own interval.
demo_port=$(free_port)
demo_c=$(dk run -d --network host --label "$LABEL" -e "LOADPILOT_HEALTHZ_URL=http://127.0.0.1:$demo_port/health" \
  "$COORD" demo-api --host 127.0.0.1 --port "$demo_port" --threads 1)
wait_for 30 "demo-api in $COORD answering on 127.0.0.1:$demo_port" \
  http_get "http://127.0.0.1:$demo_port/health" >/dev/null 2>&1
health_status() { dk inspect -f '{{.State.Health.Status}}' "$demo_c"; }
is_healthy() { [[ "$(health_status)" == healthy ]]; }
wait_for 60 "$COORD running demo-api: health status healthy (now $(health_status))" is_healthy
dk stop -t 10 "$demo_c" >/dev/null
code=$(dk inspect -f '{{.State.ExitCode}}' "$demo_c")
[[ "$code" != 137 ]] || fail "$COORD: demo-api as PID 1 ignored SIGTERM (killed after 10 s)"
ok "$COORD runs demo-api; its HEALTHCHECK made it healthy; SIGTERM stopped it (exit $code)"

# ------------- the coordinator service and two agents, all in containers
# The chart's set-up on one machine (docs/kubernetes.md): nats-server, the
# coordinator image's `coordinator --serve` and two agent containers; the
# host build runs shopper.py through --coordinator-url, as a laptop would
# through a port-forward. The counts must agree with demo-api's /stats, and
# the coordinator's /metrics must pass `promtool check metrics`.
start_nats
api_port=$(free_port)
metrics_port=$(free_port)
token="test-token-$$"
serve_c=$(dk run -d --network host --label "$LABEL" \
  -e "LOADPILOT_HEALTHZ_URL=http://127.0.0.1:$api_port/healthz" -e "LOADPILOT_API_TOKEN=$token" \
  "$COORD" coordinator --serve --listen "127.0.0.1:$api_port" \
  --nats-url "nats://127.0.0.1:$nats_port" --serve-agents 2 \
  --metrics-host 127.0.0.1 --metrics-port "$metrics_port")
health_status() { dk inspect -f '{{.State.Health.Status}}' "$serve_c"; }
wait_for 60 "$COORD coordinator --serve: health status healthy (now $(health_status))" is_healthy
body=$(http_get "http://127.0.0.1:$api_port/healthz")
[[ "$body" == ok* ]] || fail "GET /healthz answered '$body'"
readyz_code() {
  python3 -c 'import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)' "http://127.0.0.1:$api_port/readyz"
}
[[ "$(readyz_code)" == 503 ]] || fail "GET /readyz answered $(readyz_code) with no agent connected, expected 503"
ok "$COORD coordinator --serve: healthy through its HEALTHCHECK, /healthz ok, /readyz 503 without agents"

agent_cs=()
for i in 1 2; do
  agent_cs+=("$(dk run -d --network host --label "$LABEL" -e "AGENT_ID=image-agent-$i-$$" \
    "$AGENT" agent --nats-url "nats://127.0.0.1:$nats_port")")
done
is_ready() { [[ "$(readyz_code)" == 200 ]]; }
wait_for 60 "the coordinator ready with both agent containers (/readyz now $(readyz_code))" is_ready

start_demo_api
run_shopper "$WORK/serve.json" "$serve_c" "loadpilot run --coordinator-url with the service in $COORD" \
  --coordinator-url "http://127.0.0.1:$api_port" --api-token "$token"
shopper_counts_agree "$WORK/serve.json" "image-agent-1-$$" "image-agent-2-$$" ||
  fail "the coordinator service run's counts"
ok "shopper.py through --coordinator-url on $COORD with two $AGENT containers: counts agree with demo-api's /stats"

# The coordinator's /metrics between runs: valid exposition text, the
# agents connected and the finished run's counters.
http_get "http://127.0.0.1:$metrics_port/metrics" >"$WORK/metrics.txt"
# promtool exits 0 when clean, 3 on lint findings only (1: a parse error).
# The one finding allowed is its style lint on the public *_ms names
# (docs/monitoring.md#promtool), as in test_prometheus.py.
set +e
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.log" 2>&1
code=$?
set -e
unexpected=$(grep -vE '^loadpilot_(task_)?latency_(p50|p95|p99|max|mean)_ms metric names should not contain abbreviated units$' \
  "$WORK/promtool.log" | grep -v '^[[:space:]]*$' || true)
[[ ($code -eq 0 || $code -eq 3) && -z "$unexpected" ]] ||
  { cat "$WORK/promtool.log" >&2; fail "promtool check metrics refused the coordinator's /metrics (exit $code)"; }
python3 - "$WORK/metrics.txt" "$WORK/serve.json" <<'PY' || fail "the coordinator's /metrics values"
import json, sys
values = {}
for line in open(sys.argv[1]):
    if line and not line.startswith("#"):
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
r = json.load(open(sys.argv[2]))
want = {"loadpilot_agents_connected": 2, "loadpilot_agents_expected": 2,
        "loadpilot_service_runs_total": 1, "loadpilot_requests_total": r["requests"]}
bad = {k: (values.get(k), v) for k, v in want.items() if values.get(k) != v}
print(f"  /metrics: {len(values)} series; " + ", ".join(f"{k} {v:g}" for k, v in want.items()))
if bad:
    print(f"  got, expected: {bad}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "$COORD /metrics: promtool check metrics parses it (only the *_ms style lint); agents, runs and requests as expected"

# A wrong token: one clear message, exit 2, nothing sent.
before=$(http_get "$target/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
set +e
LOADPILOT_NO_METRICS=1 timeout 60 "$BIN" run "$ROOT/examples/shopper.py" --target "$target" \
  --rps 10 --duration 1s --ramp-up 0s --mode constant \
  --coordinator-url "http://127.0.0.1:$api_port" --api-token wrong \
  --no-report >"$WORK/refused.log" 2>&1
code=$?
set -e
after=$(http_get "$target/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
[[ $code -eq 2 && "$before" == "$after" ]] && grep -q "401" "$WORK/refused.log" ||
  { cat "$WORK/refused.log" >&2; fail "a wrong token: exit $code, requests $before -> $after"; }
ok "a wrong API token: exit 2, the 401 named, nothing sent"
for c in "${agent_cs[@]}"; do dk rm -f "$c" >/dev/null; done

# --network none: the default CMD listens on 0.0.0.0, which must stay
# inside the container should the refusal ever break.
set +e
refused=$(dk run --rm --network none --label "$LABEL" "$COORD" 2>&1)
code=$?
set -e
[[ $code -ne 0 && $code -ne 124 && "$refused" == *token* ]] ||
  fail "$COORD's default CMD without a token was not refused (exit $code): $refused"
ok "$COORD's default CMD (listening on 0.0.0.0) without a token exits $code"

# ------------------------- a distributed run with the agent in its image
# nats-server and demo-api on the host, the agent in a container, the
# coordinator the host build: the agent must run its share of a Python
# scenario (on_start, async tasks, checks) and the counts must agree.
start_nats

agent_id="image-agent-$$"
agent_c=$(dk run -d --network host --label "$LABEL" -e "AGENT_ID=$agent_id" \
  "$AGENT" agent --nats-url "nats://127.0.0.1:$nats_port")
agent_says() { dk logs "$agent_c" 2>&1 | grep -q "$1"; }
wait_for 30 "the agent container waiting for a run" agent_says "waiting for a run"

# The chart's probes (templates/agent.yaml) run inside the agent image.
nats_hex=$(printf '%04X' "$nats_port")
dk exec "$agent_c" sh -c "grep -qs ':$nats_hex 01 ' /proc/net/tcp /proc/net/tcp6" ||
  fail "the chart's readiness probe fails in $AGENT while the agent is connected"
dk exec "$agent_c" sh -c 'read -r pid comm state rest < /proc/1/stat && [ "$state" != T ] && [ "$state" != Z ]' ||
  fail "the chart's liveness probe fails in $AGENT"
ok "$AGENT: agent $agent_id connected; the chart's readiness and liveness probes pass in it"

start_demo_api
run_shopper "$WORK/r.json" "$agent_c" "loadpilot run with the agent in $AGENT" \
  --external-agents 1 --nats-url "nats://127.0.0.1:$nats_port" --agents-timeout 20s
shopper_counts_agree "$WORK/r.json" "$agent_id" || fail "the distributed run's counts"
wait_for 30 "the agent container back to waiting" agent_says "waiting for the next run"
ok "shopper.py on the agent in $AGENT: counts agree with demo-api's /stats"

# An agent is PID 1 in its container: SIGTERM (docker stop, a pod's end)
# must end it by its own handler, exit 143, not by the 15 s kill.
dk stop -t 15 "$agent_c" >/dev/null
code=$(dk inspect -f '{{.State.ExitCode}}' "$agent_c")
[[ "$code" == 143 ]] || fail "$AGENT: docker stop ended the agent with exit $code, expected 143"
agent_says "SIGTERM received" || fail "$AGENT: the agent did not log its SIGTERM"
ok "$AGENT: docker stop ends the agent through its SIGTERM handler (exit 143)"

# -------- across a Docker network: every part in a container of its own
# User-defined networks, not the host's: nats-server (the host's binary,
# mounted into the coordinator image), demo-api, the coordinator service
# and two agents, each in a container that reaches the others by their
# addresses on those networks (the broker by its name). --internal: nothing
# on them reaches beyond this machine; the host reaches the containers
# through the networks' bridges. The host build drives the run through
# --coordinator-url at the service container's address, as a laptop would
# through a port-forward; the counts must agree with demo-api's.
# Two networks, as in engine/tests/e2e/test_netns_topology.py: $net joins
# the agents to the broker and the service, $tnet joins them to the target.
net="loadpilot-test-images-$$"
tnet="loadpilot-test-images-target-$$"
for n in "$net" "$tnet"; do dk network create --internal --label "$LABEL" "$n" >/dev/null; done
nats_token="nats-token-$$"
on_net() { dk run -d --network "$net" --label "$LABEL" "$@"; }
ip_on() { dk inspect -f "{{(index .NetworkSettings.Networks \"$1\").IPAddress}}" "$2"; }
on_net --network-alias nats -v "$(command -v nats-server):/usr/local/bin/nats-server:ro" \
  --entrypoint nats-server "$COORD" -a 0.0.0.0 -p 4222 --auth "$nats_token" >/dev/null
net_demo_c=$(dk run -d --network "$tnet" --label "$LABEL" "$COORD" demo-api --host 0.0.0.0 --port 8000 --threads 1)
net_serve_c=$(on_net -e "LOADPILOT_API_TOKEN=$token" -e "NATS_TOKEN=$nats_token" \
  "$COORD" coordinator --serve --listen 0.0.0.0:8080 --nats-url nats://nats:4222 --serve-agents 2)
net_agent_cs=()
for i in 1 2; do
  net_agent_cs+=("$(on_net -e "AGENT_ID=net-agent-$i-$$" -e "NATS_TOKEN=$nats_token" \
    "$AGENT" agent --nats-url nats://nats:4222)")
  dk network connect "$tnet" "${net_agent_cs[-1]}"
done
api="http://$(ip_on "$net" "$net_serve_c"):8080"
target="http://$(ip_on "$tnet" "$net_demo_c"):8000"
[[ "$api" != http://:8080 && "$target" != http://:8000 ]] || fail "no address on $net: '$api' '$target'"
net_ready() { [[ "$(http_get "$api/readyz" 2>/dev/null)" == ready:* ]]; }
readyz_body() { http_get "$api/readyz" 2>&1 || true; }
wait_for 60 "the service container on $net ready with both agent containers (/readyz: $(readyz_body))" net_ready
run_shopper "$WORK/net.json" "$net_serve_c" "loadpilot run --coordinator-url $api on $net" \
  --coordinator-url "$api" --api-token "$token"
shopper_counts_agree "$WORK/net.json" "net-agent-1-$$" "net-agent-2-$$" ||
  fail "the counts of the run across $net"
# Containers read the host's one clock: each agent's true offset is 0, so
# its measured offset is its start's error, within the stated bound.
python3 - "$WORK/net.json" <<'PY' || fail "the start offsets of the run across $net"
import json, sys
ext = json.load(open(sys.argv[1]))["external_agents"]
bound = ext["clock_uncertainty_ms"]
bad = [a for a in ext["agents"] if not abs(a["clock_offset_ms"]) <= a["best_rtt_ms"] / 2 <= bound]
print(f"  start offsets within {bound:.3f} ms: " + ", ".join(
    f"{a['id']} {a['clock_offset_ms']:+.3f} ms (round trip {a['best_rtt_ms']:.3f} ms)" for a in ext["agents"]))
sys.exit(1 if bad or not bound > 0 else 0)
PY
ok "shopper.py through --coordinator-url with the service, two agents, nats-server and demo-api in containers on $net: counts agree with demo-api's /stats"
ok "the agents' start offsets on $net are within the bound the summary states"

echo "test_images: all checks passed"
