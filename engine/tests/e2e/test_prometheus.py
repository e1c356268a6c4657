"""Live monitoring end to end: a real Prometheus server scrapes a running
`loadpilot run` against demo-api; every documented series and every panel
query of the shipped Grafana dashboard is checked against what it stored."""
import json
import math
import os
import pathlib
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import BIN

SOURCE = pathlib.Path(os.environ.get("LOADPILOT_SOURCE_DIR", "."))
DASHBOARD = SOURCE / "cli/loadpilot/templates/monitoring/grafana/dashboards/loadpilot.json"
RPS = 150

SHOP = """
from loadpilot import VUser, scenario, task, LoadClient

@scenario(rps={RPS}, duration="{DURATION}", mode="constant")
class MonitoredShop(VUser):
    @task(weight=3)
    def products(self, client: LoadClient):
        client.get("/api/products")

    @task(weight=2)
    def product(self, client: LoadClient):
        client.get("/api/products/7")

    @task(weight=1)
    def order(self, client: LoadClient):
        client.post("/api/orders", json={"product_id": 7, "qty": 1})
"""
TASKS = {"products", "product", "order"}

GLOBAL_SERIES = [
    "loadpilot_current_rps", "loadpilot_target_rps", "loadpilot_active_workers",
    "loadpilot_latency_p50_ms", "loadpilot_latency_p95_ms", "loadpilot_latency_p99_ms",
    "loadpilot_latency_max_ms", "loadpilot_requests_total", "loadpilot_errors_total",
    "loadpilot_latency_mean_ms", "loadpilot_elapsed_secs",
]
TASK_SERIES = [
    "loadpilot_task_requests_total", "loadpilot_task_errors_total",
    "loadpilot_task_latency_p50_ms", "loadpilot_task_latency_p99_ms",
    "loadpilot_task_latency_mean_ms",
]
# The public names end in _ms as the interface requires; promtool's linter
# prefers base units and says so. That is the only complaint allowed.
UNIT_LINT = re.compile(r"^loadpilot_(task_)?latency_(p50|p95|p99|max|mean)_ms metric names "
                       r"should not contain abbreviated units$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics_env():
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    return env


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def promtool_check(body):
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=30)
    problems = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    unexpected = [line for line in problems if not UNIT_LINT.match(line)]
    # 0: clean; 3: lint findings only (1 would be a parse error).
    assert p.returncode in (0, 3) and not unexpected, (p.returncode, problems)


class Prometheus:
    """Debian's prometheus server on loopback, scraping one target every second."""

    def __init__(self, tmp_path, target):
        self.port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: loadpilot\n    scrape_interval: 1s\n"
            f"    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n")
        self.log = open(tmp_path / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

        def ready():
            try:
                return "Ready" in http_get(self.url + "/-/ready", timeout=1)
            except (urllib.error.URLError, ConnectionError):
                return False
        wait_for(ready, 30, "prometheus to be ready")

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = json.loads(http_get(self.url + "/api/v1/query?" + urllib.parse.urlencode(params)))
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr, at=None):
        result = self.query(expr, at)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    def by_label(self, expr, label):
        return {r["metric"][label]: float(r["value"][1]) for r in self.query(expr)}

    def query_range(self, expr, start, end):
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "1"}
        body = json.loads(
            http_get(self.url + "/api/v1/query_range?" + urllib.parse.urlencode(params)))
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def dashboard_panels():
    dash = json.loads(DASHBOARD.read_text())
    return dash, [p for p in dash["panels"] if p["type"] != "row"]


def panel_exprs():
    _, panels = dashboard_panels()
    for p in panels:
        for t in p["targets"]:
            expr = (t["expr"].replace("$task", ".*").replace("$scenario", ".*")
                    .replace("$__rate_interval", "5s"))
            yield p["title"], expr


