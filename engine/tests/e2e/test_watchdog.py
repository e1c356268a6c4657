"""The Python-thread watchdog: a VUser whose code keeps the one Python thread
from its loop (an endless loop, time.sleep() in an async task, a C function holding the
interpreter lock) stops the run during it, with a message naming the code
and its stack, exit code 2 and the results written; a VUser waiting for a
slow response is not blocked. Against `loadpilot demo-api` and a small slow
server, on loopback."""
import re
import time
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import run_json, serve_http

# The scenarios below last 30 s, and their first iteration blocks. Found
# blocked after 3 s away from its loop (plus up to 1 s to read the stack of
# a C call), the run then drains (2 s) and gives on_stop a second: ~8 s with
# start-up, however long the profile. Generous for a loaded machine.
BLOCKED_RUN_ENDS_WITHIN = 16


def blocking_scenario(body, header="", is_async=False):
    """A 30 s scenario whose task sends one request and then runs BODY."""
    return f"""
        import re
        import time
        from loadpilot import VUser, scenario, task
        {header}

        @scenario(rps=2, duration="30s", ramp_up=0, mode="constant")
        class Stuck(VUser):
            @task
            {"async " if is_async else ""}def work(self, client):
                {"await " if is_async else ""}client.get("/health")
                {body}
        """


def run_blocked(demo_api, scenario_file, tmp_path, source, *extra):
    """Runs SOURCE; returns (CompletedProcess, results, seconds taken, a
    function giving "PATH:LINE" of a text in the scenario file, as messages
    name it)."""
    path = scenario_file(source)
    started = time.monotonic()
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *extra, timeout=60)
    took = time.monotonic() - started
    with open(path) as f:
        lines = f.read().splitlines()

    def where(text):
        return f"{path}:{next(i + 1 for i, line in enumerate(lines) if text in line)}"
    return proc, r, took, where


@pytest.mark.parametrize("body,line_text,is_async", [
    ("while True: pass", "while True: pass", False),
    # In a plain def task time.sleep() pauses only its VUser
    # (docs/scenarios.md#pauses-in-a-task); an async task body runs on the
    # loop itself, where it blocks.
    ("time.sleep(30)", "time.sleep(30)", True),
])
def test_a_vuser_that_does_not_yield_stops_the_run(demo_api, scenario_file, tmp_path, body,
                                                  line_text, is_async):
    proc, r, took, where = run_blocked(demo_api, scenario_file, tmp_path,
                                         blocking_scenario(body, is_async=is_async))
    assert took < BLOCKED_RUN_ENDS_WITHIN, proc.stderr
    assert proc.returncode == 2, proc.stderr
    # One message, naming the task, its line and the stack.
    at = where(line_text)
    assert proc.stderr.count("a VUser blocked the Python thread") == 1, proc.stderr
    assert f"Stuck.work ({at}) has run for 3." in proc.stderr
    assert "without returning or waiting for a response" in proc.stderr
    assert f"{at} in Stuck.work\n      {line_text}" in proc.stderr
    # The results are written, the run marked stopped and failed, the
    # problem in them.
    assert r["interrupted"] is True and r["passed"] is False
    assert r["requests"] == 1 == demo_api.stats()["routes"]["GET /health"]
    assert [p for p in r["problems"] if p.startswith("a VUser blocked the Python thread")]


def test_a_threading_lock_held_across_a_request_is_named(make_demo_api, scenario_file,
                                                         tmp_path):
    # One VUser holds the lock while it waits for a 2 s answer; the next,
    # half a second later, blocks the thread on the lock, so the first can
    # never get its answer: a deadlock the run must end with the line.
    api = make_demo_api("--latency-ms", "2000")
    proc, r, took, where = run_blocked(api, scenario_file, tmp_path, """
        import threading
        from loadpilot import VUser, scenario, task

        LOCK = threading.Lock()

        @scenario(rps=2, duration="30s", ramp_up=0, mode="constant")
        class Stuck(VUser):
            @task
            def work(self, client):
                with LOCK:
                    client.get("/api/products")
        """)
    assert took < BLOCKED_RUN_ENDS_WITHIN, proc.stderr
    assert proc.returncode == 2, proc.stderr
    at = where("with LOCK:")
    assert proc.stderr.count("a VUser blocked the Python thread") == 1, proc.stderr
    assert f"Stuck.work ({at}) has run for 3." in proc.stderr
    assert f"{at} in Stuck.work" in proc.stderr
    assert r["interrupted"] is True and r["passed"] is False
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"] and it["cut_off"] >= 1, it


