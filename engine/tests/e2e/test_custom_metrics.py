"""Custom metrics (docs/scenarios.md#custom-metrics): values a scenario's
tasks and hooks add through loadpilot.metrics appear exactly in the results
file, the ndjson stream and /metrics, with two workers in one process and
with --agents 2; thresholds name them; bad keys and names made per
iteration are refused. The real binary against `loadpilot demo-api`."""
import json
import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import BIN, run_json, run_loadpilot, task_row
from test_distributed import agents, external, nats  # noqa: F401 (fixtures)

SCENARIO = """
    from loadpilot import VUser, metrics, scenario, task

    cart = metrics.trend("cart_items")
    orders = metrics.counter("orders")
    hits = metrics.rate("cache_hit")
    queue = metrics.gauge("queue")
    logins = metrics.counter("logins")

    @scenario(rps=40, duration="2s", ramp_up=0, mode="constant",
              thresholds={"cart_items.p95": 3, "orders.count": 1000000, "cache_hit.rate": 1,
                          "queue.max": 4})
    class Shop(VUser):
        def on_start(self, client):
            client.get("/health")
            logins.add()

        @task
        def buy(self, client):
            client.get("/api/products/1")
            cart.add(3)
            orders.add(2)
            hits.add(True)
            queue.add(5)

        @task
        def look(self, client):
            client.get("/health")
            cart.add(0.5)
            hits.add(False)
            queue.add(-1)
"""


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def series(text, name, metric, stat=None):
    """The value of series NAME{metric=METRIC[, stat=STAT]} in exposition TEXT."""
    labels = f'metric="{metric}"' + (f',stat="{stat}"' if stat else "")
    m = re.search(rf"^{name}{{{labels}}} (\S+)$", text, re.M)
    assert m, (name, metric, stat, [l for l in text.splitlines() if "custom" in l])
    return float(m.group(1))


# promtool's lint on the seed's own latency names, which stay as they are.
UNIT_LINT = re.compile(r"^loadpilot_(task_)?latency_(p50|p95|p99|max|mean)_ms metric names "
                       r"should not contain abbreviated units$")


