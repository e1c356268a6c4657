# Shared set-up for the benchmark scripts (sourced, not run).
# Sets BIN, work (a temporary folder removed on exit) and url (an nginx with
# one worker on a free loopback port, serving bench/nginx.conf.in).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=$(realpath "${1:-build/engine/loadpilot}")
SECS=${BENCH_SECONDS:-10}
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null; kill ${api:-} 2>/dev/null; rm -rf "$work"' EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/@PORT@/$port/" -e "s#@DIR@#$work#g" bench/nginx.conf.in > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5
url="http://127.0.0.1:$port"
