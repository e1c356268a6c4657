"""Test data from CSV files (docs/scenarios.md#test-data-from-csv-files):
the rows a scenario takes with loadpilot.data reach the server in the
order promised, through the real binary. What reached the server is read
from a recording server on loopback (the demo API counts routes, not
query values); the shipped example runs against `loadpilot demo-api`.
"""
import json
import os
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import Recorder, run_loadpilot

SOURCE = os.environ.get("LOADPILOT_SOURCE_DIR", ".")

# ORDER and the @scenario arguments are filled in. Twenty iterations, 50 ms
# apart, one connection: the server sees them in the order they took rows.
SCENARIO = """
import loadpilot.data
from loadpilot import VUser, scenario, task

users = loadpilot.data.csv("users.csv", order={ORDER})

@scenario(rps=20, duration="1s", ramp_up=0, mode="constant"{EXTRA})
class Users(VUser):
    @task
    def user(self, client):
        row = users.next()
        client.get("/api/user", params={"name": row["name"]})
"""
NEXT_LINE = 10  # the line of `users.next()` in SCENARIO


def write(tmp_path, rows, order, extra="", csv_name="users.csv"):
    (tmp_path / csv_name).write_text("name,team\n" + "".join(f"{r},t\n" for r in rows))
    path = tmp_path / "users_scenario.py"
    path.write_text(SCENARIO.lstrip("\n").replace("{ORDER}", repr(order))
                    .replace("{EXTRA}", extra))
    assert path.read_text().splitlines()[NEXT_LINE - 1].strip() == "row = users.next()"
    return path


def run(path, target, tmp_path, *extra, connections=1):
    """`loadpilot run` from the scenario's folder (messages name users.csv
    as it is there) on CONNECTIONS connections; returns (CompletedProcess,
    results)."""
    results = tmp_path / "r.json"
    if results.exists():
        results.unlink()
    p = run_loadpilot("run", str(path), "--target", target, "--results-json", str(results),
                      "--no-report", "--max-connections", str(connections), *extra, cwd=tmp_path)
    assert results.exists(), p.stdout + p.stderr
    return p, json.loads(results.read_text())


def names_seen():
    """The `name` query values the recording server got, in order."""
    seen = []
    for method, target, _, _ in Recorder.seen:
        parts = urlsplit(target)
        assert (method, parts.path) == ("GET", "/api/user"), target
        seen.append(parse_qs(parts.query)["name"][0])
    return seen


def errors(results):
    return {(e["kind"], e["message"]): e["count"] for e in results["top_errors"]}


ROWS = [f"user{i}" for i in range(1, 9)]


def test_round_robin_rows_reach_the_server_in_file_order_and_wrap(recording_server, tmp_path):
    p, r = run(write(tmp_path, ROWS[:3], "round_robin"), recording_server, tmp_path)
    assert p.returncode == 0, p.stderr
    assert r["errors"] == 0, r["top_errors"]
    assert names_seen() == ["user1", "user2", "user3"] * 6 + ["user1", "user2"]


def test_sequential_rows_reach_the_server_once_in_order_then_the_run_reports_it(
        recording_server, tmp_path):
    p, r = run(write(tmp_path, ROWS, "sequential"), recording_server, tmp_path)
    # Each row once, in file order; the 12 iterations after the last row
    # failed without sending, each counted with the message naming the file.
    assert names_seen() == ROWS
    message = (f"{tmp_path}/users_scenario.py:{NEXT_LINE}: DataExhausted: users.csv: all 8 rows "
               "used (order='sequential' gives each row once)")
    assert errors(r) == {("exception", message): 12}
    assert r["iterations"]["finished"] == 20 and r["requests"] == 8
    # Never silent: the summary lists it, and running out of rows fails the
    # run even without a threshold.
    assert "DataExhausted: users.csv: all 8 rows used" in p.stdout + p.stderr
    assert r["problems"] == [f"the test data ran out: 12 iterations failed on {message}"]
    assert "Problems" in p.stdout and "the test data ran out: 12 iterations" in p.stdout
    assert p.returncode == 1, p.stderr
    assert r["passed"] is False


