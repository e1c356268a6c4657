"""A run that the load generator's side held back for more than 10% of its
seconds says so: a warning by default, a failing problem with --strict
(docs/engine.md#overload). The generator's process is stopped (SIGSTOP) for
a moment, twice, as a stalled host would stop it: its lag probe sees the
stall, the late arrivals are put down to the machine, never to the target."""
import json
import os
import signal
import subprocess
import time

from conftest import BIN

SCENARIO = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=200, duration="4s", mode="constant")
    class Health(VUser):
        @task
        def health(self, client):
            client.get("/health")
"""


def stalled_run(path, target, tmp_path, *extra):
    """Runs with ndjson output and stops the process for 400 ms after the
    first and the second snapshot; returns (exit code, stdout lines, results)."""
    results = tmp_path / "r.json"
    proc = subprocess.Popen(
        [os.path.abspath(BIN), "run", path, "--target", target, "--output", "ndjson",
         "--no-report", "--no-metrics", "--results-json", str(results), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    stalls = 0
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        lines.append(line)
        if stalls < 2 and '"type":"snapshot"' in line.replace(" ", ""):
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.4)
            proc.send_signal(signal.SIGCONT)
            stalls += 1
        assert time.monotonic() < deadline
    proc.wait(timeout=30)
    err = proc.stderr.read()
    assert stalls == 2, lines
    return proc.returncode, err, json.loads(results.read_text())


def test_generator_bound_run_warns_and_fails_with_strict(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO)
    code, err, r = stalled_run(path, demo_api.url, tmp_path)
    assert r["overload"] is None or r["overload"]["bottleneck"] != "target", r["overload"]
    bound = r["generator_bound"]
    assert bound and bound.startswith("the load generator held the run back for"), r["generator"]
    assert r["generator"]["bound_seconds"] >= 1
    # A warning: the run still passes, and the summary (stderr with ndjson) says so.
    assert code == 0, err
    assert "warning" in err and "held the run back" in err, err
    assert bound not in r["problems"]

    code, err, r = stalled_run(path, demo_api.url, tmp_path, "--strict")
    assert code == 1, err
    assert r["generator_bound"] in r["problems"], r["problems"]
    assert r["passed"] is False
