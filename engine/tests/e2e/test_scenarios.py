"""Several scenarios in one run (docs/scenarios.md#several-scenarios-in-one-run)
against the real demo-api: each scenario's requests equal what the target
saw carrying its X-Demo-Tag, the books hold per scenario and in total, and
the ways of choosing them (--scenario twice, --all, --group) and their
errors."""
import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request
import xml.etree.ElementTree as ET

from conftest import BIN, run_json, run_loadpilot

# An open 200/s partner and 20 closed-model browsing users with think time,
# the users starting a second in. Each tags its requests for the target.
MIX = """
from loadpilot import VUser, scenario, task, between

@scenario(rps=200, duration="3s", mode="constant", group="mix",
          thresholds={"error_rate": 1})
class Partner(VUser):
    @task
    def products(self, client):
        client.get("/api/products", headers={"X-Demo-Tag": "partner"})

@scenario(users=20, duration="3s", wait=between(0.05, 0.1), start="1s", group=["mix", "ui"])
class Browse(VUser):
    @task(weight=3)
    def product(self, client):
        client.get("/api/products/7", headers={"X-Demo-Tag": "browse"})

    @task
    def orders(self, client):
        client.get("/api/orders", headers={"X-Demo-Tag": "browse"})

@scenario(rps=5, duration="1s", mode="constant")
class Alone(VUser):
    @task
    def health(self, client):
        client.get("/health", headers={"X-Demo-Tag": "alone"})
"""


def books_hold(part, closed):
    """docs/output.md#iterations."""
    it = part["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"], it
    assert it["planned"] == it["started"] + it["dropped"] + it["not_started"], it
    if closed:
        assert it["not_started"] == 0, it


def test_an_open_and_a_closed_scenario_run_together_and_count_exactly(demo_api, scenario_file,
                                                                        tmp_path):
    path = scenario_file(MIX)
    junit = tmp_path / "junit.xml"
    proc, r = run_json(path, demo_api.url, tmp_path, "--group", "mix", "--junit", str(junit))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    tags = demo_api.stats()["tags"]
    parts = r["scenarios"]
    assert sorted(parts) == ["Browse", "Partner"], list(parts)
    # What each scenario counted is what the target got from it.
    assert parts["Partner"]["requests"] == tags["partner"], (parts["Partner"], tags)
    assert parts["Browse"]["requests"] == tags["browse"], (parts["Browse"], tags)
    assert "alone" not in tags, tags
    assert r["requests"] == tags["partner"] + tags["browse"] == demo_api.stats()["total"]
    # The open scenario's schedule is exact: 200/s for 3 s.
    assert parts["Partner"]["iterations"]["planned"] == 600, parts["Partner"]["iterations"]
    assert parts["Partner"]["iterations"]["started"] == 600, parts["Partner"]["iterations"]
    assert parts["Partner"]["model"] == "open" and parts["Browse"]["model"] == "closed"
    assert parts["Browse"]["users"]["planned"] == 20
    books_hold(parts["Partner"], closed=False)
    books_hold(parts["Browse"], closed=True)
    books_hold(r, closed=False)
    # The run's books are the scenarios' summed.
    for key in ("planned", "started", "finished", "cut_off", "dropped", "not_started"):
        assert r["iterations"][key] == sum(p["iterations"][key] for p in parts.values()), key
    # Each scenario's tasks by their own names, the run's by SCENARIO.TASK.
    assert [t["name"] for t in parts["Browse"]["tasks"]] == ["product", "orders"]
    assert [t["name"] for t in r["tasks"]] == ["Partner.products", "Browse.product",
                                               "Browse.orders"]
    # start="1s": the run lasts until Browse's 1 s + 3 s are over.
    assert r["planned_duration_s"] == 4, r["planned_duration_s"]
    assert r["scenario"] == "mix" and r["mode"] == "scenarios" and r["model"] == "mixed"
    # The scenario's own threshold, judged on its own numbers.
    assert [t["key"] for t in parts["Partner"]["thresholds"]] == ["error_rate"]
    assert r["passed"] and parts["Partner"]["passed"] and parts["Browse"]["passed"]
    assert "Scenarios" in proc.stdout and "Partner (open)" in proc.stdout, proc.stdout
    # JUnit: the run's suite, then one per scenario with its own threshold.
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["mix", "mix.Partner", "mix.Browse"]
    cases = [c.get("name") for c in suites[1].findall("testcase")]
    assert cases == ["run", "error_rate", "products"], cases
    if shutil.which("xmllint"):
        xsd = os.path.join(os.path.dirname(__file__), "junit.xsd")
        v = subprocess.run(["xmllint", "--noout", "--schema", xsd, str(junit)],
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stderr


def test_the_ndjson_stream_carries_each_scenario(demo_api, scenario_file, tmp_path):
    path = scenario_file(MIX)
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--scenario", "Alone",
                         "--scenario", "Partner", "--output", "ndjson")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    snaps = [j for j in lines if j.get("type") == "snapshot"]
    assert snaps and all(sorted(s["scenarios"]) == ["Alone", "Partner"] for s in snaps), snaps[-1]
    last = snaps[-1]
    assert last["requests"] == sum(p["requests"] for p in last["scenarios"].values())
    summary = [j for j in lines if j.get("type") == "summary"][-1]
    assert summary["scenarios"]["Alone"]["iterations"]["planned"] == 5
    assert summary["scenarios"]["Partner"]["iterations"]["planned"] == 600
    tags = demo_api.stats()["tags"]
    assert summary["scenarios"]["Alone"]["requests"] == tags["alone"]
    assert summary["scenarios"]["Partner"]["requests"] == tags["partner"]