def test_shuffle_sends_each_row_once_in_an_order_set_by_the_seed(recording_server, tmp_path):
    rows = [f"user{i}" for i in range(1, 21)]
    path = write(tmp_path, rows, "shuffle")
    p, r = run(path, recording_server, tmp_path, "--seed", "5")
    assert p.returncode == 0 and r["errors"] == 0, (p.stderr, r["top_errors"])
    first = names_seen()
    assert sorted(first) == sorted(rows) and first != rows
    Recorder.seen = []
    run(path, recording_server, tmp_path, "--seed", "5")
    assert names_seen() == first
    Recorder.seen = []
    run(path, recording_server, tmp_path, "--seed", "6")
    assert sorted(names_seen()) == sorted(rows) and names_seen() != first


def test_random_rows_cover_the_file(recording_server, tmp_path):
    p, r = run(write(tmp_path, ROWS[:4], "random"), recording_server, tmp_path, "--rps", "40")
    assert p.returncode == 0 and r["errors"] == 0, (p.stderr, r["top_errors"])
    counts = Counter(names_seen())
    # 40 draws from 4 rows (seeded by --seed, so the same every run): every
    # row is drawn, and rows repeat.
    assert set(counts) == set(ROWS[:4]) and sum(counts.values()) == 40
    assert max(counts.values()) > 1


def test_agents_split_sequential_rows_so_none_is_sent_twice(recording_server, tmp_path):
    rows = [f"user{i}" for i in range(1, 11)]
    p, r = run(write(tmp_path, rows, "sequential"), recording_server, tmp_path,
               "--agents", "2", connections=2)
    # Rows ran out on both agents: a problem, the run fails without a threshold.
    assert p.returncode == 1, p.stderr
    assert r["problems"] == [
        "the test data ran out: 10 iterations failed on " + r["top_errors"][0]["message"]]
    # Each agent runs 10 of the 20 arrivals and takes 5 rows: 1, 3, 5, ...
    # and 2, 4, 6, ...; together every row once.
    seen = names_seen()
    assert sorted(seen) == sorted(rows) and len(seen) == 10
    odd = [n for n in seen if int(n[4:]) % 2 == 1]
    even = [n for n in seen if int(n[4:]) % 2 == 0]
    assert odd == ["user1", "user3", "user5", "user7", "user9"]  # each agent in its order
    assert even == ["user2", "user4", "user6", "user8", "user10"]
    prefix = f"{tmp_path}/users_scenario.py:{NEXT_LINE}: DataExhausted: users.csv: "
    assert errors(r) == {
        ("exception", prefix + "all 5 rows of this agent's share used (order='sequential' gives "
         "each row once; agent 1 of 2 takes rows 1, 3, 5, ... of the file's 10)"): 5,
        ("exception", prefix + "all 5 rows of this agent's share used (order='sequential' gives "
         "each row once; agent 2 of 2 takes rows 2, 4, 6, ... of the file's 10)"): 5,
    }


BAD_INPUT = [
    # (the CSV's text, None for no file; csv()'s arguments; the message after FILE:LINE)
    (None, '"users.csv"',
     "DataError: users.csv: no such file ('users.csv' is taken from the folder of the file "
     "calling csv(): {folder})"),
    ("", '"users.csv"', "DataError: users.csv: the file is empty; expected a header row"),
    ("name,team\n", '"users.csv"', "DataError: users.csv: has a header (line 1) but no rows"),
    ("name,team\nann,a\nbob,b,extra\n", '"users.csv"',
     "DataError: users.csv:3: 3 fields, but the header (line 1) has 2: name,team"),
    ("name,team\nann,a\n", '"users.csv", order="once"',
     "ValueError: csv() order must be one of 'round_robin', 'sequential', 'shuffle', 'random' "
     "(got 'once')"),
]


