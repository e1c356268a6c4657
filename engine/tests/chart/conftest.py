"""Fixtures for the chart tests: the offline renderer (render/, built here with
Debian's Go packages, no network) and the schema validator (validate/, run
with the npm packages ctest's build installed). docs/kubernetes.md describes
both and what they do not cover."""
import fcntl
import json
import os
import shutil
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("LOADPILOT_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "../../..")))
CHART_DIR = os.path.join(SOURCE_DIR, "cli/loadpilot/charts/loadpilot")
INIT_DASHBOARD = os.path.join(SOURCE_DIR, "cli/loadpilot/templates/monitoring/grafana/dashboards/loadpilot.json")
WORK_DIR = os.path.abspath(os.environ.get("LOADPILOT_CHART_WORK_DIR",
                                          os.path.join(SOURCE_DIR, "build/chart-render")))
NODE_MODULES = os.path.abspath(os.environ.get("LOADPILOT_CHART_NODE_MODULES",
                                              os.path.join(SOURCE_DIR, "build/chart-validate/node_modules")))
# Debian's Go packages (golang-github-masterminds-sprig-dev and the rest)
# live under this GOPATH.
DEBIAN_GOPATH = "/usr/share/gocode"


def _go_env():
    env = dict(os.environ)
    env.update({
        # GOPATH mode: imports resolve to Debian's packages, nothing is
        # fetched (render/go.mod says why the file is still there).
        "GO111MODULE": "off",
        "GOPATH": f"{WORK_DIR}/gopath:{DEBIAN_GOPATH}",
        "GOCACHE": f"{WORK_DIR}/go-cache",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    })
    return env


def build_renderer():
    """Builds render/ into WORK_DIR/chart-render and returns its path. Several
    test files may build at once (ctest -j), hence the lock."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go not found: the chart tests build their renderer with Debian's "
                    "golang-go (scripts/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(DEBIAN_GOPATH, "src/github.com/Masterminds/sprig")):
        pytest.fail("Debian's sprig is missing: apt-get install golang-github-masterminds-sprig-dev "
                    "(scripts/install-deps.sh installs it)")
    os.makedirs(WORK_DIR, exist_ok=True)
    with open(os.path.join(WORK_DIR, "build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pkg = os.path.join(WORK_DIR, "gopath/src/loadpilot-chart-render")
        shutil.rmtree(pkg, ignore_errors=True)
        shutil.copytree(os.path.join(HERE, "render"), pkg)
        out = os.path.join(WORK_DIR, "chart-render")
        r = subprocess.run([go, "build", "-o", out, "."], cwd=pkg, env=_go_env(),
                           capture_output=True, text=True, timeout=240)
        if r.returncode != 0:
            pytest.fail(f"building the chart renderer failed:\n{r.stdout}{r.stderr}")
        return out


@pytest.fixture(scope="session")
def renderer():
    return build_renderer()


class Rendered:
    """One rendering: the objects as parsed YAML, and the NOTES.txt text."""

    def __init__(self, text, notes):
        self.text = text
        self.notes = notes
        self.objects = [d for d in yaml.safe_load_all(text) if d is not None]

    def get(self, kind, name):
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) <= 1, f"{kind}/{name} rendered {len(found)} times"
        return found[0] if found else None

    def of_kind(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def refs(self):
        return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in self.objects)


def run_renderer(renderer, args, chart=CHART_DIR, tmp_path=None):
    notes = os.path.join(tmp_path, "NOTES.txt") if tmp_path else None
    cmd = [renderer, "--chart", chart, *args] + (["--notes", notes] if notes else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60), notes


@pytest.fixture
def render(renderer, tmp_path):
    """render(*args) renders the chart with helm-style --set/--values
    arguments and fails the test when it does not render."""
    def _render(*args):
        r, notes = run_renderer(renderer, list(args), tmp_path=tmp_path)
        assert r.returncode == 0, f"chart-render {' '.join(args)} failed ({r.returncode}):\n{r.stderr}"
        with open(notes) as f:
            return Rendered(r.stdout, f.read())
    return _render


def validate(objects):
    """Validates objects with kubernetes-models; returns {ref: [errors]}."""
    node = shutil.which("node")
    assert node, "node not found (scripts/install-deps.sh installs Node.js)"
    assert os.path.isdir(os.path.join(NODE_MODULES, "kubernetes-models")), (
        f"kubernetes-models is not installed in {NODE_MODULES}: build the project first "
        "(cmake --build build runs npm ci for it)")
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    r = subprocess.run([node, os.path.join(HERE, "validate/validate.cjs")], input=json.dumps(objects),
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, f"validate.cjs failed: {r.stderr}"
    report = json.loads(r.stdout)
    assert len(report) == len(objects)
    return {e["ref"]: e["errors"] for e in report}
