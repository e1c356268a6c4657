"""Every planned arrival is accounted for, overload is bounded and said, and
a run ends on time whatever the target does (docs/output.md#iterations,
docs/engine.md#overload)."""
import json
import os
import socket
import subprocess
import threading
import time

from conftest import BIN, interrupt_run, run_json

NATIVE = """
from loadpilot import VUser, scenario, task

@scenario(rps={RPS}, duration="{DURATION}", mode="constant"{EXTRA})
class Api(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""

PYTHON = """
import random
from loadpilot import VUser, scenario, task

@scenario(rps={RPS}, duration="{DURATION}", mode="constant"{EXTRA})
class Api(VUser):
    @task
    def product(self, client):
        client.get(f"/api/products/{random.randint(1, 50)}")
"""


def scenario(source, rps, duration, extra=""):
    return source.replace("{RPS}", str(rps)).replace("{DURATION}", duration).replace(
        "{EXTRA}", extra)


def books_balance(r):
    """The invariants of docs/output.md#iterations."""
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"], it
    planned = round(it["planned"])
    assert it["started"] + it["dropped"] + it["not_started"] == planned, it


def run_measured(path, target, tmp_path, *extra, timeout=60):
    """Runs loadpilot with --results-json; returns (exit code, stdout,
    stderr, results, wall seconds, peak RSS in MB)."""
    results = tmp_path / "r.json"
    start = time.monotonic()
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", target,
                             "--results-json", str(results), "--no-metrics", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_kb = 0

    def watch():
        nonlocal peak_kb
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak_kb = max(peak_kb, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.05)
    t = threading.Thread(target=watch)
    t.start()
    out, err = proc.communicate(timeout=timeout)
    t.join()
    wall = time.monotonic() - start
    assert results.exists(), err
    return proc.returncode, out, err, json.loads(results.read_text()), wall, peak_kb / 1024


def test_overload_native_is_bounded_counted_and_said(demo_api, scenario_file, tmp_path):
    # A million arrivals a second against one demo-api thread: far past what
    # this machine can send. Memory stays bounded, the run ends on time, the
    # excess is counted as dropped and the summary names the bottleneck.
    path = scenario_file(scenario(NATIVE, 1000000, "4s"))
    code, out, err, r, wall, rss_mb = run_measured(path, demo_api.url, tmp_path)
    assert code == 1, err  # the asked load was not delivered: a failed run
    assert wall < 4 + 2 + 4, wall
    assert rss_mb < 250, rss_mb
    books_balance(r)
    assert r["iterations"]["dropped"] > 1_000_000, r["iterations"]
    # The generator's own limit, or its machine's when its threads waited
    # for the cores it shares with the target; never unknown.
    assert r["overload"]["bottleneck"] in ("generator", "machine", "target"), r["overload"]
    assert "could not keep up" in out
    assert any("not delivered" in p for p in r["problems"]), r["problems"]
    assert r["passed"] is False
    # Every request that reached the wire is counted: what demo-api served
    # lies between what finished and what finished or was cut off.
    served = demo_api.stats()["total"]
    assert r["requests"] <= served <= r["requests"] + r["iterations"]["cut_off"], (served, r)


def test_overload_python_is_bounded_and_counted(demo_api, scenario_file, tmp_path):
    path = scenario_file(scenario(PYTHON, 1000000, "3s", ", max_vusers=50"))
    code, out, err, r, wall, rss_mb = run_measured(path, demo_api.url, tmp_path)
    assert code == 1, err
    assert wall < 3 + 2 + 1.2 + 4, wall
    assert rss_mb < 300, rss_mb
    books_balance(r)
    assert r["iterations"]["dropped_no_vuser"] > 100_000, r["iterations"]
    assert r["requests"] > 100
    assert r["overload"] is not None


