"""CI outputs of `loadpilot run` (docs/output.md): --junit validated
against a JUnit schema, --csv against the results file, the Markdown job
summary appended to $GITHUB_STEP_SUMMARY, and the `ts` of ndjson lines."""
import csv
import datetime
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import DemoApi, interrupt_run, run_loadpilot

XSD = os.path.join(os.path.dirname(__file__), "junit.xsd")

# /health is never failed by the demo API; /api/products is, at --error-rate.
SCENARIO = """
from loadpilot import VUser, scenario, task

@scenario(rps=40, duration="3s", mode="constant",
          thresholds={"p99_ms": 10000, "error_rate": 5})
class Api(VUser):
    @task
    def health(self, client):
        client.get("/health")

    @task
    def products(self, client):
        client.get("/api/products")
"""


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    """One run writing every CI output at once, against a demo API that
    fails 40% of its API requests: error_rate breached, products failing,
    health passing."""
    tmp = tmp_path_factory.mktemp("ci")
    (tmp / "s.py").write_text(SCENARIO)
    summary_md = tmp / "step_summary.md"
    summary_md.write_text("earlier step\n")
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(summary_md))
    api = DemoApi("--error-rate", "40", "--seed", "7")
    try:
        before = datetime.datetime.now(datetime.timezone.utc)
        p = run_loadpilot("run", str(tmp / "s.py"), "--target", api.url, "--output", "ndjson",
                          "--results-json", str(tmp / "r.json"), "--no-report",
                          "--junit", str(tmp / "ci" / "junit.xml"),
                          "--csv", str(tmp / "ci" / "lp"), env=env)
        after = datetime.datetime.now(datetime.timezone.utc)
    finally:
        api.close()
    assert p.returncode == 1, p.stderr
    return {"proc": p, "dir": tmp, "results": json.loads((tmp / "r.json").read_text()),
            "summary_md": summary_md, "before": before, "after": after}


