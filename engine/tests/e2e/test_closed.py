"""The closed model (users=, docs/scenarios.md#users-and-think-time)
against the real demo-api: the rate its users make, users ramping as
planned, the books, Python tasks on their users' own VUsers, --agents, the
report and the metrics."""
import json
import math
import os
import re
import subprocess
import time
import urllib.request

from conftest import BIN, run_json, run_loadpilot
from test_report import BROWSER, open_in_browser

NATIVE = """
from loadpilot import VUser, scenario, task, constant, between, constant_pacing

@scenario({PROFILE})
class Users(VUser):
    @task
    def products(self, client):
        client.get("/api/products")
"""

PYTHON = """
import random
from loadpilot import VUser, scenario, task, constant, between

@scenario({PROFILE})
class PyUsers(VUser):
    def on_start(self, client):
        client.post("/auth/login", json={"user": "u", "pass": "p"})
        self.iterations = 0

    def on_stop(self, client):
        client.post("/auth/logout")

    @task(weight=3)
    def product(self, client):
        self.iterations += 1
        client.get(f"/api/products/{random.randint(1, 50)}", name="product")

    @task
    def orders(self, client):
        client.get("/api/orders")
"""


def native(profile):
    return NATIVE.replace("{PROFILE}", profile)


def python(profile):
    return PYTHON.replace("{PROFILE}", profile)


def books_balance(r):
    """docs/output.md#iterations, closed model: planned is what came due."""
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"], it
    assert it["planned"] == it["started"] + it["dropped"], it
    assert it["not_started"] == 0, it


def counted(api):
    """demo-api's counts, per route key."""
    return api.stats()["routes"]


def snapshots(stdout):
    return [json.loads(line) for line in stdout.splitlines()
            if line.startswith("{") and '"snapshot"' in line]