def promtool_check(body):
    """The exposition parses, and lints clean apart from UNIT_LINT."""
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=30)
    problems = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    unexpected = [line for line in problems if not UNIT_LINT.match(line)]
    assert p.returncode in (0, 3) and not unexpected, (p.returncode, problems)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_with_metrics(path, target, tmp_path, *extra):
    """Runs with --output ndjson and /metrics on a free port, lingering;
    returns (results, the exposition text once the results file is written,
    the ndjson snapshots, stderr)."""
    results, out, err = tmp_path / "r.json", tmp_path / "out.ndjson", tmp_path / "err.txt"
    port = free_port()
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(
            [os.path.abspath(BIN), "run", path, "--target", target, "--results-json", str(results),
             "--no-report", "--output", "ndjson", "--metrics-host", "127.0.0.1",
             "--metrics-port", str(port), "--metrics-linger", "20s", *extra],
            stdout=stdout, stderr=stderr, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
        try:
            # The results file is written (renamed into place whole) before
            # the exporter lingers with the final values.
            deadline = time.monotonic() + 90
            while not results.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert results.exists(), err.read_text()
            r = json.loads(results.read_text())
            text = http_get(f"http://127.0.0.1:{port}/metrics")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    snapshots = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    snapshots = [s for s in snapshots if s.get("type") == "snapshot"]
    return r, text, snapshots, err.read_text()


def check_exact(r, demo_api, err=""):
    """The results' custom metrics equal what the tasks added, exactly;
    returns the iterations of buy and look."""
    buy, look = task_row(r, "buy")["iterations"], task_row(r, "look")["iterations"]
    assert buy > 0 and look > 0 and buy + look == 80, err
    # Every iteration sent one request, every VUser's on_start one more.
    logged_in = task_row(r, "on_start")["requests"]
    assert r["requests"] == demo_api.stats()["total"] == 80 + logged_in
    c = r["custom_metrics"]
    assert set(c) == {"cart_items", "orders", "cache_hit", "queue", "logins"}
    assert c["orders"] == {"kind": "counter", "count": 2 * buy, "adds": buy}
    assert c["cache_hit"]["kind"] == "rate"
    assert (c["cache_hit"]["trues"], c["cache_hit"]["total"]) == (buy, buy + look)
    assert c["cache_hit"]["rate"] == pytest.approx(buy / (buy + look))
    cart = c["cart_items"]
    assert cart["kind"] == "trend" and cart["count"] == buy + look
    assert (cart["min"], cart["max"], cart["p95"]) == (0.5, 3, 3)
    assert cart["mean"] == pytest.approx((3 * buy + 0.5 * look) / (buy + look))
    assert (c["queue"]["kind"], c["queue"]["min"], c["queue"]["max"]) == ("gauge", -1, 5)
    assert c["queue"]["count"] == buy + look
    # on_start ran once per VUser: its row's requests count them, the counter too.
    assert c["logins"]["count"] == logged_in > 0

    th = {t["key"]: t for t in r["thresholds"]}
    assert th["cart_items.p95"]["actual"] == 3 and th["cart_items.p95"]["passed"]
    assert th["orders.count"]["actual"] == 2 * buy and th["orders.count"]["passed"]
    assert th["queue.max"]["actual"] == 5 and not th["queue.max"]["passed"]
    assert not r["passed"]
    return buy, look


@pytest.mark.parametrize("extra", [["--workers", "2"], ["--agents", "2"]],
                         ids=["2-workers", "2-agents"])
def test_custom_metrics_are_merged_exactly(demo_api, scenario_file, tmp_path, extra):
    path = scenario_file(SCENARIO)
    r, text, snapshots, err = run_with_metrics(path, demo_api.url, tmp_path, "--seed", "5",
                                               *extra)
    buy, look = check_exact(r, demo_api, err)
    c = r["custom_metrics"]
    # ndjson: the last snapshot carries the same whole-run figures.
    assert snapshots[-1]["custom_metrics"]["orders"]["count"] == 2 * buy
    assert snapshots[-1]["custom_metrics"]["cart_items"]["count"] == buy + look

    # /metrics: the same counts, the name as a label.
    assert series(text, "loadpilot_custom_count_total", "orders") == 2 * buy
    assert series(text, "loadpilot_custom_trend_values_total", "cart_items") == buy + look
    assert series(text, "loadpilot_custom_trend", "cart_items", "max") == 3
    assert series(text, "loadpilot_custom_rate_true_total", "cache_hit") == buy
    assert series(text, "loadpilot_custom_rate_values_total", "cache_hit") == buy + look
    assert series(text, "loadpilot_custom_value", "queue", "max") == 5
    assert series(text, "loadpilot_custom_count_total", "logins") == c["logins"]["count"]
    promtool_check(text)


def test_the_summary_shows_custom_metrics(demo_api, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(SCENARIO), demo_api.url, tmp_path, "--no-report",
                       "--output", "text")
    assert proc.returncode == 1, proc.stderr  # queue.max breaks its limit
    assert "Custom metrics" in proc.stdout
    # In columns; a trend's line breaks between figures at 80 columns,
    # continued under its first figure.
    out = proc.stdout
    assert re.search(r"^  cart_items  trend    count 80  min 0\.5  mean [0-9.]+  p50 ", out, re.M), out
    assert re.search(r"^ {23}(\S+ \S+  )*p99 3  max 3$", out, re.M), out
    assert re.search(r"^  orders      counter  count \d+  \(\d+ adds\)$", out, re.M), out
    assert re.search(r"^  queue       gauge    value -?\d  min -1  max 5$", out, re.M), out
    block = out.split("Custom metrics\n")[1].split("\n\n")[0]
    assert all(len(line) <= 80 for line in block.splitlines()), block
    assert re.search(r"✗ queue.max\s+actual 5\.00 >  limit 4", proc.stdout), proc.stdout


BAD_KEY = """
    from loadpilot import VUser, metrics, scenario, task

    cart = metrics.trend("cart_items")

    @scenario(rps=5, duration="1s", thresholds={"cart_items.p95_ms": 3})
    class Shop(VUser):
        @task
        def buy(self, client):
            client.get("/health")
            cart.add(1)
"""


def test_a_bad_custom_threshold_key_is_refused_before_any_traffic(demo_api, scenario_file):
    path = scenario_file(BAD_KEY)
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report")
    assert proc.returncode == 2, proc.stderr
    assert f"thresholds.cart_items.p95_ms: trend cart_items ({path}:4) has no statistic " \
           "p95_ms; did you mean cart_items.p95?" in proc.stderr, proc.stderr
    assert "use one of count, min, mean" in proc.stderr, proc.stderr
    assert demo_api.stats()["total"] == 0


UNBOUNDED = """
    from loadpilot import VUser, metrics, scenario, task

    @scenario(rps=400, duration="5s", ramp_up=0, mode="constant")
    class Shop(VUser):
        @task
        def buy(self, client):
            self.n = getattr(self, "n", 0) + 1
            metrics.counter(f"order_{id(self)}_{self.n}").add()
"""


def test_names_made_per_iteration_end_the_run_saying_where(demo_api, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(UNBOUNDED), demo_api.url, tmp_path, "--no-report")
    assert proc.returncode != 0
    problems = " ".join(r["problems"]) + proc.stderr
    assert "scenario.py:9: metric 'order_" in problems, problems
    assert "at most 1000 are kept" in problems, problems
    # It ended early, and kept the 1000 names it had.
    assert r["duration_s"] < 4.5
    assert len(r["custom_metrics"]) == 1000


NAN = """
    from loadpilot import VUser, metrics, scenario, task

    cart = metrics.trend("cart_items")

    @scenario(rps=10, duration="1s", ramp_up=0, mode="constant")
    class Shop(VUser):
        @task
        def buy(self, client):
            cart.add(float("nan"))
"""


def test_nan_is_refused_with_a_clear_error(demo_api, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(NAN), demo_api.url, tmp_path, "--no-report")
    assert proc.returncode == 1
    messages = [e["message"] for e in r["top_errors"]]
    assert any("cart_items.add(nan): nan is not a number a metric can hold" in m
               for m in messages), messages
    assert r["custom_metrics"]["cart_items"]["count"] == 0


def test_the_report_shows_custom_metrics_without_errors(demo_api, scenario_file, tmp_path):
    from test_report import embedded_data, open_in_browser
    report = tmp_path / "report.html"
    proc, r = run_json(scenario_file(SCENARIO), demo_api.url, tmp_path, "--report", str(report))
    html = report.read_text()
    assert embedded_data(html)["custom_metrics"] == r["custom_metrics"]
    assert 'id="custom-table"' in html
    # The table renders in Chromium with no page or console error.
    seen = open_in_browser(report, "custom-metrics")
    text = seen["text"]
    assert "Custom metrics" in text
    assert "cart_items\ttrend\t80\t" in text, text
    assert "orders\tcounter\t" in text, text
    assert "queue.max" in text, text


def test_custom_metrics_travel_over_nats(nats, agents, demo_api, scenario_file, tmp_path):
    agents("m1", "m2")
    proc, r = run_json(scenario_file(SCENARIO), demo_api.url, tmp_path, "--no-report",
                       *external(nats, 2))
    assert proc.returncode == 1, proc.stderr  # queue.max breaks its limit
    check_exact(r, demo_api, proc.stderr)


CART = """
    from loadpilot import VUser, metrics, scenario, task

    cart = metrics.trend("cart_items")

    @scenario(rps=20, duration="1s", ramp_up=0, mode="constant")
    class Shop(VUser):
        @task
        def buy(self, client):
            client.get("/health")
            cart.add(3)
"""


def test_a_custom_threshold_on_the_command_line_is_judged(demo_api, scenario_file, tmp_path):
    path = scenario_file(CART)
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report",
                       "--threshold", "cart_items.p95=2")
    assert proc.returncode == 1, proc.stderr
    [t] = [t for t in r["thresholds"] if t["key"] == "cart_items.p95"]
    assert t["actual"] == 3 and t["limit"] == 2 and not t["passed"], t
    # A statistic the metric has not is named before any traffic.
    before = demo_api.stats()["total"]
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         "--threshold", "cart_items.rate=1")
    assert proc.returncode == 2, proc.stderr
    assert "--threshold cart_items.rate=1: trend cart_items" in proc.stderr, proc.stderr
    assert demo_api.stats()["total"] == before
