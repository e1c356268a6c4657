"""scripts/base-image.sh takes its Debian mirror from the machine's apt
sources or from the user, never from a host written in the repository
(docs/kubernetes.md#the-base-image)."""
import os
import re
import subprocess
import textwrap

import pytest

SRC = os.environ.get("LOADPILOT_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
MIRRORS = os.path.join(SRC, "scripts", "apt-mirrors.py")
BASE_IMAGE = os.path.join(SRC, "scripts", "base-image.sh")

# Known package hosts, assembled from parts so that this file does not name
# them either: Debian's and Ubuntu's archives and their usual aliases.
_DEBIAN = r"\.".join(["debian", "org"])
_UBUNTU = r"\.".join(["ubuntu", "com"])
KNOWN_HOSTS = re.compile(
    r"\b(?:deb|security|ftp[a-z0-9.-]*|httpredir|cdn-fastly\.deb|archive|snapshot)\." + _DEBIAN
    + r"|\b(?:archive|security|ports)\." + _UBUNTU)


def mirrors(sources_dir, **env):
    return subprocess.run(
        ["/usr/bin/python3", MIRRORS, "bookworm"], capture_output=True, text=True,
        env={**os.environ, "LOADPILOT_APT_SOURCES": str(sources_dir),
             "LOADPILOT_APT_MIRROR": "", "LOADPILOT_APT_SECURITY_MIRROR": "", **env})


def test_the_repository_names_no_package_host():
    files = subprocess.run(["git", "-C", SRC, "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    assert len(files) > 100, "the source tree is not a git checkout"
    found = []
    for name in filter(None, files):
        path = os.path.join(SRC, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        found += [f"{name}: {m.group(0)}" for m in KNOWN_HOSTS.finditer(text)]
    assert found == []


def test_the_pattern_finds_what_it_looks_for():
    # The test above would pass on any tree if the pattern matched nothing.
    host = "deb." + "debian" + ".org"
    assert KNOWN_HOSTS.search(f"http://{host}/debian")
    assert KNOWN_HOSTS.search("http://security." + "ubuntu" + ".com/ubuntu")
    assert not KNOWN_HOSTS.search("http://mirror.example.test/debian")


def test_mirrors_come_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(textwrap.dedent("""\
        Types: deb
        # a comment inside the stanza
        URIs: http://mirror.example.test/debian/
        Suites: bookworm bookworm-updates
        Components: main

        Types: deb
        URIs: http://mirror.example.test/debian-security
        Suites: bookworm-security
        Components: main

        Types: deb
        URIs: http://disabled.example.test/debian
        Suites: bookworm
        Enabled: no
        """))
    r = mirrors(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["http://mirror.example.test/debian",
                                "http://mirror.example.test/debian-security"]


def test_mirrors_come_from_one_line_sources(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example.test/debian bookworm main\n"
        "deb [arch=amd64] http://mirror.example.test/debian bookworm main\n")
    r = mirrors(tmp_path)
    assert r.returncode == 0, r.stderr
    # No security archive in the sources: said as "-", not invented.
    assert r.stdout.split() == ["http://mirror.example.test/debian", "-"]


def test_the_user_names_the_mirror(tmp_path):
    r = mirrors(tmp_path, LOADPILOT_APT_MIRROR="http://mine.example.test/debian",
                LOADPILOT_APT_SECURITY_MIRROR="http://mine.example.test/security")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["http://mine.example.test/debian",
                                "http://mine.example.test/security"]


def test_a_source_for_another_suite_is_not_taken(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://mirror.example.test/debian trixie main\n")
    r = mirrors(tmp_path)
    assert r.returncode == 1
    assert str(tmp_path / "sources.list") in r.stderr


@pytest.mark.parametrize("layout", ["empty", "missing"])
def test_without_a_mirror_the_script_stops_before_anything(tmp_path, layout):
    sources = tmp_path / "apt"
    if layout == "empty":
        (sources / "sources.list.d").mkdir(parents=True)
    calls = tmp_path / "docker-calls"
    fake_docker = tmp_path / "docker"
    # A Docker client that answers nothing: the script may only ask whether
    # the image is already there; starting a daemon would run `info` first.
    fake_docker.write_text(f'#!/bin/sh\necho "$*" >>{calls}\nexit 1\n')
    fake_docker.chmod(0o755)
    before = {n for n in os.listdir("/var/tmp") if n.startswith("loadpilot-base.")}
    r = subprocess.run(
        ["bash", BASE_IMAGE], capture_output=True, text=True, timeout=60,
        env={**os.environ, "LOADPILOT_APT_SOURCES": str(sources), "DOCKER": str(fake_docker),
             "LOADPILOT_APT_MIRROR": "", "LOADPILOT_APT_SECURITY_MIRROR": ""})
    after = {n for n in os.listdir("/var/tmp") if n.startswith("loadpilot-base.")}
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no apt source serves the suite bookworm" in r.stderr
    assert str(sources) in r.stderr
    assert "LOADPILOT_APT_MIRROR" in r.stderr
    assert "nothing was done" in r.stderr
    assert "debootstrap" not in r.stdout
    assert after == before
    asked = calls.read_text().splitlines() if calls.exists() else []
    assert all(line.startswith("image inspect") for line in asked), asked
