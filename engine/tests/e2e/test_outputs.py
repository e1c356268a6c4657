"""Output files are checked before any traffic and written atomically
(docs/output.md#output-files)."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, run_loadpilot

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


def test_a_dev_null_report_path_reads_plainly(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO)
    p = run_loadpilot("run", path, "--target", demo_api.url, "--report", "/dev/null")
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr == "error: /dev/null: is a device, pipe or socket, not a regular file\n"
    assert demo_api.stats()["total"] == 0


# Files first, the terminal last: a stdout that cannot be written (a full
# device, a reader that went away) costs no output file and leaves the exit
# code to the run's verdict (docs/output.md#output-files).
def outputs_of(tmp_path):
    return {"results": tmp_path / "r.json", "report": tmp_path / "report.html",
            "junit": tmp_path / "junit.xml", "csv": tmp_path / "lp"}


def output_args(files):
    return ["--results-json", str(files["results"]), "--report", str(files["report"]),
            "--junit", str(files["junit"]), "--csv", str(files["csv"])]


def assert_outputs_written(files, requests):
    assert json.loads(files["results"].read_text())["requests"] == requests
    assert files["report"].read_text().startswith("<!DOCTYPE html>")
    assert files["junit"].read_text().startswith("<?xml")
    assert (files["csv"].parent / "lp_stats.csv").read_text().startswith("Type,")


def test_a_full_stdout_still_gets_every_file(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO)
    files = outputs_of(tmp_path)
    with open("/dev/full", "w") as full:
        p = subprocess.run([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                            "--no-metrics", *output_args(files)],
                           stdout=full, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert_outputs_written(files, 20)
    assert "warning: stdout: cannot write (No space left on device)" in p.stderr
    assert "internal error" not in p.stderr


def test_a_closed_stdout_pipe_still_gets_every_file(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO)
    files = outputs_of(tmp_path)
    # `loadpilot run ... | head -1`: the reader takes one line and leaves.
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-metrics", *output_args(files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()
    assert first
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert_outputs_written(files, 20)
    assert "warning: stdout: cannot write (Broken pipe)" in err


# A signal after the run's end (the summary is on stdout, the metrics
# endpoint lingers) is noted; the files are complete and the exit code is
# the run's verdict, decided by then (docs/cli.md#stopping-a-run).
@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_a_signal_after_the_summary_still_gets_every_file(demo_api, scenario_file, tmp_path,
                                                          sig, name):
    path = scenario_file(SCENARIO)
    files = outputs_of(tmp_path)
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--metrics-host", "127.0.0.1", "--metrics-port", "0",
                             "--metrics-linger", "30s", *output_args(files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("LoadPilot summary"):
            proc.send_signal(sig)
            break
    else:
        proc.kill()
        pytest.fail("no summary: " + "".join(seen) + proc.stderr.read())
    out = proc.stdout.read()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0, err
    assert_outputs_written(files, 20)
    assert f"{name} after the run ended" in err
    assert "PASSED" in out


# An HTTP error names its request, as Locust does; ids in paths fold into
# one message per route, so the message table stays small
# (docs/output.md#error-kinds).
ERRORS = """
import random
from loadpilot import VUser, scenario, task

@scenario(rps=40, duration="1s", mode="constant")
class Api(VUser):
    @task
    def listing(self, client):
        client.get("/v2/api/products", params={"page": 1})

    @task
    def item(self, client):
        client.get(f"/v2/api/items/{random.randint(1, 10**9)}")
"""


def test_http_errors_name_method_and_path(demo_api, scenario_file, tmp_path):
    results = tmp_path / "r.json"
    p = run_loadpilot("run", scenario_file(ERRORS), "--target", demo_api.url,
                      "--results-json", str(results), "--no-report")
    r = json.loads(results.read_text())
    assert r["errors"] == r["requests"] == 40, p.stderr
    messages = {e["message"]: e["count"] for e in r["top_errors"]}
    assert set(messages) == {"HTTP 404 GET /v2/api/products", "HTTP 404 GET /v2/api/items/{id}"}
    assert sum(messages.values()) == 40
    assert "HTTP 404 GET /v2/api/products" in p.stdout