def test_dry_run_shows_every_scenario_in_the_order_asked(scenario_file):
    path = scenario_file(MIX)
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--scenario", "Browse",
                         "--scenario", "Partner", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["name"] == "Browse+Partner"
    assert [s["name"] for s in plan["scenarios"]] == ["Browse", "Partner"]
    browse, partner = plan["scenarios"]
    assert browse["start_s"] == 1 and browse["groups"] == ["mix", "ui"]
    assert browse["profile"]["model"] == "closed" and partner["profile"]["rps"] == 200
    assert partner["engine"]["planned_iterations"] == 600
    assert plan["engine"]["total_s"] == 4
    # --all: every class of the file, in the file's order.
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--all", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert [s["name"] for s in json.loads(proc.stdout)["scenarios"]] == [
        "Partner", "Browse", "Alone"]
    # A run of one is the plan it always was: no "scenarios".
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--scenario", "Alone",
                         "--dry-run")
    assert proc.returncode == 0, proc.stderr
    one = json.loads(proc.stdout)
    assert "scenarios" not in one and "start_s" not in one and one["name"] == "Alone"


def test_choosing_scenarios_badly_is_refused_before_any_traffic(scenario_file):
    path = scenario_file(MIX)
    target = ("--target", "http://127.0.0.1:1")
    cases = [
        (("--group", "nightly"), 'no scenario is in group "nightly"; its groups: mix, ui'),
        (("--scenario", "Partner", "--all"), "give one of them"),
        (("--scenario", "Partner", "--scenario", "Partner"), "named twice"),
        (("--scenario", "Nope", "--scenario", "Partner"), 'no scenario named "Nope"'),
        (("--all", "--rps", "5"), "--rps sets one scenario's numbers"),
        (("--all", "--agents", "2"), "runs in this process only for now"),
    ]
    for extra, expected in cases:
        proc = run_loadpilot("run", path, *target, *extra)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert expected in proc.stderr, (extra, proc.stderr)
    # Without a choice the error names every way to make one.
    proc = run_loadpilot("run", path, *target)
    assert proc.returncode == 2
    assert "--all" in proc.stderr and "--group mix|ui" in proc.stderr, proc.stderr