def test_fifty_users_with_think_time_make_the_rate_they_should(make_demo_api, scenario_file,
                                                                tmp_path):
    # 50 users, 0.1 s think time, a 10 ms endpoint: each user makes an
    # iteration every 0.11 s, 50 / 0.11 = 454.5 iterations/s in all.
    api = make_demo_api("--latency-ms", "10")
    path = scenario_file(native('users=50, wait=constant(0.1), duration="8s"'))
    p, r = run_json(path, api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["model"] == "closed" and r["mode"] == "constant"
    assert r["users"] == {"planned": 50, "peak_active": 50, "wait": "constant(0.1)"}
    # The closed model's law: users / (think time + iteration time). On an
    # idle machine an iteration takes the endpoint's 10 ms and this is
    # 50 / 0.11; a busy test machine slows the answers, never the law.
    iteration_s = r["tasks"][0]["iteration"]["mean_ms"] / 1000
    expected = 50 / (0.1 + iteration_s)
    assert abs(r["rps"]["iterations"] - expected) <= 0.05 * expected, (r["rps"], iteration_s)
    assert abs(r["rps"]["iterations"] - 50 / 0.11) <= 0.2 * 50 / 0.11, r["rps"]
    assert r["rps"]["target"] == 0
    books_balance(r)
    assert r["iterations"]["dropped"] == 0 and r["iterations"]["late"] == 0
    # Every request the run counted reached the target, and nothing else.
    assert counted(api)["GET /api/products"] == r["requests"] == r["iterations"]["finished"]
    assert r["iterations"]["cut_off"] == 0
    # Latency from each iteration's start: the endpoint's 10 ms and little more.
    assert 10 <= r["latency"]["p50_ms"] < 40, r["latency"]
    ts = r["timeseries"]
    steady = [u for t, u in zip(ts["t"], ts["active_users"]) if t < 7.5]
    assert steady and all(u == 50 for u in steady), ts["active_users"]
    assert all(u == 50 for t, u in zip(ts["t"], ts["target_users"]) if t < 7.5)
    assert "users       50 planned, 50 at most active; think time constant(0.1)" in p.stdout
    assert "(closed model)" in p.stdout


def test_users_ramp_and_step_as_planned(demo_api, scenario_file, tmp_path):
    # 15 users over a 3 s ramp (one every 0.2 s), then 3 s at 15.
    path = scenario_file(native('users=15, wait=constant(0.05), ramp_up="3s", duration="3s"'))
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report", "--output", "ndjson")
    assert p.returncode == 0, p.stderr
    assert r["mode"] == "ramp"
    snaps = snapshots(p.stdout)
    assert len(snaps) >= 5
    for s in snaps:
        t = s["elapsed_s"]
        if t >= 6:
            continue
        planned = min(15, math.floor(15 * t / 3 + 1e-9))
        assert s["target_users"] == planned, s
        # Sampled by the workers a moment apart from the collector's clock.
        assert abs(s["active_users"] - planned) <= 1, (t, s["active_users"], planned)
    assert max(s["active_users"] for s in snaps) == 15
    assert r["users"]["peak_active"] == 15
    books_balance(r)
    assert counted(demo_api)["GET /api/products"] == r["requests"]

    # 12 users in 3 steps over 6.6 s: 4, 8, then 12 (edges at 2.2 s and 4.4 s,
    # away from the once-a-second samples).
    path = scenario_file(native('users=12, wait=constant(0.05), steps=3, duration="6.6s"'),
                         name="steps.py")
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stderr
    assert r["mode"] == "step"
    ts = r["timeseries"]
    for t, active, target in zip(ts["t"], ts["active_users"], ts["target_users"]):
        if t >= 6.6:
            continue
        planned = 4 if t < 2.2 else 8 if t < 4.4 else 12
        assert target == planned and active == planned, (t, active, target)
    books_balance(r)


def test_python_tasks_run_on_their_users_vusers(demo_api, scenario_file, tmp_path):
    path = scenario_file(python('users=6, wait=between(0.05, 0.1), duration="3s"'))
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    routes = counted(demo_api)
    # One VUser per user: each logs in once and out once.
    assert routes["POST /auth/login"] == 6 and routes["POST /auth/logout"] == 6
    rows = {t["name"]: t for t in r["tasks"]}
    assert rows["on_start"]["requests"] == 6 and rows["on_stop"]["requests"] == 6
    assert routes["GET /api/products/{id}"] == rows["product"]["requests"]
    assert routes["GET /api/orders"] == rows["orders"]["requests"]
    assert api_total(routes) == r["requests"]
    books_balance(r)
    # 6 users, 0.05-0.1 s of think time a cycle plus the requests: about
    # 65-80 iterations/s, and never above 6 / 0.05 s.
    assert 30 < r["rps"]["iterations"] < 120, r["rps"]
    assert r["users"]["peak_active"] == 6
    assert r["errors"] == 0


def api_total(routes):
    return sum(routes.values())


def test_two_agents_split_the_users_exactly(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "10")
    path = scenario_file(native('users=10, wait=constant(0.1), duration="4s"'))
    p, r = run_json(path, api.url, tmp_path, "--no-report", "--agents", "2", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["lost_agents"] == []
    assert r["users"]["planned"] == 10 and r["users"]["peak_active"] == 10
    assert counted(api)["GET /api/products"] == r["requests"]
    books_balance(r)
    expected = 10 / 0.11
    assert abs(r["rps"]["iterations"] - expected) <= 0.1 * expected, r["rps"]

    # Python tasks over two agents: still one VUser (one login) per user.
    api2 = make_demo_api()
    path = scenario_file(python('users=5, wait=constant(0.05), duration="3s"'), name="py.py")
    p, r = run_json(path, api2.url, tmp_path, "--no-report", "--agents", "2", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    routes = counted(api2)
    assert routes["POST /auth/login"] == 5 and routes["POST /auth/logout"] == 5
    assert api_total(routes) == r["requests"]
    books_balance(r)

    # More agents than users would leave one with nothing to do.
    p = run_loadpilot("run", path, "--target", api2.url, "--agents", "6")
    assert p.returncode == 2
    assert "--agents 6 needs at least 6 users (got users=5)" in p.stderr


def test_pacing_slots_an_iteration_overruns_are_late_and_measured_from_the_slot(
        make_demo_api, scenario_file, tmp_path):
    # 60 ms answers, iterations paced every 20 ms: every slot after a
    # user's first is missed, so each starts late and counts from its slot.
    api = make_demo_api("--latency-ms", "60")
    path = scenario_file(native('users=2, wait=constant_pacing(0.02), duration="2s"'))
    p, r = run_json(path, api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    it = r["iterations"]
    assert it["pacing_late"] >= it["started"] - 2 - it["cut_off"] > 0, it
    assert it["late"] >= it["pacing_late"]
    # A late start's wait shows as latency (40 ms behind its slot, plus 60).
    assert r["latency"]["p50_ms"] >= 90, r["latency"]
    assert r["service_time"]["p50_ms"] < 90, r["service_time"]
    # The target's pace, not an overloaded generator.
    assert r["overload"] is None and r["passed"]
    assert re.search(r"pacing +\d+ iterations started after their pacing slot", p.stdout)
    books_balance(r)


def test_bad_closed_input_is_refused_with_file_line_and_value(demo_api, scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, users=3)
        class Mixed(VUser):
            @task
            def t(self, client):
                client.get("/health")
        """)
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2
    assert f"{path}:4: TypeError: @scenario() got both rps=5 and users=3" in p.stderr

    path = scenario_file(native('users=3, wait=between(3, 1), duration="2s"'), name="w.py")
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2
    assert "wait: between(a, b) needs a <= b (got between(3, 1))" in p.stderr
    # --rps is the open model's, --max-vusers the pool's.
    path = scenario_file(native('users=3, duration="2s"'), name="c.py")
    for flags, message in [
        (["--rps", "10"], "--rps does not apply: scenario Users is a closed model (users=)"),
        (["--max-vusers", "3"], "--max-vusers does not apply to a closed model"),
        (["--users", "0"], "--users: must be a whole number from 1 to 100000"),
    ]:
        p = run_loadpilot("run", path, "--target", demo_api.url, *flags)
        assert p.returncode == 2, flags
        assert message in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0  # nothing was sent
    # --users overrides the scenario's users.
    p = run_loadpilot("run", path, "--target", demo_api.url, "--users", "7", "--dry-run")
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    assert plan["profile"]["model"] == "closed" and plan["profile"]["users"] == 7
    assert plan["profile"]["mode"] == "constant" and plan["max_vusers"] == 7
    assert plan["engine"]["planned_iterations"] is None
    open_path = scenario_file('''
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="2s")
        class Open(VUser):
            @task
            def t(self, client):
                client.get("/health")
        ''', name="open.py")
    p = run_loadpilot("run", open_path, "--target", demo_api.url, "--users", "3")
    assert p.returncode == 2
    assert "--users does not apply: scenario Open is an open model" in p.stderr


def test_report_and_metrics_show_the_users(demo_api, scenario_file, tmp_path):
    path = scenario_file(native('users=8, wait=constant(0.05), duration="4s"'))
    results = tmp_path / "r.json"
    report = tmp_path / "report.html"
    proc = subprocess.Popen(
        [os.path.abspath(BIN), "run", path, "--target", demo_api.url, "--results-json", str(results),
         "--report", str(report), "--metrics-port", "0", "--metrics-host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "LOADPILOT_NO_METRICS"})
    line = proc.stdout.readline()
    m = re.search(r"metrics: (http://\S+/metrics)", line)
    assert m, line
    time.sleep(2.2)
    with urllib.request.urlopen(m.group(1), timeout=5) as resp:
        text = resp.read().decode()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert re.search(r"^loadpilot_active_users 8$", text, re.M), text
    assert re.search(r"^loadpilot_target_users 8$", text, re.M), text
    assert 'loadpilot_info{model="closed",scenario="Users",version="' in text
    html = report.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="lp-data">(.*?)</script>',
                                html, re.S).group(1))
    assert data["model"] == "closed" and data["timeseries"]["active_users"][:3] == [8, 8, 8]
    # The report plots the users next to the iterations in flight (the page
    # is not opened under a sanitizer: test_report.BROWSER).
    if not BROWSER:
        return
    seen = open_in_browser(report, "closed-run")
    assert "Active Users and Workers" in seen["section_titles"]
    chart = [h for h in seen["before"] if h["id"] == "chart-active"][0]
    assert chart["canvases"] >= 1 and chart["drawn"] > 0, chart
    assert "closed: 8 users, think time constant(0.05)" in seen["text"]