def test_a_task_that_raises_before_sending_fails_error_rate(demo_api, scenario_file,
                                                            tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=10, duration="1s", mode="constant", thresholds={"error_rate": 1})
        class Broken(VUser):
            @task
            def broken(self, client):
                raise RuntimeError("no token")
                client.get("/health")
    """)
    p, r = run_json(path, demo_api.url, tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert r["requests"] == 0
    assert r["errors"] == r["attempts"] == 10
    assert r["error_rate"] == 100
    assert r["passed"] is False
    assert [t["passed"] for t in r["thresholds"]] == [False]
    books_balance(r)
    assert demo_api.stats()["total"] == 0


def test_error_rate_never_exceeds_100_percent(demo_api, scenario_file, tmp_path):
    # A request that fails and then an exception in the same iteration: two
    # failed attempts of two, not 200%.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=10, duration="1s", mode="constant")
        class Api(VUser):
            @task
            def missing(self, client):
                client.get("/no/such/route")
                raise ValueError("after a 404")
    """)
    p, r = run_json(path, demo_api.url, tmp_path)
    assert r["requests"] == 10
    assert r["errors"] == r["attempts"] == 20
    assert r["error_rate"] == 100
    books_balance(r)


MIXED = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=40, duration="1s", mode="constant")
    class Mixed(VUser):
        @task
        def health(self, client):
            client.get("/health")

        @task
        def fetch(self, client):
            client.get("/health")
            client.get("/api/products/1")

        @task
        def compute(self, client):
            sum(range(1000))
"""


def test_books_hold_per_task_for_tasks_that_send_and_one_that_does_not(
        demo_api, scenario_file, tmp_path):
    # Per task, requests >= the iterations that reached the wire
    # (docs/output.md#iterations); a task that only computes has none, and
    # that is no violation. Locally and through agents' frames.
    path = scenario_file(MIXED)
    for extra in ([], ["--agents", "2"]):
        p, r = run_json(path, demo_api.url, tmp_path, "--no-report", *extra)
        assert p.returncode == 0, p.stdout + p.stderr
        assert r["passed"] is True and r["problems"] == [], r["problems"]
        books_balance(r)
        tasks = {t["name"]: t for t in r["tasks"]}
        for t in tasks.values():
            assert t["requests"] >= t["wire_iterations"], t
        native, fetch, compute = tasks["health"], tasks["fetch"], tasks["compute"]
        assert native["iterations"] > 0 and fetch["iterations"] > 0, tasks
        # A native task sends one request per iteration.
        assert native["wire_iterations"] == native["iterations"] == native["requests"]
        assert fetch["wire_iterations"] == fetch["iterations"]
        assert fetch["requests"] == 2 * fetch["iterations"]
        assert compute["iterations"] > 0, compute
        assert compute["requests"] == compute["wire_iterations"] == 0, compute


def silent_server():
    """Accepts connections and never answers; returns (url, close)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                conns.append(c)
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join()
        for c in conns:
            c.close()
        srv.close()
    return f"http://127.0.0.1:{srv.getsockname()[1]}", close


def test_a_request_left_in_flight_by_its_iteration_never_passes_silently(scenario_file,
                                                                          tmp_path):
    # asyncio.wait_for() cancels the client call's future, not the request:
    # the iteration ends with its request still on the wire, and one whose
    # response never comes before the run ends was never counted. This run
    # once PASSED with 0 requests while 20 went out; the per-task books
    # (requests >= iterations that reached the wire) make it fail instead.
    url, close = silent_server()
    try:
        path = scenario_file("""
            import asyncio
            from loadpilot import VUser, scenario, task

            @scenario(rps=20, duration="1s", mode="constant")
            class Impatient(VUser):
                @task
                async def impatient(self, client):
                    try:
                        await asyncio.wait_for(client.get("/x"), 0.05)
                    except asyncio.TimeoutError:
                        pass
        """)
        p, r = run_json(path, url, tmp_path, "--no-report", "--drain", "1s")
    finally:
        close()
    (t,) = r["tasks"]
    assert t["wire_iterations"] == t["iterations"] == 20, t
    if t["requests"] < t["wire_iterations"]:
        assert p.returncode == 1 and r["passed"] is False, p.stdout
        assert any(f"task impatient counted {t['requests']} requests but 20 iterations" in x
                   for x in r["problems"]), r["problems"]


