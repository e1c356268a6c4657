"""Thresholds where the questions are (docs/scenarios.md#thresholds): per
task, over windows, ending the run when one breaks for good, and bad keys
refused before any traffic."""
import json
import os
import xml.etree.ElementTree as ET

import pytest

from conftest import run_json, run_loadpilot

SHOP = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=40, duration="3s", mode="constant",
              thresholds={"p99_ms": {"limit": 10000, "over": "1s"},
                          "products.error_rate": 1})
    class Shop(VUser):
        @task(thresholds={"p99_ms": 10000})
        def health(self, client):
            client.get("/health")

        @task
        def products(self, client):
            client.get("/api/products")
"""


def junit_cases(path):
    root = ET.parse(path).getroot()
    return {(c.get("classname").split(".")[-1], c.get("name")): c for c in root.iter("testcase")}


def test_task_and_window_thresholds_are_judged_and_named_everywhere(
        scenario_file, make_demo_api, tmp_path):
    # Half the API's answers are 503s; /health is not an API route.
    api = make_demo_api("--error-rate", "50")
    step = tmp_path / "step.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(step))
    proc, r = run_json(scenario_file(SHOP), api.url, tmp_path, "--junit",
                       str(tmp_path / "junit.xml"), "--report", str(tmp_path / "report.html"),
                       env=env)
    assert proc.returncode == 1, proc.stderr
    by_key = {t["key"]: t for t in r["thresholds"]}
    # The run's first, then each task's in the plan's order.
    assert [t["key"] for t in r["thresholds"]] == ["p99_ms", "health.p99_ms",
                                                  "products.error_rate"]
    window = by_key["p99_ms"]
    assert window["task"] is None and window["over_s"] == 1 and window["passed"]
    assert 0 <= window["window"]["start_s"] < window["window"]["end_s"] <= r["duration_s"] + 0.01
    assert by_key["health.p99_ms"]["task"] == "health" and by_key["health.p99_ms"]["passed"]
    errors = by_key["products.error_rate"]
    assert errors["task"] == "products" and errors["metric"] == "error_rate"
    assert not errors["passed"] and errors["actual"] > 20
    assert errors["actual"] == pytest.approx(
        [t for t in r["tasks"] if t["name"] == "products"][0]["error_rate"])
    assert r["aborted"] is None and not r["passed"]

    # The summary names each threshold by task and window.
    assert "p99_ms over 1s" in proc.stdout
    assert "✗ products.error_rate" in proc.stdout
    assert "worst 1 s window:" in proc.stdout
    cases = junit_cases(tmp_path / "junit.xml")
    assert cases[("thresholds", "p99_ms over 1s")].find("failure") is None
    failure = cases[("thresholds", "products.error_rate")].find("failure")
    assert failure is not None and "(task products)" in failure.get("message")
    text = step.read_text()
    assert "| ❌ | products.error_rate | products | whole run |" in text
    assert "| ✅ | p99_ms | (run) | 1 s, worst" in text
    assert (tmp_path / "report.html").stat().st_size > 0


ABORT = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=100, duration="60s", mode="constant",
              thresholds={"p99_ms": {"limit": 100, "abort_on_fail": True,
                                     "abort_after": "1s"}})
    class Api(VUser):
        @task
        def products(self, client):
            client.get("/api/products")  # an API route: the demo's stalls hold it
"""


def run_until_abort(scenario_file, make_demo_api, tmp_path, *extra):
    """A 60 s run against a demo-api that holds every answer for half a
    second from its fifth second on (and each fifth second after): p99
    breaks there, at the latest 5 s into the run, which starts after the
    server did."""
    api = make_demo_api("--stall-every", "5", "--stall-for", "0.5")
    step = tmp_path / "step.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(step))
    proc, r = run_json(scenario_file(ABORT), api.url, tmp_path, "--junit",
                       str(tmp_path / "junit.xml"), "--report", str(tmp_path / "report.html"),
                       *extra, env=env, timeout=60)
    return proc, r, step


