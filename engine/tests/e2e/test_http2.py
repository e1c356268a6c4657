"""HTTP/2 (docs/protocols.md): the real binary against demo-api over h2c
(prior knowledge) and TLS with ALPN, with the demo-api's own request count
equal to ours, the protocol in the results, Python's response.http_version,
and a clear failure when HTTP/2 is forced on a server that does not speak
it."""
import json
import subprocess
import time

import pytest

from conftest import BIN, DemoApi, Recorder, run_json, serve_http, task_row


class Demo(DemoApi):
    """`loadpilot demo-api` on a free loopback port (EXTRA: e.g. --tls)."""

    def stats(self):
        # Over HTTP/2 as well: the TLS side speaks nothing else.
        flag = "--http2" if self.url.startswith("https") else "--http2-prior-knowledge"
        out = subprocess.run(["curl", "-sk", flag, "--max-time", "5", self.url + "/stats"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)


@pytest.fixture
def demo():
    made = []

    def make(*extra):
        made.append(Demo(*extra))
        return made[-1]
    yield make
    for d in made:
        d.close()


NATIVE = """
from loadpilot import scenario, task

@scenario(rps=150, duration="2s", ramp_up=0{extra})
class H2:
    @task(weight=3)
    def products(self, client):
        client.get("/api/products")

    @task
    def order(self, client):
        client.post("/api/orders", json={{"sku": 1}})
"""


def test_h2c_native_counts_equal_the_servers(demo, tmp_path):
    api = demo()
    path = tmp_path / "s.py"
    path.write_text(NATIVE.format(extra=', http_version="2"'))
    proc, results = run_json(path, api.url, tmp_path, "--max-connections", "2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    stats = api.stats()
    assert results["requests"] == 300
    assert results["errors"] == 0
    assert stats["total"] == 300
    assert stats["routes"]["GET /api/products"] == task_row(results, "products")["requests"]
    assert stats["routes"]["POST /api/orders"] == task_row(results, "order")["requests"]
    assert results["protocol"]["http2_requests"] == 300
    assert results["protocol"]["name"] == "HTTP/2"
    assert "HTTP/2" in proc.stdout


def test_the_flag_forces_h2c_and_the_scenario_can_pin_http1(demo, tmp_path):
    api = demo()
    path = tmp_path / "s.py"
    path.write_text(NATIVE.format(extra=""))
    proc, results = run_json(path, api.url, tmp_path, "--http2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert results["protocol"]["http2_requests"] == 300
    # Left out, an http:// target is HTTP/1.1.
    proc, results = run_json(path, api.url, tmp_path)
    assert results["protocol"] == {"name": "HTTP/1.1", "http1_requests": 300,
                                   "http2_requests": 0}
    assert api.stats()["total"] == 600


PYTHON_TLS = """
from loadpilot import scenario, task

@scenario(rps=60, duration="2s", ramp_up=0)
class Tls:
    @task
    def user(self, client):
        r = client.get("/api/user")
        if r.http_version != "2":
            raise AssertionError(f"http_version {r.http_version!r}")
"""


def test_tls_alpn_picks_h2_for_python_tasks(demo, tmp_path):
    api = demo("--tls")
    assert api.url.startswith("https://")
    path = tmp_path / "s.py"
    path.write_text(PYTHON_TLS)
    proc, results = run_json(path, api.url, tmp_path, "--insecure")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert results["requests"] == 120
    assert results["errors"] == 0
    assert api.stats()["routes"]["GET /api/user"] == 120
    assert results["protocol"]["name"] == "HTTP/2"


def test_forcing_http2_on_an_http1_server_fails_clearly(tmp_path):
    Recorder.seen = []
    path = tmp_path / "s.py"
    path.write_text(NATIVE.format(extra=', http_version="2"').replace("rps=150", "rps=20"))
    with serve_http(Recorder) as url:
        started = time.monotonic()
        proc, results = run_json(path, url, tmp_path, "--timeout", "2s")
    assert time.monotonic() - started < 30
    assert proc.returncode != 0
    assert results["errors"] == results["requests"] == 40
    messages = json.dumps(results.get("error_messages", results))
    assert "does not speak HTTP/2" in messages or "HTTP/1.x" in messages, messages


def test_a_bad_http_version_is_refused_with_the_field(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(NATIVE.format(extra=', http_version="3"'))
    proc = subprocess.run([BIN, "run", str(path), "--target", "http://127.0.0.1:9",
                           "--dry-run"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "http_version" in proc.stderr and '"3"' in proc.stderr


WAIT = """
from loadpilot import scenario, task

@scenario(rps=20, duration="2s", ramp_up=0, http_version="2", max_streams=1)
class OneStream:
    @task
    def products(self, client):
        client.get("/api/products")
"""


def test_time_waiting_for_a_free_stream_counts_in_the_latency(demo, tmp_path):
    # One connection, one stream, 100 ms per response: 10/s can be served
    # and 20/s arrive, so arrivals wait for the stream. That wait is part
    # of their latency (from the intended start), not of the service time.
    api = demo("--latency-ms", "100")
    path = tmp_path / "s.py"
    path.write_text(WAIT)
    proc, r = run_json(path, api.url, tmp_path, "--max-connections", "1", "--workers", "1",
                       "--drain", "10s")
    it = r["iterations"]
    assert it["planned"] == it["started"] + it["dropped"] + it["not_started"]
    assert it["started"] == it["finished"] + it["cut_off"]
    assert r["requests"] == api.stats()["total"]
    assert r["service_time"]["p99_ms"] < 400
    assert r["latency"]["p99_ms"] > 1000, r["latency"]
    assert r["latency"]["p50_ms"] > 2 * r["service_time"]["p50_ms"]


MAX = """
from loadpilot import scenario, task

@scenario(rps="max", duration="2s", http_version="2", max_streams=8)
class Max:
    @task
    def products(self, client):
        client.get("/api/products")
"""


def test_a_closed_loop_keeps_every_stream_busy(demo, tmp_path):
    # 100 ms per response over one connection: one request in flight
    # makes at most 20 in 2 s, eight streams about 160.
    api = demo("--latency-ms", "100")
    path = tmp_path / "s.py"
    path.write_text(MAX)
    proc, r = run_json(path, api.url, tmp_path, "--max-connections", "1", "--workers", "1")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert r["requests"] == api.stats()["total"]
    assert r["requests"] > 80, r["requests"]


STALL = """
from loadpilot import scenario, task

@scenario(rps=200, duration="4s", mode="constant", http_version="2")
class Stall:
    @task
    def products(self, client):
        client.get("/api/products")
"""


def test_a_stall_shows_in_the_percentiles_over_http2(demo, tmp_path):
    # demo-api holds every response due in [2k s, 2k + 0.5 s) of its own
    # clock: one or two such windows fall in the 4 s run, 12.5-25% of the
    # arrivals, each waiting until its window ends, so their latencies
    # spread over (0, 500] ms. Measured from the intended start (waiting
    # behind the stall on a stream counts), p99 lies in the top of that
    # spread, the median outside it, and nothing waits much past 500 ms.
    api = demo("--stall-every", "2", "--stall-for", "0.5")
    path = tmp_path / "s.py"
    path.write_text(STALL)
    proc, r = run_json(path, api.url, tmp_path, "--max-connections", "4", "--workers", "1")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    it = r["iterations"]
    assert it["planned"] == it["started"] == it["finished"] == 800
    assert r["requests"] == api.stats()["total"] == 800
    lat = r["latency"]
    assert 380 <= lat["p99_ms"] <= 560, lat
    assert lat["max_ms"] <= 600, lat
    assert lat["p50_ms"] < 20, lat
    assert r["service_time"]["p50_ms"] < 20


def test_local_agents_speak_http2_too(demo, tmp_path):
    api = demo()
    path = tmp_path / "s.py"
    path.write_text(NATIVE.format(extra=""))
    proc, r = run_json(path, api.url, tmp_path, "--http2", "--agents", "2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert r["requests"] == api.stats()["total"] == 300
    assert r["protocol"] == {"name": "HTTP/2", "http1_requests": 0, "http2_requests": 300}