def test_a_silent_target_is_cut_off_on_time(scenario_file, tmp_path):
    url, close = silent_server()
    try:
        path = scenario_file(scenario(NATIVE, 20, "2s"))
        code, out, err, r, wall, _ = run_measured(path, url, tmp_path, "--timeout", "60s",
                                                  "--drain", "1s", "--max-connections", "100")
    finally:
        close()
    assert wall < 2 + 1 + 3, wall
    books_balance(r)
    assert r["iterations"]["started"] == 40
    assert r["iterations"]["cut_off"] == 40
    assert r["requests"] == 0
    # Cut off is a failed attempt: the run does not read as a clean one.
    assert r["errors"] == r["attempts"] == 40
    assert r["error_rate"] == 100
    assert "cut off" in out


def test_python_tasks_against_a_silent_target_are_cut_off(scenario_file, tmp_path):
    url, close = silent_server()
    try:
        path = scenario_file(scenario(PYTHON, 20, "2s"))
        code, out, err, r, wall, _ = run_measured(path, url, tmp_path, "--timeout", "60s",
                                                  "--drain", "1s", "--max-connections", "100")
    finally:
        close()
    assert wall < 2 + 1 + 1.2 + 3, wall
    books_balance(r)
    assert r["iterations"]["started"] == 40
    assert r["iterations"]["cut_off"] == 40
    assert r["error_rate"] == 100


def test_python_tasks_with_on_start_against_a_silent_target_are_cut_off(scenario_file,
                                                                         tmp_path):
    # An iteration still waiting for its response when the drain ran out is
    # cut off, also when the class has an on_start (it once read as an
    # on_start that failed, counted finished, and the run passed).
    url, close = silent_server()
    try:
        path = scenario_file(scenario(PYTHON, 20, "2s").replace(
            "    @task\n", "    def on_start(self, client):\n        self.ready = True\n\n"
            "    @task\n", 1))
        code, out, err, r, wall, _ = run_measured(path, url, tmp_path, "--timeout", "30s",
                                                  "--drain", "1s", "--max-connections", "100")
    finally:
        close()
    assert "def on_start" in open(path).read()
    books_balance(r)
    assert r["iterations"]["started"] == 40
    assert r["iterations"]["cut_off"] == 40, r["iterations"]
    assert r["iterations"]["finished"] == 0, r["iterations"]
    assert r["errors"] == r["attempts"] == 40
    assert r["passed"] is False
    assert code == 1, out + err
    assert "cut off" in out
    # No task row holds a finished iteration that never got an answer.
    for row in r["tasks"]:
        assert row["requests"] == row["errors"] == row["iterations"] == 0, row


def test_ctrl_c_during_the_drain_counts_what_was_running(scenario_file, tmp_path):
    url, close = silent_server()
    try:
        path = scenario_file(scenario(PYTHON, 20, "30s"))
        code, out, err, r, took = interrupt_run(path, url, tmp_path, "--no-metrics",
                                                "--timeout", "60s", "--max-connections", "100",
                                                after=1.5)
    finally:
        close()
    assert code == 130
    assert took < 2 + 1.2 + 3, took
    it = r["iterations"]
    assert it["started"] > 0 and it["cut_off"] == it["started"], it
    assert it["not_started"] > 0
    books_balance(r)
    assert r["passed"] is False
    assert r["interrupted"] is True


def test_achieved_rate_is_what_was_sent(make_demo_api, scenario_file, tmp_path):
    # Two connections to a target answering in 50 ms: at most ~40 req/s of
    # the 200/s asked. The summary must show that, not the target.
    api = make_demo_api("--latency-ms", "50")  # on /api routes
    path = scenario_file(scenario(NATIVE, 200, "3s").replace("/health", "/api/products/1"))
    code, out, err, r, wall, _ = run_measured(path, api.url, tmp_path, "--max-connections", "2")
    assert wall < 3 + 2 + 3
    books_balance(r)
    # The backlog still started during the drain counts over the time it
    # took: the rate is what was sent, at most ~40/s.
    assert r["rps"]["actual"] < 50, r["rps"]
    assert r["rps"]["actual"] >= r["requests"] / r["duration_s"] - 1, r
    assert r["overload"]["bottleneck"] == "target", r["overload"]