def check_aborted(proc, r, step, tmp_path):
    assert proc.returncode == 1, proc.stderr
    t = r["thresholds"][0]
    assert t["aborted"] and not t["passed"] and t["abort_on_fail"] and t["abort_after_s"] == 1
    # Broke once the held answers came back (5.5 s after the server's
    # start, seen at the end of that second), then 1 s of grace.
    assert t["broken_at_s"] <= 6.6, t
    assert t["aborted_at_s"] >= t["broken_at_s"] + 1 - 0.05, t
    # Ended within the grace + 2 s of the breach, far before the 60 s.
    assert r["duration_s"] <= t["broken_at_s"] + 1 + 2, (r["duration_s"], t)
    assert r["interrupted"] and r["aborted"]["threshold"] == "p99_ms"
    message = r["aborted"]["message"]
    assert message.startswith("threshold p99_ms broke at ") and "abort_on_fail stopped" in message
    assert message in r["problems"]
    # The books hold for the part that ran.
    it = r["iterations"]
    assert it["planned"] == it["started"] + it["dropped"] + it["not_started"]
    assert it["started"] == it["finished"] + it["cut_off"]
    assert "(stopped by threshold p99_ms)" in proc.stdout
    assert message in proc.stdout.replace("\n    ", " ")
    failure = junit_cases(tmp_path / "junit.xml")[("thresholds", "p99_ms")].find("failure")
    assert "stopped the run at" in failure.get("message")
    assert "stopped the run at" in step.read_text()
    assert (tmp_path / "report.html").stat().st_size > 0


def test_abort_on_fail_ends_the_run_within_its_grace(scenario_file, make_demo_api, tmp_path):
    proc, r, step = run_until_abort(scenario_file, make_demo_api, tmp_path)
    check_aborted(proc, r, step, tmp_path)


def test_abort_on_fail_with_local_agents_is_judged_on_merged_numbers(
        scenario_file, make_demo_api, tmp_path):
    proc, r, step = run_until_abort(scenario_file, make_demo_api, tmp_path, "--agents", "2")
    check_aborted(proc, r, step, tmp_path)


BAD = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=10, duration="1s", thresholds={{{KEYS}}})
    class Shop(VUser):
        @task
        def checkout(self, client):
            client.get("/health")
"""


@pytest.mark.parametrize("keys,needle", [
    ('"checkout.p99": 300', ":4: thresholds.checkout.p99: unknown metric p99; "
                            "did you mean checkout.p99_ms?"),
    ('"chekout.p99_ms": 300', ":4: thresholds.chekout.p99_ms: no task chekout in scenario Shop; "
                              "did you mean checkout.p99_ms?"),
    ('"p99_ms": {"limit": 1, "over": "1.5s"}', ":4: thresholds.p99_ms: over: must be whole "
                                               "seconds"),
])
def test_bad_keys_are_refused_before_any_traffic_at_their_line(scenario_file, demo_api, keys,
                                                                needle):
    path = scenario_file(BAD.replace("{{{KEYS}}}", "{" + keys + "}"))
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2, p.stderr
    assert path + needle in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


@pytest.mark.parametrize("flag,needle", [
    ("chekout.p99_ms=300", "error: --threshold chekout.p99_ms=300: no task chekout in scenario "
                           "Shop; did you mean checkout.p99_ms?"),
    ("checkout.p99=300", "error: --threshold checkout.p99=300: unknown metric p99; did you mean "
                         "checkout.p99_ms?"),
])
def test_a_bad_threshold_flag_is_named_as_typed(scenario_file, demo_api, flag, needle):
    path = scenario_file(BAD.replace("{{{KEYS}}}", "{}"))
    p = run_loadpilot("run", path, "--target", demo_api.url, "--threshold", flag)
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr, p.stderr
    assert "is not valid" not in p.stderr  # the file is not blamed
    assert demo_api.stats()["total"] == 0


def test_a_task_threshold_flag_reaches_the_plan(scenario_file, demo_api):
    path = scenario_file(BAD.replace("{{{KEYS}}}", "{}"))
    p = run_loadpilot("run", path, "--target", demo_api.url, "--dry-run",
                      "--threshold", "checkout.p99_ms=300")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["thresholds"] == {"checkout.p99_ms": 300}
