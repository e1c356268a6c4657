"""A misbehaving target is measured, not hidden; interrupted runs lose nothing."""
import signal
import socket

from conftest import interrupt_run, run_json

HEALTHISH = """
from loadpilot import VUser, scenario, task

@scenario(rps={RPS}, duration="{DURATION}", mode="constant")
class Api(VUser):
    @task
    def products(self, client):
        client.get("/api/products")
"""


def test_stalled_target_raises_p99(make_demo_api, scenario_file, tmp_path):
    # demo-api holds every response for 0.5 s once every 2 s: with latency
    # measured from the intended start, the stall shows in p99.
    api = make_demo_api("--stall-every", "2", "--stall-for", "0.5")
    path = scenario_file(HEALTHISH.replace("{RPS}", "100").replace("{DURATION}", "4s"))
    p, r = run_json(path, api.url, tmp_path)
    assert p.returncode == 0, p.stderr
    assert r["latency"]["p99_ms"] >= 200, r["latency"]
    assert r["latency"]["p50_ms"] < 50, r["latency"]


def test_server_errors_are_counted_by_kind(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--error-rate", "20")
    path = scenario_file(HEALTHISH.replace("{RPS}", "300").replace("{DURATION}", "2s"))
    p, r = run_json(path, api.url, tmp_path)
    assert p.returncode == 0, p.stderr
    assert r["errors"] == r["errors_by_kind"]["http_5xx"]
    assert 0.12 < r["errors"] / r["requests"] < 0.28
    assert r["top_errors"][0]["message"] == "HTTP 503 GET /api/products"
    assert "http_5xx" in p.stdout


def test_refused_connections_are_connect_errors(scenario_file, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    path = scenario_file(HEALTHISH.replace("{RPS}", "50").replace("{DURATION}", "1s"))
    p, r = run_json(path, f"http://127.0.0.1:{port}", tmp_path)
    assert r["errors"] == r["requests"] > 0
    assert r["errors_by_kind"]["connect"] == r["errors"]
    # No threshold set, but nothing succeeded: that alone fails the run.
    assert p.returncode == 1
    assert r["problems"][0].startswith(f"no request succeeded: all {r['attempts']} attempts "
                                       "failed; most often connect: "), r["problems"]


def test_garbage_and_resets_are_counted(scenario_file, tmp_path):
    # A raw TCP server answering garbage to some connections and closing others.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    port = srv.getsockname()[1]
    import threading

    stop = threading.Event()

    def serve():
        n = 0
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            n += 1
            try:
                c.recv(4096)
                if n % 2:
                    c.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    path = scenario_file(HEALTHISH.replace("{RPS}", "40").replace("{DURATION}", "1s"))
    _, r = run_json(path, f"http://127.0.0.1:{port}", tmp_path, "--timeout", "2s")
    stop.set()
    t.join()
    srv.close()
    assert r["errors"] == r["requests"] > 0
    kinds = r["errors_by_kind"]
    assert kinds["protocol"] > 0 and kinds["reset"] > 0, kinds


def interrupt_healthish(api, scenario_file, tmp_path, sig):
    # The signal comes 2.5 s after the run says it started, not after the
    # launch: a slow start (a sanitizer build on a busy machine) does not eat
    # into the 500 requests expected by then.
    path = scenario_file(HEALTHISH.replace("{RPS}", "200").replace("{DURATION}", "30s"))
    return interrupt_run(path, api.url, tmp_path, sig=sig, timeout=15, started=True)


def test_sigint_writes_partial_results(demo_api, scenario_file, tmp_path):
    code, out, _, r, took = interrupt_healthish(demo_api, scenario_file, tmp_path, signal.SIGINT)
    assert code == 130
    assert took < 5
    assert r["interrupted"] is True and r["signal"] == "SIGINT"
    assert 300 <= r["requests"] <= 700
    # Nothing measured is lost: every request the server saw was recorded.
    assert r["requests"] == demo_api.stats()["total"]
    assert "interrupted" in out


def test_sigterm_exits_143(demo_api, scenario_file, tmp_path):
    code, _, _, r, _ = interrupt_healthish(demo_api, scenario_file, tmp_path, signal.SIGTERM)
    assert code == 143
    assert r["interrupted"] is True and r["requests"] > 0
