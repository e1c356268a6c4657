"""A request's `name=` (docs/scenarios.md#metrics): every request is counted
in its task's row; a literal name= also counts it in a sub-row of that task.
The real binary against `loadpilot demo-api`, in one process and with
--agents 2."""
import json

import pytest

from conftest import run_json, task_row

# A Python task with two named calls and one without a name; a native task
# with a name=; a second Python task reusing one of the names; a computed
# name, which counts under its task only.
SCENARIO = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=60, duration="2s", ramp_up=0, mode="constant")
    class Named(VUser):
        @task(weight=2)
        def browse(self, client):
            client.get("/api/products/7", name="product page")
            client.get("/api/user", name="me")
            client.get("/api/orders")

        @task
        def health(self, client):
            client.get("/health", name="health check")

        @task
        def account(self, client):
            client.get("/api/user", name="me")
            client.get("/api/products", name="list " + str(1))
"""


def named(row):
    return {n["name"]: n for n in row["named_requests"]}


def check_counts(r, stats):
    routes = stats["routes"]
    browse, health, account = (task_row(r, n) for n in ("browse", "health", "account"))
    # The task rows count every request, named or not: their sum is what
    # demo-api served, and the run's totals are the task rows' sums alone.
    assert browse["requests"] == 3 * browse["iterations"] > 0
    assert health["requests"] == health["iterations"] > 0
    assert account["requests"] == 2 * account["iterations"] > 0
    assert r["requests"] == browse["requests"] + health["requests"] + account["requests"]
    assert r["requests"] == stats["total"]
    assert r["errors"] == 0 and r["error_rate"] == 0
    assert routes["GET /api/orders"] == browse["iterations"]
    assert routes["GET /health"] == health["requests"]
    assert routes["GET /api/products/{id}"] == browse["iterations"]
    assert routes["GET /api/products"] == account["iterations"]
    assert routes["GET /api/user"] == browse["iterations"] + account["iterations"]
    # Sub-rows: one per (task, literal name), counting their named calls.
    b, h, a = named(browse), named(health), named(account)
    assert list(b) == ["product page", "me"]
    assert list(h) == ["health check"]
    assert list(a) == ["me"]  # the computed name counts under the task only
    assert b["product page"]["requests"] == b["me"]["requests"] == browse["iterations"]
    assert h["health check"]["requests"] == health["requests"]
    assert a["me"]["requests"] == account["iterations"]
    for sub in (*b.values(), *h.values(), *a.values()):
        assert set(sub) == {"name", "requests", "errors", "error_rate", "rps", "latency"}
        assert sub["errors"] == 0 and sub["error_rate"] == 0 and sub["rps"] > 0
        assert sub["latency"]["count"] == sub["requests"]
        assert 0 < sub["latency"]["p50_ms"] <= sub["latency"]["p99_ms"] <= sub["latency"]["max_ms"]
    # The rows are tasks (no row for a name), each with its sub-rows.
    assert [t["name"] for t in r["tasks"]] == ["browse", "health", "account"]
    # Every arrival ran: 120 iterations in all.
    assert r["iterations"]["finished"] == 120


@pytest.mark.parametrize("agents", [1, 2])
def test_named_requests_are_sub_rows_of_their_task(demo_api, scenario_file, tmp_path, agents):
    path = scenario_file(SCENARIO)
    extra = ["--agents", str(agents)] if agents > 1 else []
    csv = tmp_path / "out"
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", "--seed", "3", "--csv",
                       str(csv), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_counts(r, demo_api.stats())

    # The summary: sub-rows indented under their task, within 80 columns.
    lines = proc.stdout.splitlines()
    summary = lines[[i for i, line in enumerate(lines) if "LoadPilot summary" in line][0]:
                    lines.index("PASSED")]
    assert all(len(line) <= 80 for line in summary), proc.stdout
    start = lines.index("Tasks")
    assert lines[start + 1].startswith("  task ")
    rows = lines[start + 2:start + 9]
    for row, prefix in zip(rows, ["  browse ", "    product page ", "    me ", "  health ",
                                  "    health check ", "  account ", "    me "]):
        assert row.startswith(prefix), proc.stdout
    assert rows[1].split()[-6] == str(named(task_row(r, "browse"))["product page"]["requests"])

    # CSV: each sub-row after its task, the Aggregated row the tasks' sum.
    stats = (tmp_path / "out_stats.csv").read_text().splitlines()
    by_name = [line.split(",")[:4] for line in stats[1:]]
    assert [row[1] for row in by_name] == ["browse", "product page", "me", "health",
                                           "health check", "account", "me", "Aggregated"]
    assert by_name[3][0] == by_name[4][0] == "GET"  # the native task's method
    assert int(by_name[-1][2]) == r["requests"]
