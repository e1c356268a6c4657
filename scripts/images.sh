#!/usr/bin/env bash
# Builds LoadPilot's container images from this checkout (`make images`;
# docs/kubernetes.md#container-images):
#   loadpilot-coordinator:TAG  from engine/Dockerfile.coordinator
#   loadpilot-agent:TAG        from engine/Dockerfile.agent
# TAG is $IMAGE_TAG, default `local`. Starts a Docker daemon when none
# answers and makes the base image debian:bookworm-slim when docker does
# not have it (scripts/base-image.sh).
#
#   scripts/images.sh [HOST_LOADPILOT]
#
# With HOST_LOADPILOT (`make images` passes build/engine/loadpilot) on a
# Debian 12 host, whose libraries are the image's, the images carry that
# binary, stripped, and the Python package beside it: what the tests ran
# is what ships, and nothing is compiled again. Otherwise, or with
# LOADPILOT_IMAGE_FROM=source, the images compile the sources themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-daemon.sh

TAG="${IMAGE_TAG:-local}"
HOST_BIN="${1:-}"
from=build
if [[ -n "$HOST_BIN" && "${LOADPILOT_IMAGE_FROM:-host}" != source ]]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [[ "$codename" != bookworm ]]; then
    echo "images: this host is not Debian 12 (bookworm) but '${codename:-unknown}': its build would not run on the images' libraries; compiling in Docker instead"
  elif [[ ! -x "$HOST_BIN" ]]; then
    echo "images: $HOST_BIN is not a built program" >&2
    exit 1
  else
    from=host
  fi
fi
lp_docker_up
bash scripts/base-image.sh

if [[ $from == host ]]; then
  # The same tree the source stage installs (engine/Dockerfile.*): the
  # binary in bin/, the Python package without the chart and the init
  # templates (compiled into the binary), its bytecode checked by hash.
  stage=build/image-install
  rm -rf "$stage"
  install -D -m 755 -s "$HOST_BIN" "$stage/usr/local/bin/loadpilot"
  mkdir -p "$stage/usr/local/share/loadpilot/python"
  tar -C cli -c --exclude=loadpilot/charts --exclude=loadpilot/templates \
      --exclude=__pycache__ loadpilot | tar -C "$stage/usr/local/share/loadpilot/python" -x
  /usr/bin/python3 -m compileall -q --invalidation-mode checked-hash \
      "$stage/usr/local/share/loadpilot/python"
  echo "images: from the host build $HOST_BIN ($("$HOST_BIN" --version))"
fi

# --network host: the build stages reach the Debian mirror and the npm
# registry through the host's network, with no bridge or NAT set up. The
# host's CA bundle is lent to `npm ci` as a build secret (never stored in
# an image), so npm trusts what the host trusts, a TLS-inspecting proxy's
# CA included.
secret=()
CA_BUNDLE="${LOADPILOT_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
if [[ -s "$CA_BUNDLE" ]]; then
  secret=(--secret "id=ca-bundle,src=$CA_BUNDLE")
fi
for name in coordinator agent; do
  started=$SECONDS
  DOCKER_BUILDKIT=1 "$DOCKER" build --network host "${secret[@]}" --build-arg "LOADPILOT_FROM=$from" \
    -f "engine/Dockerfile.$name" -t "loadpilot-$name:$TAG" .
  size=$("$DOCKER" image inspect -f '{{.Size}}' "loadpilot-$name:$TAG")
  echo "images: loadpilot-$name:$TAG built in $((SECONDS - started)) s, $((size / 1000000)) MB"
done
