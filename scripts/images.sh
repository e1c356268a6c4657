#!/usr/bin/env bash
# Builds LoadPilot's container images from this checkout (`make images`;
# docs/kubernetes.md#container-images):
#   loadpilot-coordinator:TAG  from engine/Dockerfile.coordinator
#   loadpilot-agent:TAG        from engine/Dockerfile.agent
# TAG is $IMAGE_TAG, default `local`. Starts a Docker daemon when none
# answers and makes the base image debian:bookworm-slim when docker does
# not have it (scripts/base-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-daemon.sh

TAG="${IMAGE_TAG:-local}"
lp_docker_up
bash scripts/base-image.sh

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
  DOCKER_BUILDKIT=1 "$DOCKER" build --network host "${secret[@]}" \
    -f "engine/Dockerfile.$name" -t "loadpilot-$name:$TAG" .
  size=$("$DOCKER" image inspect -f '{{.Size}}' "loadpilot-$name:$TAG")
  echo "images: loadpilot-$name:$TAG built in $((SECONDS - started)) s, $((size / 1000000)) MB"
done