def test_a_c_call_holding_the_interpreter_lock_is_named(demo_api, scenario_file, tmp_path):
    # Catastrophic backtracking: re's matcher keeps the lock for minutes.
    source = blocking_scenario("backtrack()", header="""
        def backtrack():
            return re.match(r"(a+)+$", "a" * 40 + "b")
        """, is_async=True)
    proc, r, took, where = run_blocked(demo_api, scenario_file, tmp_path, source)
    assert took < BLOCKED_RUN_ENDS_WITHIN, proc.stderr
    assert proc.returncode == 2, proc.stderr
    inner, outer = where("return re.match"), where("    backtrack()")
    assert f"a VUser blocked the Python thread: work ({inner}) has been inside a C function " \
        "that keeps the interpreter lock" in proc.stderr
    # The stack, read without the lock, from the task down to re.
    stack = proc.stderr[proc.stderr.index("Python stack"):]
    assert f"{outer} in work\n      backtrack()" in stack
    assert f"{inner} in backtrack" in stack
    assert "re/__init__.py" in stack
    assert r["interrupted"] is True and r["requests"] == 1


def test_a_blocked_vuser_in_an_agent_process(demo_api, scenario_file, tmp_path):
    proc, r, took, where = run_blocked(demo_api, scenario_file, tmp_path,
                                         blocking_scenario("while True: pass"), "--processes", "2")
    assert took < BLOCKED_RUN_ENDS_WITHIN, proc.stderr
    assert proc.returncode == 2, proc.stderr
    # Each agent gets an arrival, blocks and reports it through its coordinator.
    at = where("while True")
    for agent in (1, 2):
        assert re.search(rf"error: agent {agent} of 2 \(pid \d+\): a VUser blocked the Python "
                         rf"thread: Stuck\.work \({re.escape(at)}\)", proc.stderr)
    assert r["requests"] == 2 == demo_api.stats()["routes"]["GET /health"]
    assert len([p for p in r["problems"] if "a VUser blocked the Python thread" in p]) == 2


class SlowBody(BaseHTTPRequestHandler):
    """Sends a 64 MiB body in 1 MiB pieces over about 4 s."""
    protocol_version = "HTTP/1.1"
    size = 64 << 20
    piece = 1 << 20

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        block = b"x" * self.piece
        pieces = self.size // self.piece
        for _ in range(pieces):
            self.wfile.write(block)
            time.sleep(4.0 / pieces)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    with serve_http(SlowBody) as url:
        yield url


def test_waiting_for_a_slow_response_is_not_blocking(slow_server, scenario_file, tmp_path):
    # One iteration, whose response takes ~4 s: the Python thread waits for
    # the network all that time and nothing else wakes it.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=0.2, duration="5s", ramp_up=0, mode="constant")
        class Slow(VUser):
            @task
            def big(self, client):
                r = client.get("/big", max_body=70 << 20)
                assert len(r.content) == 64 << 20
        """)
    started = time.monotonic()
    proc, r = run_json(path, slow_server, tmp_path, "--no-report", timeout=60)
    assert time.monotonic() - started < 15
    assert proc.returncode == 0, proc.stderr
    assert "blocked" not in proc.stderr and "did not" not in proc.stderr
    assert r["problems"] == []
    assert r["requests"] == 1 and r["errors"] == 0
    # It really waited longer than the watchdog's 3 s.
    assert r["tasks"][0]["latency"]["max_ms"] > 3500