def test_bad_start_and_group_name_the_field(scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s", start="soon", group="night ly")
        class A(VUser):
            @task
            def health(self, client):
                client.get("/health")
    """)
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--dry-run")
    assert proc.returncode == 2, proc.stderr
    assert 'start: must be a duration' in proc.stderr and '(got "soon")' in proc.stderr
    assert 'group: must be a name' in proc.stderr and '(got "night ly")' in proc.stderr


# Browse runs in Python (on_start logs in, the task uses the VUser's own
# state, a check judges it), 10 users with think time; Partner is sent
# natively at 200/s. Every request carries its scenario's tag.
PYMIX = """
from loadpilot import VUser, scenario, task, between, metrics

pages = metrics.counter("pages")

@scenario(users=10, duration="2s", wait=between(0.05, 0.1), group="mix")
class Browse(VUser):
    def on_start(self, client):
        self.seen = 0
        client.get("/health", headers={"X-Demo-Tag": "browse"})

    @task(weight=3)
    def product(self, client):
        self.seen += 1
        pages.add(1)
        client.get(f"/api/products/{1 + self.seen % 5}", headers={"X-Demo-Tag": "browse"})

    def check_product(self, status_code, body):
        assert status_code == 200

    @task
    def orders(self, client):
        client.get("/api/orders", headers={"X-Demo-Tag": "browse"})

@scenario(rps=200, duration="2s", mode="constant", group="mix")
class Partner(VUser):
    @task
    def products(self, client):
        client.get("/api/products", headers={"X-Demo-Tag": "partner"})

@scenario(rps=20, duration="2s", mode="constant", max_vusers=5, group="two",
          thresholds={"pages.count": 1000})
class Search(VUser):
    def on_start(self, client):
        self.q = 0

    @task
    def search(self, client):
        self.q += 1
        pages.add(2)
        client.get(f"/api/products?q={self.q}", headers={"X-Demo-Tag": "search"})
"""


def requests_of(part):
    """Every request a scenario counted: its tasks' and its hooks'."""
    return sum(t["requests"] for t in part["tasks"])


def test_a_python_scenario_runs_beside_a_native_one_and_counts_exactly(demo_api, scenario_file,
                                                                         tmp_path):
    path = scenario_file(PYMIX)
    dry = run_loadpilot("run", path, "--target", demo_api.url, "--group", "mix", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    runtimes = {s["name"]: {t["name"]: t["runtime"] for t in s["tasks"]}
                for s in json.loads(dry.stdout)["scenarios"]}
    assert runtimes["Browse"]["product"] == "python", runtimes
    assert runtimes["Partner"]["products"] == "native", runtimes
    proc, r = run_json(path, demo_api.url, tmp_path, "--group", "mix")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    tags = demo_api.stats()["tags"]
    parts = r["scenarios"]
    # Each scenario counted what the target got from it, hooks included.
    assert requests_of(parts["Browse"]) == tags["browse"], (parts["Browse"]["tasks"], tags)
    assert parts["Partner"]["requests"] == tags["partner"], (parts["Partner"], tags)
    assert r["requests"] == tags["browse"] + tags["partner"] == demo_api.stats()["total"], (
        r["requests"], tags)
    assert parts["Partner"]["iterations"]["started"] == 400, parts["Partner"]["iterations"]
    assert parts["Browse"]["users"]["planned"] == 10, parts["Browse"]["users"]
    books_hold(parts["Partner"], closed=False)
    books_hold(parts["Browse"], closed=True)
    books_hold(r, closed=False)
    for key in ("planned", "started", "finished", "cut_off", "dropped", "not_started"):
        assert r["iterations"][key] == sum(p["iterations"][key] for p in parts.values()), key
    # The Python scenario's hook row is its own, and the run's by SCENARIO.ROW.
    browse = {t["name"]: t for t in parts["Browse"]["tasks"]}
    assert browse["on_start"]["requests"] == 10, browse
    assert browse["product"]["requests"] > 0 and browse["orders"]["requests"] > 0, browse
    names = [t["name"] for t in r["tasks"]]
    assert names[:3] == ["Browse.product", "Browse.orders", "Partner.products"], names
    assert "Browse.on_start" in names, names
    assert r["errors"] == 0 and r["passed"], r


def test_two_python_scenarios_run_together(demo_api, scenario_file, tmp_path):
    path = scenario_file(PYMIX)
    proc, r = run_json(path, demo_api.url, tmp_path, "--scenario", "Browse", "--scenario",
                       "Search")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    tags = demo_api.stats()["tags"]
    parts = r["scenarios"]
    assert requests_of(parts["Browse"]) == tags["browse"], (parts["Browse"]["tasks"], tags)
    assert requests_of(parts["Search"]) == tags["search"], (parts["Search"]["tasks"], tags)
    assert sum(t["requests"] for t in r["tasks"]) == demo_api.stats()["total"], (r["tasks"], tags)
    assert "partner" not in tags, tags
    # A custom metric both add to: each scenario's own values, and the run's
    # are their sum; Search's threshold judges Search's.
    browse = {t["name"]: t["requests"] for t in parts["Browse"]["tasks"]}
    search = {t["name"]: t["requests"] for t in parts["Search"]["tasks"]}
    assert parts["Browse"]["custom_metrics"]["pages"]["count"] == browse["product"], parts["Browse"]
    assert parts["Search"]["custom_metrics"]["pages"]["count"] == 2 * search["search"], (
        parts["Search"]["custom_metrics"], search)
    assert r["custom_metrics"]["pages"]["count"] == browse["product"] + 2 * search["search"]
    gate = parts["Search"]["thresholds"][0]
    assert gate["key"] == "pages.count" and gate["actual"] == 2 * search["search"], gate
    # The Scenarios section prints a custom metric's count in its own
    # unit, not in ms.
    assert re.search(r"pages\.count +actual [\d.]+ <= limit", proc.stdout), proc.stdout
    # Search's open schedule is exact: 20/s for 2 s, each one started or
    # dropped for want of one of its 5 VUsers.
    it = parts["Search"]["iterations"]
    assert it["planned"] == 40 and it["started"] + it["dropped"] == 40, it
    books_hold(parts["Search"], closed=False)
    books_hold(parts["Browse"], closed=True)
    books_hold(r, closed=False)
    for key in ("planned", "started", "finished", "cut_off", "dropped", "not_started"):
        assert r["iterations"][key] == sum(p["iterations"][key] for p in parts.values()), key
    assert r["errors"] == 0 and r["passed"], r


def test_a_python_scenario_among_several_keeps_its_errors_and_hooks(demo_api, scenario_file,
                                                                    tmp_path):
    # Was refused ("runs in Python ... natively only for now"); now B's
    # on_start runs, and its failing check counts in B alone.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s", mode="constant")
        class A(VUser):
            @task
            def health(self, client):
                client.get("/health", headers={"X-Demo-Tag": "a"})

        @scenario(rps=5, duration="1s", mode="constant")
        class B(VUser):
            def on_start(self, client):
                self.n = 0

            @task
            def health(self, client):
                client.get("/health", headers={"X-Demo-Tag": "b"})

            def check_health(self, status_code, body):
                assert status_code == 418, "not a teapot"
    """)
    proc, r = run_json(path, demo_api.url, tmp_path, "--all")
    assert proc.returncode == 1, proc.stderr + proc.stdout
    parts = r["scenarios"]
    tags = demo_api.stats()["tags"]
    assert parts["A"]["requests"] == tags["a"] == 5 and parts["A"]["errors"] == 0, parts["A"]
    assert parts["B"]["requests"] == tags["b"] == 5 and parts["B"]["errors"] == 5, parts["B"]
    assert r["errors"] == 5, r