@pytest.mark.parametrize("text,arguments,message", BAD_INPUT)
@pytest.mark.parametrize("agents", [[], ["--agents", "2"]])
def test_bad_data_stops_the_run_before_any_traffic(demo_api, tmp_path, text, arguments, message,
                                                   agents):
    if text is not None:
        (tmp_path / "users.csv").write_text(text)
    path = tmp_path / "bad.py"
    path.write_text("import loadpilot.data\n"
                    "from loadpilot import VUser, scenario, task\n"
                    "\n"
                    f"users = loadpilot.data.csv({arguments})\n"
                    "\n"
                    "@scenario(rps=5, duration='1s')\n"
                    "class S(VUser):\n"
                    "    @task\n"
                    "    def t(self, client):\n"
                    "        client.get('/api/user', params=users.next())\n")
    p = run_loadpilot("run", str(path), "--target", demo_api.url, *agents, cwd=tmp_path)
    expected = f"error: {path}:4: " + message.replace("{folder}", str(tmp_path))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert len(lines) == 1 and lines[0].startswith(expected), (expected, p.stderr)
    assert demo_api.stats()["total"] == 0


def test_the_example_logs_each_user_in_as_a_different_customer(demo_api, tmp_path):
    example = os.path.abspath(os.path.join(SOURCE, "examples", "customers.py"))
    results = tmp_path / "r.json"
    p = run_loadpilot("run", example, "--target", demo_api.url, "--duration", "2s",
                      "--ramp-up", "0s", "--results-json", str(results), "--no-report",
                      cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(results.read_text())
    routes = demo_api.stats()["routes"]
    assert r["errors"] == 0, r["top_errors"]
    assert routes["POST /auth/login"] == 10  # ten users, one login each
    assert routes["GET /api/products/{id}"] > 0
    assert r["requests"] == demo_api.stats()["total"]

    # Thirteen users, twelve customers: the last user's on_start fails, and
    # the summary says why.
    p = run_loadpilot("run", example, "--target", demo_api.url, "--duration", "2s",
                      "--ramp-up", "0s", "--users", "13", "--results-json", str(results),
                      "--no-report", cwd=tmp_path)
    r = json.loads(results.read_text())
    (exhausted,) = [e for e in r["top_errors"] if "DataExhausted" in e["message"]]
    with open(example) as f:
        line = [n for n, text in enumerate(f, 1) if "customers.next()" in text][0]
    assert exhausted["message"] == (
        f"{example}:{line}: DataExhausted: {os.path.dirname(example)}/customers.csv: all 12 rows "
        "used (order='sequential' gives each row once)")
    assert "DataExhausted" in p.stdout + p.stderr
    assert p.returncode == 1
    assert any(pr.startswith("the test data ran out: ") for pr in r["problems"]), r["problems"]


def test_the_docs_example_runs(demo_api, tmp_path):
    """docs/scenarios.md's first example and its users.csv, as printed."""
    with open(os.path.join(SOURCE, "docs", "scenarios.md")) as f:
        section = f.read().split("## Test data from CSV files", 1)[1]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    (kind, scenario), (_, users) = blocks[0], blocks[1]
    assert kind == "python" and users.startswith("username,password\n")
    (tmp_path / "login.py").write_text(scenario)
    (tmp_path / "users.csv").write_text(users)
    results = tmp_path / "r.json"
    p = run_loadpilot("run", str(tmp_path / "login.py"), "--target", demo_api.url,
                      "--users", "2", "--duration", "1s", "--ramp-up", "0s",
                      "--results-json", str(results), "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(results.read_text())
    routes = demo_api.stats()["routes"]
    assert r["errors"] == 0, r["top_errors"]
    assert routes["POST /auth/login"] == 2 and routes["GET /api/user"] > 0