def test_prometheus_scrapes_a_run_and_the_dashboard_queries_work(
        make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--error-rate", "5")
    path = scenario_file(SHOP.replace("{RPS}", str(RPS)).replace("{DURATION}", "8s"))
    port = free_port()
    prom = Prometheus(tmp_path, f"127.0.0.1:{port}")
    results = tmp_path / "r.json"
    run = subprocess.Popen(
        [BIN, "run", path, "--target", api.url, "--results-json", str(results),
         "--metrics-host", "127.0.0.1", "--metrics-port", str(port), "--metrics-linger", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=metrics_env(),
        cwd=tmp_path)
    try:
        first = run.stdout.readline()
        assert f"http://127.0.0.1:{port}/metrics" in first, first
        # Before the first snapshot every task already has its series.
        early = http_get(f"http://127.0.0.1:{port}/metrics")
        for name in TASK_SERIES:
            for task in TASKS:
                assert f'{name}{{task="{task}"}} 0' in early, (name, task, early)
        assert 'loadpilot_info{model="open",scenario="MonitoredShop",version="' in early

        time.sleep(3)
        promtool_check(http_get(f"http://127.0.0.1:{port}/metrics"))

        def finished():
            try:
                return json.loads(results.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return None
        r = wait_for(finished, 40, "the results file")
        total = r["requests"]
        assert total == api.stats()["total"] and total > RPS * 7
        # Lingering: Prometheus gets the final values in.
        wait_for(lambda: prom.query("loadpilot_requests_total")
                 and prom.value("loadpilot_requests_total") == total, 20,
                 f"loadpilot_requests_total == {total}")
        end = time.time()

        for name in GLOBAL_SERIES:
            assert prom.query(name), name
        # The last update came at or after the profile's end.
        assert prom.value("loadpilot_elapsed_secs") >= r["planned_duration_s"] - 1
        for name in TASK_SERIES:
            assert set(prom.by_label(name, "task")) == TASKS, name
        assert prom.value("loadpilot_errors_total") == r["errors"] > 0
        kinds = prom.by_label("loadpilot_errors_by_kind_total", "kind")
        assert set(kinds) == {"connect", "timeout", "reset", "protocol", "http_4xx", "http_5xx",
                              "check_failed", "exception", "redirect", "stream_reset",
                              "grpc"}
        assert kinds["http_5xx"] == r["errors_by_kind"]["http_5xx"] > 0
        assert sum(kinds.values()) == r["errors"]
        # Every request in its status class, and the bytes, as in the results.
        classes = prom.by_label("loadpilot_responses_total", "class")
        assert classes == r["responses"] and classes["5xx"] > 0, classes
        assert sum(classes.values()) == total
        assert prom.value("loadpilot_bytes_sent_total") == r["bytes"]["sent"] > 0
        assert prom.value("loadpilot_bytes_received_total") == r["bytes"]["received"] > 0
        tasks = {t["name"]: t for t in r["tasks"]}
        assert prom.by_label("loadpilot_task_requests_total", "task") == {
            n: t["requests"] for n, t in tasks.items()}
        assert prom.by_label("loadpilot_task_errors_total", "task") == {
            n: t["errors"] for n, t in tasks.items()}
        # The histogram saw every request exactly once.
        assert prom.by_label("loadpilot_request_duration_seconds_count", "task") == {
            n: t["requests"] for n, t in tasks.items()}
        assert prom.by_label('loadpilot_request_duration_seconds_bucket{le="+Inf"}', "task") == {
            n: t["requests"] for n, t in tasks.items()}
        p99 = prom.value("histogram_quantile(0.99, sum by (le) "
                         "(increase(loadpilot_request_duration_seconds_bucket[5m])))")
        assert 0 < p99 < 1, p99

        # Rates and gauges follow the run.
        assert prom.value("max_over_time(loadpilot_target_rps[5m])") == RPS
        peak = prom.value("max_over_time(loadpilot_current_rps[5m])")
        assert 0.7 * RPS <= peak <= 1.3 * RPS, peak
        assert prom.value("max_over_time(loadpilot_active_workers[5m])") >= 0
        for q in ("p50", "p95", "p99", "max"):
            assert prom.value(f"max_over_time(loadpilot_latency_{q}_ms[5m])") > 0, q
        assert prom.value("loadpilot_latency_p50_ms") <= prom.value("loadpilot_latency_p99_ms") \
            <= prom.value("loadpilot_latency_max_ms")
        for name in ("loadpilot_task_latency_p50_ms", "loadpilot_task_latency_p99_ms",
                     "loadpilot_task_latency_mean_ms"):
            peaks = prom.by_label(f"max_over_time({name}[5m])", "task")
            assert set(peaks) == TASKS and all(v > 0 for v in peaks.values()), (name, peaks)
        assert prom.value('loadpilot_info{scenario="MonitoredShop"}') == 1
        assert prom.value('loadpilot_phase{phase="done"}') == 1
        assert prom.value('max_over_time(loadpilot_phase{phase="steady"}[5m])') == 1
        assert prom.value('loadpilot_phase{phase="steady"}') == 0

        # The $task variable's query lists every task.
        labels = json.loads(http_get(prom.url + "/api/v1/label/task/values?" + urllib.parse
                                     .urlencode({"match[]": "loadpilot_task_requests_total"})))
        assert set(labels["data"]) == TASKS

        # Every panel query of the shipped dashboard returns data.
        start = end - 60
        checked = 0
        for title, expr in panel_exprs():
            series = prom.query_range(expr, start, end)
            values = [float(v) for s in series for _, v in s["values"]]
            assert values, (title, expr)
            assert any(not math.isnan(v) for v in values), (title, expr)
            if "Task" in title:
                assert {s["metric"]["task"] for s in series} == TASKS, (title, expr)
            checked += 1
        assert checked >= 13
        # The error-rate panel agrees with the run's own error percentage.
        rate = prom.value(next(e for t, e in panel_exprs() if t == "Error Rate %")
                          .replace("[5s]", "[2m]"), at=end)
        assert abs(rate - r["error_rate"]) < 2.5, (rate, r["error_rate"])

        # A signal ends the linger at once; the run itself passed.
        run.send_signal(signal.SIGINT)
        started = time.monotonic()
        run.wait(timeout=10)
        assert time.monotonic() - started < 3
        assert run.returncode == 0, run.stderr.read()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        prom.close()


def test_linger_serves_final_values_then_exits(demo_api, scenario_file, tmp_path):
    path = scenario_file(SHOP.replace("{RPS}", "50").replace("{DURATION}", "1s"))
    port = free_port()
    results = tmp_path / "r.json"
    run = subprocess.Popen(
        [BIN, "run", path, "--target", demo_api.url, "--results-json", str(results),
         "--metrics-host", "127.0.0.1", "--metrics-port", str(port), "--metrics-linger", "3s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=metrics_env(),
        cwd=tmp_path)
    try:
        wait_for(results.exists, 20, "the results file")
        time.sleep(0.2)
        written = time.monotonic()
        body = http_get(f"http://127.0.0.1:{port}/metrics")
        total = json.loads(results.read_text())["requests"]
        assert f"loadpilot_requests_total {total}\n" in body
        assert 'loadpilot_phase{phase="done"} 1' in body
        _, err = run.communicate(timeout=15)
        assert run.returncode == 0
        assert 1.5 < time.monotonic() - written < 5
        assert f"serving final values at http://127.0.0.1:{port}/metrics for 3s" in err
        with pytest.raises(urllib.error.URLError):
            http_get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_busy_metrics_port_fails_before_any_traffic(demo_api, scenario_file):
    path = scenario_file(SHOP.replace("{RPS}", "50").replace("{DURATION}", "2s"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = subprocess.run([BIN, "run", path, "--target", demo_api.url, "--metrics-host",
                            "127.0.0.1", "--metrics-port", str(port)],
                           capture_output=True, text=True, timeout=30, env=metrics_env())
    assert p.returncode == 2
    assert f"127.0.0.1:{port}" in p.stderr and "in use" in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


@pytest.mark.parametrize("option,value,message", [
    ("--metrics-port", "70000", "--metrics-port"),
    ("--metrics-linger", "soon", "--metrics-linger"),
    ("--metrics-host", "999.1.1.1", "999.1.1.1"),
])
def test_bad_metrics_options_exit_2(demo_api, scenario_file, option, value, message):
    path = scenario_file(SHOP.replace("{RPS}", "50").replace("{DURATION}", "1s"))
    p = subprocess.run([BIN, "run", path, "--target", demo_api.url, option, value],
                       capture_output=True, text=True, timeout=30, env=metrics_env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr and value in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0
