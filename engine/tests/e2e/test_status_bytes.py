"""Status classes and bytes (docs/output.md#status-classes-and-bytes):
every response is counted in its class (2xx..5xx, or none without a
complete response) and the HTTP bytes the run wrote and read equal what a
real loopback server counted on its sockets, for native and Python tasks,
in one process and across agents, in the results file, the time series and
the terminal summary."""
import socketserver
import threading
from collections import Counter
from contextlib import contextmanager

import pytest

from conftest import run_json

STATUS = {"/ok": 200, "/moved": 302, "/missing": 404, "/fail": 500}
BODY = b"x" * 37


class CountingHandler(socketserver.BaseRequestHandler):
    """HTTP/1.1 keep-alive for bodiless requests; counts every byte read
    and written, and every status sent, in the server's `seen`."""

    def handle(self):
        seen = self.server.seen
        buf = b""
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            with self.server.lock:
                seen["in"] += len(data)
            buf += data
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b" ")[1].decode().split("?")[0]
                status = STATUS.get(path, 404)
                extra = b"Location: /ok\r\n" if status == 302 else b""
                resp = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (
                    status, len(BODY), extra, BODY)
                self.request.sendall(resp)
                with self.server.lock:
                    seen["out"] += len(resp)
                    seen[status] += 1


@contextmanager
def counting_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), CountingHandler)
    server.daemon_threads = True
    server.seen = Counter()
    server.lock = threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


NATIVE = """
    from loadpilot import scenario, task

    @scenario(rps=200, duration="1s", ramp_up=0, mode="constant")
    class Mixed:
        @task(weight=4)
        def ok(self, client):
            client.get("/ok")

        @task(weight=2)
        def moved(self, client):
            client.get("/moved")

        @task(weight=1)
        def missing(self, client):
            client.get("/missing")

        @task(weight=1)
        def fail(self, client):
            client.get("/fail")
"""

# The same traffic from Python: a check defers the request's accounting to
# the Python side, a loop of calls records each at once.
PYTHON = """
    from loadpilot import VUser, scenario, task

    PATHS = ["/ok", "/ok", "/moved", "/missing", "/fail"]

    @scenario(rps=100, duration="1s", ramp_up=0, mode="constant")
    class Mixed(VUser):
        @task(weight=1)
        def several(self, client):
            for path in PATHS:
                client.get(path)

        @task(weight=1)
        def checked(self, client):
            client.get("/ok?checked=1")

        def check_checked(self, status_code, body):
            assert status_code == 200
"""


def assert_counts_match(r, seen):
    assert r["responses"] == {"2xx": seen[200], "3xx": seen[302], "4xx": seen[404],
                              "5xx": seen[500], "none": 0}
    assert sum(r["responses"].values()) == r["requests"]
    assert r["bytes"]["sent"] == seen["in"] > 0
    assert r["bytes"]["received"] == seen["out"] > 0
    ts = r["timeseries"]
    for cls in ("2xx", "3xx", "4xx", "5xx", "none"):
        assert ts["responses_" + cls][-1] == r["responses"][cls], cls
    assert ts["bytes_sent"][-1] == r["bytes"]["sent"]
    assert ts["bytes_received"][-1] == r["bytes"]["received"]
    # Cumulative columns never go down.
    assert all(a <= b for a, b in zip(ts["bytes_received"], ts["bytes_received"][1:]))


@pytest.mark.parametrize("source,extra", [(NATIVE, ()), (PYTHON, ()),
                                          (NATIVE, ("--agents", "2"))],
                         ids=["native", "python", "agents"])
def test_status_classes_and_bytes_equal_what_the_server_counted(scenario_file, tmp_path,
                                                                 source, extra):
    with counting_server() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        proc, r = run_json(scenario_file(source), url, tmp_path, "--no-report", *extra)
    assert proc.returncode == 0, proc.stderr
    assert r["iterations"]["finished"] == r["iterations"]["started"] > 0
    assert_counts_match(r, server.seen)
    assert all(server.seen[s] > 0 for s in STATUS.values()), server.seen
    assert "responses   2xx" in proc.stdout
    assert f"3xx {server.seen[302]}" in proc.stdout
    assert "data        sent " in proc.stdout


def test_a_request_without_a_response_is_in_the_none_class(scenario_file, tmp_path):
    # Nothing listens on port 9: every request fails to connect, writes
    # nothing and reads nothing.
    path = scenario_file(NATIVE.replace('duration="1s"', 'duration="0.5s"'))
    proc, r = run_json(path, "http://127.0.0.1:9", tmp_path, "--no-report")
    assert r["requests"] > 0
    assert r["responses"] == {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, "none": r["requests"]}
    assert r["bytes"] == {"sent": 0, "received": 0, "sent_per_s": 0, "received_per_s": 0}
    # Nothing succeeded: the run fails without any threshold, and says why.
    assert proc.returncode == 1, proc.stderr
    assert r["passed"] is False
    assert r["problems"] == [f"no request succeeded: all {r['attempts']} attempts failed; most "
                             f"often connect: {r['top_errors'][0]['message']}"]
    assert "no request succeeded" in proc.stdout
