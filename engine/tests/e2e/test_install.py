"""The installed layout (docs/install.md): `cmake --install` into a
temporary prefix, then the installed binary, moved elsewhere and started
from another folder, runs a shipped example with its installed Python
package, not the source tree's. Also the .deb (cpack) and the editable pip
install of cli/ for editors."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN

SOURCE = os.path.abspath(os.environ.get("LOADPILOT_SOURCE_DIR", "."))
# The build folder whose install rules are tested: ctest names it; by hand,
# the folder two levels above the binary (build/engine/loadpilot).
BUILD = os.path.abspath(os.environ.get("LOADPILOT_BUILD_DIR")
                        or os.path.dirname(os.path.dirname(os.path.abspath(BIN))))


def clean_env():
    """The environment minus every way to find the package other than the
    installed copy (LOADPILOT_PYTHON_DIR, PYTHONPATH, a virtualenv)."""
    env = dict(os.environ)
    for key in ("LOADPILOT_PYTHON_DIR", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(key, None)
    env["LOADPILOT_NO_METRICS"] = "1"
    return env


class InstalledDemoApi:
    """`BIN demo-api` on a free loopback port, from the installed binary."""

    def __init__(self, binary, cwd):
        self.proc = subprocess.Popen(
            [binary, "demo-api", "--host", "127.0.0.1", "--port", "0", "--threads", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"demo-api did not start: {line!r}")
        self.url = m.group(0)

    def stats(self):
        import urllib.request
        with urllib.request.urlopen(self.url + "/stats", timeout=5) as r:
            return json.loads(r.read())

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Imported by the engine like any scenario: it records which `loadpilot`
# package the embedded interpreter found.
PROBE = """
import loadpilot
from loadpilot import VUser, scenario, task

with open("package.txt", "w") as f:
    f.write(loadpilot.__file__)

