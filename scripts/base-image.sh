#!/usr/bin/env bash
# Makes the local base image debian:bookworm-slim, which both of LoadPilot's
# images start FROM (engine/Dockerfile.*), on a machine that cannot pull it
# from a registry: debootstrap a minimal Debian 12 from the Debian mirror
# apt already uses, trim it as a slim image is trimmed, and `docker import`
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

lp_docker_up
if [[ $force -eq 0 ]] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "images: $IMAGE is present"
  exit 0
fi
lp_apt_install debootstrap

# The mirrors apt uses on this machine: deb822 .sources files first, then
# one-line sources.list entries. The main archive is the URI that serves
# the suite itself, the security archive the one that serves SUITE-security.
read -r MIRROR SECURITY < <(python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
entries = []  # (uri, [suites])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"([A-Za-z-]+):\s*(.*)", line)
            if m and not line.startswith("#"):
                fields[m.group(1).lower()] = m.group(2).split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            entries += [(u, fields.get("suites", [])) for u in fields.get("uris", [])]
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
main = next((u for u, s in entries if suite in s), "http://deb.debian.org/debian")
security = next((u for u, s in entries if suite + "-security" in s),
                "http://deb.debian.org/debian-security")
print(main.rstrip("/"), security.rstrip("/"))
PY
)
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

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
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
