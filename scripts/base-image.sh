#!/usr/bin/env bash
# Makes the local base image debian:bookworm-slim, which both of LoadPilot's
# images start FROM (engine/Dockerfile.*), on a machine that cannot pull it
# from a registry: debootstrap a minimal Debian 12 from the Debian mirror
# apt already uses (or LOADPILOT_APT_MIRROR; scripts/apt-mirrors.py), trim it as a slim image is trimmed, and `docker import`
# it. Does nothing when docker already has the image (pulled or made
# before); --force makes it again. See docs/kubernetes.md#the-base-image.
#
#   scripts/base-image.sh [--force]
#
# Needs root (debootstrap creates device nodes and chroots; sudo is used
# otherwise) and installs debootstrap and docker.io when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/docker-daemon.sh

IMAGE=debian:bookworm-slim
SUITE=bookworm
force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  *) echo "usage: scripts/base-image.sh [--force]" >&2; exit 2 ;;
esac

# The mirrors come from this machine's apt sources or from the user
# (LOADPILOT_APT_MIRROR, LOADPILOT_APT_SECURITY_MIRROR), never from a host
# written here: scripts/apt-mirrors.py. Read first, before anything is
# started or written, so that a machine without one stops at once.
if mirrors=$(/usr/bin/python3 scripts/apt-mirrors.py "$SUITE"); then
  read -r MIRROR SECURITY <<<"$mirrors"
else
  # A machine without a mirror can still use an image it already has
  # (pulled from a registry); a daemon that does not answer is not started.
  if [[ $force -eq 0 ]] && timeout 10 "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "images: $IMAGE is present"
    exit 0
  fi
  echo "images: cannot make $IMAGE without a Debian mirror (above); nothing was done" >&2
  exit 1
fi

lp_docker_up
if [[ $force -eq 0 ]] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "images: $IMAGE is present"
  exit 0
fi
lp_apt_install debootstrap
if [[ $SECURITY == - ]]; then
  echo "images: apt names no mirror for $SUITE-security; the image's apt sources will have no security archive (set LOADPILOT_APT_SECURITY_MIRROR to add one)" >&2
fi
echo "images: making $IMAGE with debootstrap from $MIRROR (a few minutes)"

WORK=$(mktemp -d /var/tmp/loadpilot-base.XXXXXX)
ROOTFS="$WORK/rootfs"
cleanup() { $SUDO rm -rf "$WORK"; }
trap cleanup EXIT

started=$SECONDS
if ! $SUDO debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  echo "images: debootstrap failed; the end of its log:" >&2
  tail -n 30 "$WORK/debootstrap.log" >&2
  $SUDO tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2 2>/dev/null || true
  exit 1
fi

# Trim. Files that only a person reading them on the machine needs go, and
# dpkg is told to leave them out of every package installed later, so
# images built on top stay small too. Copyright files stay (licences).
$SUDO sh -eu -c '
  root="$1"; mirror="$2"; security="$3"; suite="$4"
  cat >"$root/etc/dpkg/dpkg.cfg.d/loadpilot-slim" <<CFG
# Leave documentation, manual pages and translations out of installed
# packages (scripts/base-image.sh); copyright files stay.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
         "$root"/usr/share/lintian/* "$root"/usr/share/linda/* "$root"/usr/share/locale/*
  # Containers get apt lists from `apt-get update`, not from the image; the
  # package cache holds the debs debootstrap installed.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
         "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/archives/partial/*
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<CFG
// Downloaded packages are removed once installed, so they do not end up in
// an image layer (scripts/base-image.sh). A Dockerfile that caches them in
// a RUN --mount=type=cache deletes this file first.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<CFG
// Package descriptions in English only: no translation indexes to download.
Acquire::Languages "none";
CFG
  # The same archives as the host, with updates and security fixes.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
  if [ "$security" != - ]; then
    cat >>"$root/etc/apt/sources.list.d/debian.sources" <<CFG

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
  fi
  # The container runtime provides these per container.
  rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
  : >"$root/etc/machine-id"
  rm -rf "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old \
         "$root"/var/lib/dpkg/*-old "$root"/var/cache/ldconfig/aux-cache "$root"/tmp/* \
         "$root"/var/tmp/*
' sh "$ROOTFS" "$MIRROR" "$SECURITY" "$SUITE"

$SUDO tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
  "$DOCKER" import --change 'CMD ["bash"]' --message "debootstrap --variant=minbase $SUITE $MIRROR, trimmed by scripts/base-image.sh" - "$IMAGE" >/dev/null
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
echo "images: made $IMAGE ($((size / 1000000)) MB) in $((SECONDS - started)) s"