@scenario(rps=5, duration="1s")
class Probe(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def install(prefix):
    p = subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_installed_prefix_runs_an_example_from_another_folder(tmp_path):
    install(tmp_path / "staged")
    # Moved after installing: the binary finds its package relative to itself.
    prefix = tmp_path / "moved" / "prefix"
    prefix.parent.mkdir()
    os.rename(tmp_path / "staged", prefix)
    binary = str(prefix / "bin" / "loadpilot")
    package = prefix / "share" / "loadpilot" / "python" / "loadpilot"
    assert (package / "__init__.py").is_file()
    assert (package / "py.typed").is_file()
    assert (prefix / "share" / "doc" / "loadpilot" / "examples" / "shopper.py").is_file()
    # The CSV data an example reads ships beside it, and loadpilot.data with the package.
    assert (prefix / "share" / "doc" / "loadpilot" / "examples" / "customers.csv").is_file()
    assert (package / "data.py").is_file()
    assert not list(package.rglob("__pycache__"))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "probe.py").write_text(PROBE)
    env = clean_env()
    p = subprocess.run([binary, "run", "probe.py", "--target", "http://127.0.0.1:9",
                        "--dry-run"], capture_output=True, text=True, cwd=elsewhere, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert (elsewhere / "package.txt").read_text() == str(package / "__init__.py")
    # The installed example finds its installed CSV files (relative to itself).
    installed = prefix / "share" / "doc" / "loadpilot" / "examples" / "customers.py"
    p = subprocess.run([binary, "run", str(installed), "--target", "http://127.0.0.1:9",
                        "--dry-run"], capture_output=True, text=True, cwd=elsewhere, env=env,
                       timeout=60)
    assert p.returncode == 0, p.stderr

    # The shipped example with Python tasks (VUsers, greenlet) from the
    # installed binary and package, counted against the demo API's own tally.
    api = InstalledDemoApi(binary, elsewhere)
    try:
        example = os.path.join(SOURCE, "examples", "shopper.py")
        p = subprocess.run([binary, "run", example, "--target", api.url, "--duration", "2s",
                            "--ramp-up", "0s", "--rps", "20", "--results-json", "r.json"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
        stats = api.stats()
    finally:
        api.close()
    assert p.returncode == 0, p.stdout + p.stderr
    results = json.loads((elsewhere / "r.json").read_text())
    assert results["iterations"]["finished"] == results["iterations"]["planned"] > 0
    assert results["requests"] == stats["total"] > 0
    assert (elsewhere / "results" / "report.html").is_file()


def deb_depends(deb):
    p = subprocess.run(["dpkg-deb", "--field", str(deb), "Depends"], capture_output=True,
                       text=True, check=True)
    return {d.strip().split(" ")[0] for d in p.stdout.split(",")}


def linked_packages(binary):
    """The Debian packages that hold the shared libraries BINARY names as
    NEEDED (its direct dependencies; theirs come with those packages)."""
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                             check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed, dynamic
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    where = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    packages = set()
    for name in needed:
        path = where.get(name, "")
        real = os.path.realpath(path)
        for candidate in (path, real, real.replace("/lib/", "/usr/lib/", 1),
                          path.replace("/lib/", "/usr/lib/", 1)):
            q = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if candidate and q.returncode == 0:
                packages.add(q.stdout.split(":")[0])
                break
        else:
            raise AssertionError(f"no package holds {name} ({path})")
    return packages


@pytest.mark.skipif(shutil.which("cpack") is None or shutil.which("dpkg-shlibdeps") is None,
                    reason="cpack or dpkg-shlibdeps missing")
def test_deb_package_depends_and_runs_unpacked(tmp_path):
    out = tmp_path / "packages"
    p = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
                        "-B", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = list(out.glob("loadpilot_*.deb"))
    assert len(debs) == 1, p.stdout
    depends = deb_depends(debs[0])
    # Every library the binary links directly comes from a package the .deb
    # depends on.
    missing = linked_packages(os.path.abspath(BIN)) - depends
    assert not missing, (missing, depends)
    assert {"python3", "python3-greenlet"} <= depends

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    binary = root / "usr" / "bin" / "loadpilot"
    assert (root / "usr" / "share" / "loadpilot" / "python" / "loadpilot" / "__init__.py").is_file()
    (tmp_path / "probe.py").write_text(PROBE)
    env = clean_env()
    if os.environ.get("LOADPILOT_SANITIZER"):
        # The package's binary is stripped: LeakSanitizer cannot name its
        # frames, so the suppressions of the embedded interpreter's
        # lifetime allocations (engine/tests/sanitizers/lsan.supp) cannot
        # match. The unstripped build is leak-checked by every other test.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    p = subprocess.run([str(binary), "run", "probe.py", "--target", "http://127.0.0.1:9",
                        "--dry-run"], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "package.txt").read_text() == str(
        root / "usr" / "share" / "loadpilot" / "python" / "loadpilot" / "__init__.py")


def test_editable_pip_install_of_the_package_works_offline(tmp_path):
    """docs/install.md's editor set-up: a venv that sees Debian's setuptools,
    `pip install --no-build-isolation -e cli/` with no index at all."""
    venv = tmp_path / "venv"
    # --without-pip saves copying pip into the venv (ten seconds and more on
    # a busy machine): Debian's own pip, seen through the system
    # site-packages, installs into the venv all the same.
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    env = clean_env()
    env["PIP_NO_INDEX"] = "1"  # offline: a download attempt fails the install
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    p = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install",
                        "--no-build-isolation", "-e", os.path.join(SOURCE, "cli")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    probe = ("import importlib.resources, inspect, json, loadpilot\n"
             "from loadpilot import LoadClient, scenario, task\n"
             "print(json.dumps({'file': loadpilot.__file__,\n"
             "  'typed': (importlib.resources.files('loadpilot') / 'py.typed').is_file(),\n"
             "  'get': str(inspect.signature(LoadClient.get).return_annotation),\n"
             "  'task': str(inspect.signature(task))}))\n")
    p = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    seen = json.loads(p.stdout)
    assert seen["file"] == os.path.join(SOURCE, "cli", "loadpilot", "__init__.py")
    assert seen["typed"]
    assert "Response" in seen["get"]
    assert "weight" in seen["task"]


def test_installed_docs_hold_what_help_and_errors_cite(tmp_path):
    """`--help` and messages cite docs/<page>.md: the install ships docs/ and
    the help says where it is, also after the prefix was moved."""
    install(tmp_path / "staged")
    prefix = tmp_path / "moved" / "prefix"
    prefix.parent.mkdir()
    os.rename(tmp_path / "staged", prefix)
    binary = str(prefix / "bin" / "loadpilot")
    docs = prefix / "share" / "doc" / "loadpilot" / "docs"
    for page in os.listdir(os.path.join(SOURCE, "docs")):
        if page.endswith(".md"):
            assert (docs / page).is_file(), page

    env = clean_env()
    env.pop("LOADPILOT_TARGET", None)
    texts = []
    for args in (["help"], ["--help"], ["help", "run"], ["help", "agent"],
                 ["help", "coordinator"], ["run", "probe.py"]):
        p = subprocess.run([binary, *args], capture_output=True, text=True, cwd=tmp_path,
                           env=env, timeout=30, stdin=subprocess.DEVNULL)
        texts.append(p.stdout + p.stderr)
    for text in texts[:5]:
        assert f"Documentation: {docs}" in text, text
    cited = set(re.findall(r"docs/([a-z_]+\.md)", "\n".join(texts)))
    assert {"cli.md", "distributed.md", "engine.md"} <= cited, cited
    for page in cited:
        assert (docs / page).is_file(), page
