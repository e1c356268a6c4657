"""Every shipped example scenario loads and validates."""
import glob
import json
import os

from conftest import run_loadpilot

SOURCE = os.environ.get("LOADPILOT_SOURCE_DIR", ".")


def test_every_example_dry_runs():
    files = sorted(glob.glob(os.path.join(SOURCE, "examples", "*.py")))
    assert files, "no examples found"
    for path in files:
        p = run_loadpilot("run", path, "--target", "http://127.0.0.1:9", "--dry-run")
        assert p.returncode == 0, (path, p.stderr)
        plan = json.loads(p.stdout)
        assert plan["tasks"], path