def test_the_picker_offers_groups_and_all(scenario_file):
    from test_picker import plan_of, run_in_pty
    path = scenario_file(MIX)
    # Partner, Browse, Alone, then "group mix", "group ui", then "all 3".
    code, out = run_in_pty(["run", path, "--target", "http://127.0.0.1:1", "--dry-run"], b"4")
    assert code == 0, out
    assert "group mix: Partner + Browse" in out and "all 3 together" in out, out
    assert [s["name"] for s in plan_of(out)["scenarios"]] == ["Partner", "Browse"]
    code, out = run_in_pty(["run", path, "--target", "http://127.0.0.1:1", "--dry-run"], b"6")
    assert code == 0, out
    assert len(plan_of(out)["scenarios"]) == 3


def final_metrics(path, target, *choice):
    """/metrics of a run of PATH choosing CHOICE, scraped once it is over."""
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    proc = subprocess.Popen(
        [os.path.abspath(BIN), "run", path, "--target", target, *choice,
         "--metrics-port", "0", "--metrics-linger", "20s", "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        stdin=subprocess.DEVNULL)
    try:
        url = None
        for line in proc.stderr:
            m = re.search(r"serving final values at (\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "no linger line"
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_metrics_label_each_task_with_its_scenario(demo_api, scenario_file):
    path = scenario_file(MIX)
    text = final_metrics(path, demo_api.url, "--scenario", "Alone", "--scenario", "Partner")
    tags = demo_api.stats()["tags"]
    for scenario, task, tag in (("Alone", "health", "alone"), ("Partner", "products", "partner")):
        line = f'loadpilot_task_requests_total{{scenario="{scenario}",task="{task}"}} {tags[tag]}'
        assert line in text, (line, [t for t in text.splitlines() if "task_requests" in t])
    total = tags["alone"] + tags["partner"]
    assert f"loadpilot_requests_total {total}" in text


def test_metrics_label_a_python_scenarios_hook_rows_with_it(demo_api, scenario_file):
    text = final_metrics(scenario_file(PYMIX), demo_api.url, "--group", "mix")
    tags = demo_api.stats()["tags"]
    counts = {}
    for line in text.splitlines():
        m = re.match(r'loadpilot_task_requests_total\{scenario="(\w+)",task="(\w+)"\} (\d+)', line)
        if m:
            counts[(m.group(1), m.group(2))] = int(m.group(3))
    assert counts[("Browse", "on_start")] == 10, counts
    assert sum(n for (s, _), n in counts.items() if s == "Browse") == tags["browse"], (counts, tags)
    assert counts[("Partner", "products")] == tags["partner"], (counts, tags)


def test_the_report_has_a_section_per_scenario_in_chromium(demo_api, scenario_file, tmp_path):
    from test_report import open_in_browser
    path = scenario_file(MIX)
    report = tmp_path / "report.html"
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--scenario", "Alone",
                         "--scenario", "Partner", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    seen = open_in_browser(report, "several-scenarios")
    text = seen["text"]
    assert "Scenarios" in seen["section_titles"], seen["section_titles"]
    # The summary table, then each scenario's own section with its tasks
    # by their own names and its own threshold.
    for needle in ("Alone", "Partner", "health", "products", "error_rate"):
        assert needle in text, needle
    assert "\tPartner\topen\t600\t" in text and "\tAlone\topen\t5\t" in text, text
    # Bare task names appear only in the scenarios' own sections.
    assert "\nproducts\t600\t" in text and "\nhealth\t5\t" in text, text


def test_an_interrupted_run_of_several_keeps_every_book(make_demo_api, scenario_file, tmp_path):
    # 50 ms responses, so iterations are in flight when SIGINT comes.
    api = make_demo_api("--latency-ms", "50")
    path = scenario_file(MIX.replace('duration="3s"', 'duration="30s"'))
    results = tmp_path / "r.json"
    proc = subprocess.Popen(
        [os.path.abspath(BIN), "run", path, "--target", api.url, "--group", "mix",
         "--results-json", str(results), "--no-metrics", "--no-report", "--output", "ndjson"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    # Both scenarios under way (Browse starts at 1 s): then stop.
    for line in proc.stdout:
        if '"snapshot"' in line and json.loads(line)["scenarios"]["Browse"]["requests"] > 0:
            break
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130, proc.returncode
    r = json.loads(results.read_text())
    assert r["interrupted"] and not r["passed"]
    parts = r["scenarios"]
    books_hold(parts["Partner"], closed=False)
    books_hold(parts["Browse"], closed=True)
    books_hold(r, closed=False)
    assert parts["Partner"]["iterations"]["not_started"] > 0, parts["Partner"]["iterations"]
    for key in ("planned", "started", "finished", "cut_off", "dropped", "not_started"):
        assert r["iterations"][key] == sum(p["iterations"][key] for p in parts.values()), key
    tags = api.stats()["tags"]
    # A request that reached the wire is counted, cut off or not.
    for name, tag in (("Partner", "partner"), ("Browse", "browse")):
        it = parts[name]["iterations"]
        assert parts[name]["requests"] + it["cut_off"] >= tags[tag] >= parts[name]["requests"], (
            name, parts[name]["requests"], it, tags)


# A scenario's own gate ends the whole run: Api breaks its p99 once the
# demo holds its API answers (from the fifth second); Health, a route the
# stalls leave alone, keeps passing.
ABORT_ONE = """
from loadpilot import VUser, scenario, task

@scenario(rps=50, duration="60s", mode="constant",
          thresholds={"p99_ms": {"limit": 100, "abort_on_fail": True, "abort_after": "1s"}})
class Api(VUser):
    @task
    def products(self, client):
        client.get("/api/products")

@scenario(rps=20, duration="60s", mode="constant", thresholds={"p99_ms": 1000})
class Health(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def test_a_scenarios_abort_on_fail_ends_the_run_and_names_it(make_demo_api, scenario_file,
                                                             tmp_path):
    api = make_demo_api("--stall-every", "5", "--stall-for", "0.5")
    proc, r = run_json(scenario_file(ABORT_ONE), api.url, tmp_path, "--all", timeout=60)
    assert proc.returncode == 1, proc.stderr
    part = r["scenarios"]["Api"]
    [t] = part["thresholds"]
    assert t["aborted"] and not t["passed"], t
    # Ended within the grace + 2 s of the breach, far before the 60 s.
    assert r["duration_s"] <= t["broken_at_s"] + 1 + 2, (r["duration_s"], t)
    assert part["aborted"]["threshold"] == "p99_ms"
    assert r["aborted"]["threshold"] == "Api.p99_ms"
    assert r["aborted"]["message"].startswith("scenario Api: threshold p99_ms broke at ")
    # Health's own gate held; like any run stopped early, its numbers cover
    # only the part that ran, and it says so.
    health = r["scenarios"]["Health"]
    assert [t["passed"] for t in health["thresholds"]] == [True]
    assert [p[:13] for p in health["problems"]] == ["stopped early"]
    assert not part["passed"] and not r["passed"]
    assert r["interrupted"]
    for name in ("Api", "Health"):
        books_hold(r["scenarios"][name], closed=False)
    books_hold(r, closed=False)
    assert "(stopped by threshold Api.p99_ms)" in proc.stdout
