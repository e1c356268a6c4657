#!/usr/bin/env bash
# Installs the Debian packages LoadPilot builds, tests and benchmarks with.
# Idempotent: packages already present are not reinstalled, and apt is not
# touched at all when nothing is missing. Uses sudo when not run as root.
#   LOADPILOT_DEPS=program   only what building and running the program
#                            needs (`make demo`)
#   LOADPILOT_IMAGES=1       also Docker and debootstrap (the images)
#   LOADPILOT_BENCH=1        also nginx, wrk and Locust (bench/)
set -euo pipefail

PACKAGES=(
  # build; ccache keeps compiled objects between build folders and clones
  # (CMakeLists.txt uses it when present)
  build-essential cmake pkg-config ninja-build ccache
  # engine libraries; the NATS C client for distributed runs
  # (docs/distributed.md)
  libboost-dev libssl-dev python3-dev pybind11-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev prometheus-cpp-dev libnats-dev
  # HTTP/2 (docs/protocols.md): nghttp2's framing, HPACK and flow control
  libnghttp2-dev
  # gRPC (docs/protocols.md#grpc): protobuf's messages and its .proto
  # parser (the parser's headers are in libprotoc-dev)
  libprotobuf-dev libprotoc-dev
  # the scenario runtime
  python3 python3-greenlet
)
# The HTML report embeds uPlot, which the build installs with npm. Node.js
# and npm come from Debian unless the machine already has them (a newer
# Node.js from elsewhere is kept).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
if [[ "${LOADPILOT_DEPS:-all}" != program ]]; then
PACKAGES+=(
  # the NATS server the distributed tests start on loopback
  nats-server
  # ip and tc: the agents-behind-real-links test builds its machines as
  # network namespaces joined by links with delay and loss
  # (engine/tests/e2e/test_netns_topology.py)
  iproute2
  # Python side: the package's tests
  python3-pytest
  # tests
  libgtest-dev libgmock-dev prometheus curl python3-yaml openssl
  # the Helm chart's tests (engine/tests/chart/) render it without helm: a
  # small renderer built offline with Debian's Go, sprig (the template
  # functions Helm uses) and its YAML library
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev
  # xmllint: the end-to-end tests validate --junit output against a schema
  libxml2-utils
  # HTTP/2 end-to-end tests: a misbehaving peer written with python3-h2,
  # nginx with http2 (its access log counts requests by protocol), curl
  # with HTTP/2 to read demo-api's /stats over TLS
  python3-h2 nginx
  # the dashboard's terminal test runs the binary in tmux; the install test
  # builds the .deb (dpkg-shlibdeps) and makes an offline editable pip
  # install of cli/ in a venv (docs/install.md)
  tmux dpkg-dev python3-venv python3-pip python3-setuptools python3-wheel
  # checking builds (docs/testing.md): `make fuzz`, `make test-asan` and
  # `make test-tsan` compile with clang; libclang-rt-14-dev holds its
  # sanitizer runtimes and the libFuzzer that -fsanitize=fuzzer links (so
  # the standalone libfuzzer-14-dev is not needed); llvm puts
  # llvm-symbolizer on PATH, which turns sanitizer reports' addresses into
  # file:line.
  clang libclang-rt-14-dev llvm
  # the HTML report's browser test runs Debian's Chromium
  chromium
)
fi
# `make images` / `make test-images` (docs/kubernetes.md#container-images):
# Docker, and debootstrap for the base image. Not for `make test`.
if [[ "${LOADPILOT_IMAGES:-0}" == 1 ]]; then
  PACKAGES+=(docker.io debootstrap)
fi
if [[ "${LOADPILOT_BENCH:-0}" == 1 ]]; then
  # nghttp2-client: h2load, the HTTP/2 side-by-side (bench/http2.sh)
  PACKAGES+=(nginx wrk python3-locust time nghttp2-client)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
