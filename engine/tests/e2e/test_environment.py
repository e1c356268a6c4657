"""The embedded interpreter sees what `python3 FILE` would: the scenario's
folder, PYTHONPATH, and an active virtualenv's site-packages."""
import json
import os

from conftest import run_loadpilot

SCENARIO = """
import helper_next_to_me
import from_venv
import from_pythonpath
from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="1s", mode="constant")
class Env(VUser):
    @task
    def call(self, client):
        client.get(helper_next_to_me.PATH + from_venv.SUFFIX + from_pythonpath.QUERY)
"""


def test_scenario_folder_pythonpath_and_virtualenv_import(tmp_path, demo_api):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "helper_next_to_me.py").write_text('PATH = "/api/products"\n')
    scenario = tmp_path / "proj" / "env.py"
    scenario.write_text(SCENARIO)
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "from_venv.py").write_text('SUFFIX = "/7"\n')
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "from_pythonpath.py").write_text('QUERY = "?x=1"\n')
    env = dict(os.environ, VIRTUAL_ENV=str(tmp_path / "venv"), PYTHONPATH=str(extra))
    results = tmp_path / "r.json"
    p = run_loadpilot("run", str(scenario), "--target", demo_api.url, "--results-json",
                      str(results), env=env)
    assert p.returncode == 0, p.stderr
    r = json.loads(results.read_text())
    assert r["requests"] == 10 and r["errors"] == 0
    assert demo_api.stats()["routes"]["GET /api/products/{id}"] == 10
    assert demo_api.stats()["total"] == 10


def test_missing_module_names_the_import_line(tmp_path):
    scenario = tmp_path / "s.py"
    scenario.write_text("import os\nimport no_such_module_here\n")
    p = run_loadpilot("run", str(scenario), "--target", "http://127.0.0.1:9", "--dry-run")
    assert p.returncode == 2
    assert f"{scenario}:2" in p.stderr and "ModuleNotFoundError" in p.stderr
