#!/usr/bin/env bash
# A Docker daemon for `make images` and `make test-images` (docs/kubernetes.md#container-images).
#
# Sourced, it defines:
#   DOCKER        the client: $DOCKER, else Debian's /usr/bin/docker (its
#                 `docker build` has BuildKit built in, which the images'
#                 RUN --mount cache steps need), else `docker` on PATH.
#   SUDO          "sudo" when not root, else "".
#   lp_apt_install PKG...   apt-get installs the packages that are missing.
#   lp_docker_up  makes a daemon answer: installs docker.io when there is no
#                 dockerd, starts one in the background when none answers
#                 (machines without a service manager, such as CI
#                 containers), and waits for it.
# Run, it calls lp_docker_up.
#
# A daemon started here keeps running after the script ends, like one a
# service manager would have started; it logs to $LOADPILOT_DOCKERD_LOG
# (default /var/log/loadpilot-dockerd.log) and writes its pid to
# /var/run/docker.pid. Stop it with: kill "$(cat /var/run/docker.pid)"

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

LP_DOCKER_GIVEN=${DOCKER:+1}
if [[ -z "${DOCKER:-}" ]]; then
  if [[ -x /usr/bin/docker ]]; then
    DOCKER=/usr/bin/docker
  else
    DOCKER=$(command -v docker || echo /usr/bin/docker)
  fi
fi

lp_apt_install() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "images: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || {
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  }
  # Debian's client is what DOCKER should name once it is installed.
  if [[ -x /usr/bin/docker && "$DOCKER" != /usr/bin/docker && -z "${LP_DOCKER_GIVEN:-}" ]]; then
    DOCKER=/usr/bin/docker
  fi
}

lp_docker_answers() {
  timeout 20 "$DOCKER" info >/dev/null 2>&1
}

lp_docker_up() {
  lp_docker_answers && return 0
  if ! command -v dockerd >/dev/null; then
    lp_apt_install docker.io
  fi
  lp_docker_answers && return 0
  if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    echo "images: dockerd runs (pid $(cat /var/run/docker.pid)) but does not answer $DOCKER;" \
      "is $(id -un) in group docker?" >&2
    return 1
  fi
  local log="${LOADPILOT_DOCKERD_LOG:-/var/log/loadpilot-dockerd.log}"
  echo "images: no Docker daemon answers; starting dockerd (log: $log)"
  # setsid: the daemon outlives this shell and a Ctrl-C sent to `make`.
  $SUDO sh -c "setsid dockerd >>'$log' 2>&1 </dev/null &"
  local i
  for i in $(seq 60); do
    lp_docker_answers && return 0
    sleep 1
  done
  echo "images: dockerd did not answer within 60 s; the end of $log:" >&2
  $SUDO tail -n 20 "$log" >&2 || true
  return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  lp_docker_up
fi
