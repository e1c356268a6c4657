#!/usr/bin/env python3
"""Prints the Debian mirrors this machine's apt uses for a suite.

    scripts/apt-mirrors.py SUITE

Output, one line: the main archive (the URI that serves SUITE) and the
security archive (the URI that serves SUITE-security, or "-" when apt names
none). The mirrors come only from the machine's apt configuration, or from
the user: LOADPILOT_APT_MIRROR and LOADPILOT_APT_SECURITY_MIRROR, when set,
win. The folder read is LOADPILOT_APT_SOURCES (default /etc/apt):
sources.list.d/*.sources (deb822) first, then sources.list and
sources.list.d/*.list (one-line entries). No host is built in: when no
mirror serves the suite, the script says which files it read and exits 1
(docs/kubernetes.md#the-base-image).
"""
import glob
import os
import re
import sys


def deb822_entries(path):
    entries = []
    for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        fields = {}
        for line in stanza.splitlines():
            if line.lstrip().startswith("#"):
                continue
            m = re.match(r"([A-Za-z-]+):\s*(.*)", line)
            if m:
                fields[m.group(1).lower()] = m.group(2).split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            entries += [(uri, fields.get("suites", [])) for uri in fields.get("uris", [])]
    return entries


def one_line_entries(path):
    entries = []
    for line in open(path, encoding="utf-8").read().splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
    return entries


def main():
    if len(sys.argv) != 2:
        print("usage: scripts/apt-mirrors.py SUITE", file=sys.stderr)
        return 2
    suite = sys.argv[1]
    root = os.environ.get("LOADPILOT_APT_SOURCES", "/etc/apt")
    files = sorted(glob.glob(os.path.join(root, "sources.list.d", "*.sources")))
    deb822 = len(files)
    files += [p for p in [os.path.join(root, "sources.list")] if os.path.isfile(p)]
    files += sorted(glob.glob(os.path.join(root, "sources.list.d", "*.list")))
    entries = []
    for i, path in enumerate(files):
        try:
            entries += deb822_entries(path) if i < deb822 else one_line_entries(path)
        except (OSError, UnicodeDecodeError) as e:
            print(f"apt-mirrors: {path}: {e}", file=sys.stderr)

    mirror = os.environ.get("LOADPILOT_APT_MIRROR") or next(
        (uri for uri, suites in entries if suite in suites), None)
    security = os.environ.get("LOADPILOT_APT_SECURITY_MIRROR") or next(
        (uri for uri, suites in entries if suite + "-security" in suites), None)
    if not mirror:
        read = "\n".join(f"  {p}" for p in files) or f"  (none: {root} holds no sources)"
        print(f"apt-mirrors: no apt source serves the suite {suite}. Files read:\n{read}\n"
              f"Name a Debian mirror that serves {suite} with LOADPILOT_APT_MIRROR=URL "
              f"(and its security archive with LOADPILOT_APT_SECURITY_MIRROR=URL), "
              f"or add it to apt's sources.", file=sys.stderr)
        return 1
    print(mirror.rstrip("/"), security.rstrip("/") if security else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
