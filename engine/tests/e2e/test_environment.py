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


TARGET_SCENARIO = """
import os
from loadpilot import VUser, scenario, task

@scenario(rps=5, duration="1s", mode="constant")
class FromEnv(VUser):
    @task
    def call(self, client):
        client.get(os.environ["PRODUCT_PATH"])
"""


def _target_run(tmp_path, *args, env_extra=None, dotenv=None):
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    (proj / "s.py").write_text(TARGET_SCENARIO)
    if dotenv is not None:
        (proj / ".env").write_text(dotenv)
    env = {k: v for k, v in os.environ.items() if k not in ("LOADPILOT_TARGET", "PRODUCT_PATH")}
    env.update(env_extra or {})
    return run_loadpilot("run", "s.py", "--results-json", "r.json", "--no-report", *args,
                         env=env, cwd=str(proj))


def test_target_from_the_environment_and_dotenv_with_flag_first(tmp_path, make_demo_api):
    by_flag, by_env, by_file = make_demo_api(), make_demo_api(), make_demo_api()
    dotenv = ("# test settings\nexport LOADPILOT_TARGET=%s  # the file's target\n"
              "PRODUCT_PATH='/api/products/3'\n" % by_file.url)
    # .env alone: its target, and its other variables reach the scenario.
    p = _target_run(tmp_path, dotenv=dotenv)
    assert p.returncode == 0, p.stderr
    assert by_file.stats()["routes"]["GET /api/products/{id}"] == 5
    # The environment beats .env.
    p = _target_run(tmp_path, env_extra={"LOADPILOT_TARGET": by_env.url})
    assert p.returncode == 0, p.stderr
    assert by_env.stats()["routes"]["GET /api/products/{id}"] == 5
    # The option beats both.
    p = _target_run(tmp_path, "-t", by_flag.url, env_extra={"LOADPILOT_TARGET": by_env.url})
    assert p.returncode == 0, p.stderr
    assert by_flag.stats()["routes"]["GET /api/products/{id}"] == 5
    assert by_env.stats()["routes"]["GET /api/products/{id}"] == 5
    assert by_file.stats()["routes"]["GET /api/products/{id}"] == 5
    r = json.loads((tmp_path / "proj" / "r.json").read_text())
    assert r["target"] == by_flag.url


def test_no_target_anywhere_names_every_source(tmp_path):
    p = _target_run(tmp_path)
    assert p.returncode == 2
    assert "--target" in p.stderr and "LOADPILOT_TARGET" in p.stderr, p.stderr


def test_a_bad_dotenv_line_is_named_and_nothing_runs(tmp_path, demo_api):
    p = _target_run(tmp_path, dotenv="LOADPILOT_TARGET=%s\nthis is not a setting\n" % demo_api.url)
    assert p.returncode == 2
    assert p.stderr.startswith("error: .env:2:"), p.stderr
    assert "this is not a setting" in p.stderr
    assert demo_api.stats()["total"] == 0


def test_short_report_option(tmp_path, demo_api, scenario_file):
    path = scenario_file(TARGET_SCENARIO)
    env = dict(os.environ, PRODUCT_PATH="/health")
    p = run_loadpilot("run", str(path), "-t", demo_api.url, "-r", str(tmp_path / "out.html"),
                      env=env)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out.html").read_text().startswith("<!DOCTYPE html>")