def validate(path):
    if shutil.which("xmllint") is None:
        pytest.fail("xmllint is missing: install libxml2-utils (scripts/install-deps.sh)")
    v = subprocess.run(["xmllint", "--noout", "--schema", XSD, str(path)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr


def cases(path):
    suite = ET.parse(path).getroot().find("testsuite")
    return suite, {(c.get("classname").rsplit(".", 1)[-1], c.get("name")): c
                   for c in suite.findall("testcase")}


def test_junit_validates_and_has_a_case_per_threshold_and_task(ci_run):
    path = ci_run["dir"] / "ci" / "junit.xml"
    validate(path)
    suite, by = cases(path)
    results = ci_run["results"]
    assert set(by) == {("Api", "run"), ("thresholds", "p99_ms"), ("thresholds", "error_rate"),
                       ("tasks", "health"), ("tasks", "products")}
    assert suite.get("tests") == "5" and suite.get("failures") == "2"
    assert by[("Api", "run")].find("failure") is None
    assert by[("thresholds", "p99_ms")].find("failure") is None
    failure = by[("thresholds", "error_rate")].find("failure")
    actual = [t for t in results["thresholds"] if t["key"] == "error_rate"][0]["actual"]
    assert f"actual {actual:.3f}%" in failure.get("message")
    assert "limit 5%" in failure.get("message")
    assert by[("tasks", "health")].find("failure") is None
    assert "above the error_rate limit 5%" in by[("tasks", "products")].find("failure").get(
        "message")
    for task in results["tasks"]:
        out = by[("tasks", task["name"])].find("system-out").text
        assert f"requests={task['requests']} errors={task['errors']}" in out
        assert f"p99_ms={task['latency']['p99_ms']:.3f}" in out


def test_junit_run_case_fails_on_problems(demo_api, scenario_file, tmp_path):
    path = scenario_file(SCENARIO.replace('duration="3s"', 'duration="60s"'))
    junit = tmp_path / "junit.xml"
    code, _, err, results, _ = interrupt_run(path, demo_api.url, tmp_path, "--no-report",
                                             "--no-metrics", "--junit", str(junit),
                                             after=2.5, started=False)
    assert code == 130, err
    assert results["problems"], results
    validate(junit)
    _, by = cases(junit)
    failure = by[("Api", "run")].find("failure")
    assert failure is not None and failure.get("type") == "problem"
    assert results["problems"][0] in failure.text


def test_junit_path_is_checked_before_traffic(demo_api, scenario_file, tmp_path):
    (tmp_path / "taken").mkdir()
    p = run_loadpilot("run", scenario_file(SCENARIO), "--target", demo_api.url, "--no-report",
                      "--junit", str(tmp_path / "taken"))
    assert p.returncode == 2 and "is a folder" in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_stats_match_the_results_file(ci_run):
    results = ci_run["results"]
    rows = read_csv(ci_run["dir"] / "ci" / "lp_stats.csv")
    with open(ci_run["dir"] / "ci" / "lp_stats.csv") as f:
        header = f.readline().strip().split(",")
    assert header == ["Type", "Name", "Request Count", "Failure Count", "Median Response Time",
                      "Average Response Time", "Min Response Time", "Max Response Time",
                      "Requests/s", "Failures/s", "50%", "66%", "75%", "80%", "90%", "95%",
                      "98%", "99%", "99.9%", "99.99%", "100%"]
    assert [r["Name"] for r in rows] == [t["name"] for t in results["tasks"]] + ["Aggregated"]
    for row, task in zip(rows, results["tasks"]):
        assert row["Type"] == "GET"
        assert int(row["Request Count"]) == task["requests"]
        assert int(row["Failure Count"]) == task["errors"]
        assert float(row["50%"]) == pytest.approx(task["latency"]["p50_ms"], abs=0.002)
        assert float(row["99%"]) == pytest.approx(task["latency"]["p99_ms"], abs=0.002)
        assert float(row["100%"]) == pytest.approx(task["latency"]["max_ms"], abs=0.002)
        assert float(row["Requests/s"]) == pytest.approx(task["rps"], abs=0.01)
    agg = rows[-1]
    assert int(agg["Request Count"]) == results["requests"]
    assert int(agg["Failure Count"]) == results["errors"] > 0
    assert float(agg["Median Response Time"]) == pytest.approx(results["latency"]["p50_ms"],
                                                               abs=0.002)
    assert float(agg["Min Response Time"]) <= float(agg["50%"]) <= float(agg["99%"]) \
        <= float(agg["Max Response Time"])


def test_csv_history_has_one_row_per_second(ci_run):
    results = ci_run["results"]
    series = results["timeseries"]
    rows = read_csv(ci_run["dir"] / "ci" / "lp_stats_history.csv")
    assert len(rows) == len(series["t"]) >= 3
    assert [int(r["Total Request Count"]) for r in rows] == series["requests"]
    assert [int(r["Total Failure Count"]) for r in rows] == series["errors"]
    assert [int(r["User Count"]) for r in rows] == series["active"]
    assert [int(r["Total Late Arrivals"]) for r in rows] == series["late"]
    assert [int(r["Total Dropped Arrivals"]) for r in rows] == series["dropped"]
    assert [float(r["Service 99%"]) for r in rows] == pytest.approx(series["service_p99_ms"],
                                                                    abs=0.001)
    for col, key in (("Total 2xx", "responses_2xx"), ("Total 4xx", "responses_4xx"),
                     ("Total 5xx", "responses_5xx"), ("Total No Response", "responses_none"),
                     ("Total Bytes Sent", "bytes_sent"),
                     ("Total Bytes Received", "bytes_received")):
        assert [int(r[col]) for r in rows] == series[key], col
    assert int(rows[-1]["Total Bytes Received"]) == results["bytes"]["received"] > 0
    stamps = [int(r["Timestamp"]) for r in rows]
    assert stamps == sorted(stamps)
    assert ci_run["before"].timestamp() - 1 <= stamps[0]
    assert stamps[-1] <= ci_run["after"].timestamp()
    assert {r["Name"] for r in rows} == {"Aggregated"}


def test_step_summary_is_appended(ci_run):
    text = ci_run["summary_md"].read_text()
    assert text.startswith("earlier step\n")
    results = ci_run["results"]
    assert "### LoadPilot: Api — ❌ FAILED" in text
    assert "| ✅ | p99_ms |" in text
    assert "| ❌ | error_rate |" in text
    assert f"| requests | {results['requests']} |" in text
    for task in results["tasks"]:
        assert f"| {task['name']} | {task['requests']} | {task['errors']} (" in text


def test_ndjson_lines_carry_increasing_timestamps(ci_run):
    lines = [json.loads(line) for line in ci_run["proc"].stdout.splitlines()]
    assert lines[-1]["type"] == "summary" and len(lines) >= 4
    stamps = []
    for line in lines:
        ts = line["ts"]
        assert ts.endswith("Z") and len(ts) == len("2026-01-01T00:00:00.000Z"), ts
        stamps.append(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")))
    # Never backwards; two lines may share a millisecond (the last snapshot
    # and the summary, or catch-up rounds on a loaded machine).
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
    assert ci_run["before"] - datetime.timedelta(seconds=1) <= stamps[0]
    assert stamps[-1] <= ci_run["after"] + datetime.timedelta(seconds=1)
