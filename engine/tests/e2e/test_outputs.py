"""Output files are checked before any traffic and written atomically
(docs/output.md#output-files)."""
import json
import time

from conftest import run_loadpilot

SCENARIO = """
from loadpilot import VUser, scenario, task

@scenario(rps=20, duration="1s", mode="constant")
class Api(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def test_missing_folders_are_created(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO)
    out = tmp_path / "out" / "deep" / "r.json"
    report = tmp_path / "reports" / "x" / "report.html"
    p = run_loadpilot("run", path, "--target", demo_api.url, "--results-json", str(out),
                      "--report", str(report))
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_text())["requests"] == 20
    assert report.read_text().startswith("<!DOCTYPE html>")
    # Nothing half-written is left beside them.
    assert sorted(f.name for f in out.parent.iterdir()) == ["r.json"]


def test_an_unwritable_results_path_fails_before_any_traffic(demo_api, scenario_file,
                                                             tmp_path):
    path = scenario_file(SCENARIO)
    start = time.monotonic()
    p = run_loadpilot("run", path, "--target", demo_api.url, "--results-json",
                      "/proc/self/no-such/r.json", "--no-report")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "/proc/self/no-such/r.json" in p.stderr and p.stderr.startswith("error: ")
    assert time.monotonic() - start < 10
    assert demo_api.stats()["total"] == 0


def test_a_folder_as_the_report_path_fails_before_any_traffic(demo_api, scenario_file,
                                                              tmp_path):
    path = scenario_file(SCENARIO)
    (tmp_path / "taken").mkdir()
    p = run_loadpilot("run", path, "--target", demo_api.url, "--report", str(tmp_path / "taken"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "is a folder" in p.stderr
    assert demo_api.stats()["total"] == 0
