"""Python VUsers end to end: task bodies run as real Python on every
iteration, against `loadpilot demo-api` (and, where the server must show
what each request carried, a small recording server) on loopback."""
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import (SANITIZER, interrupt_run, run_json, run_loadpilot, serve_http, shop,
                      task_row)


class Recorder(BaseHTTPRequestHandler):
    """Answers everything with JSON and remembers what it was sent."""
    protocol_version = "HTTP/1.1"
    seen = []
    lock = threading.Lock()
    tokens = 0

    def _answer(self, status, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with Recorder.lock:
            Recorder.seen.append(("GET", self.path, self.headers.get("Authorization"),
                                  self.headers.get("Cookie")))
        self._answer(200, {"path": self.path})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with Recorder.lock:
            Recorder.seen.append(("POST", self.path, self.headers.get("Authorization"),
                                  self.headers.get("Cookie")))
            Recorder.tokens += 1
            token = f"tok{Recorder.tokens}"
        self._answer(200, {"access_token": token}, [("Set-Cookie", f"session=s-{token}; Path=/")])

    def log_message(self, *args):
        pass


def serve_recorder(scheme="http", context=None):
    """Runs a fresh Recorder server (behind TLS with CONTEXT) until the
    generator is closed; yields its URL."""
    Recorder.seen = []
    Recorder.tokens = 0
    with serve_http(Recorder, context, scheme) as url:
        yield url


@pytest.fixture
def recording_server():
    yield from serve_recorder()


def test_dynamic_paths_tokens_and_cookies_reach_the_server(recording_server, scenario_file,
                                                           tmp_path):
    path = scenario_file("""
        import random
        from loadpilot import VUser, scenario, task

        @scenario(rps=40, duration="2s", ramp_up=0, mode="constant")
        class Browse(VUser):
            def on_start(self, client):
                self.token = client.post("/auth/login", json={"user": "u"}).json()["access_token"]

            @task
            def product(self, client):
                client.get(f"/api/products/{random.randint(1, 100000)}",
                           headers={"Authorization": "Bearer " + self.token},
                           name="/api/products/{id}")
        """)
    proc, r = run_json(path, recording_server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    gets = [s for s in Recorder.seen if s[0] == "GET"]
    logins = [s for s in Recorder.seen if s[0] == "POST"]
    product = task_row(r, "product")
    assert len(gets) == product["requests"] == 80
    assert [(n["name"], n["requests"]) for n in product["named_requests"]] == [
        ("/api/products/{id}", 80)]
    # Every iteration ran the body again: (nearly) every id is new.
    assert len({g[1] for g in gets}) >= 75
    assert all(g[1].startswith("/api/products/") for g in gets)
    # The token each VUser got in on_start is on every one of its calls, and
    # the session cookie set by the login comes back with it.
    assert len(logins) >= 1
    for _, _, auth, cookie in gets:
        m = re.fullmatch(r"Bearer (tok\d+)", auth or "")
        assert m, auth
        assert cookie == f"session=s-{m.group(1)}", cookie


LIFECYCLE = """
    import asyncio
    from loadpilot import VUser, scenario, task

    @scenario(rps={RPS}, duration="{DURATION}", ramp_up=0, mode="constant"{EXTRA})
    class Shop(VUser):
        def on_start(self, client):
            r = client.post("/auth/login", json={"user": "u", "pass": "p"})
            r.raise_for_status()
            self.token = r.json()["access_token"]

        def on_stop(self, client):
            client.post("/auth/logout", headers={"Authorization": "Bearer " + self.token})

        @task
        def product(self, client):
            client.get("/api/products/3", headers={"Authorization": "Bearer " + self.token})
"""


def lifecycle(rps, duration, extra=""):
    return (LIFECYCLE.replace("{RPS}", str(rps)).replace("{DURATION}", duration)
            .replace("{EXTRA}", extra))


def test_on_start_and_on_stop_once_per_vuser(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "50")
    proc, r = run_json(scenario_file(lifecycle(100, "2s")), api.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    routes = api.stats()["routes"]
    logins, logouts = routes["POST /auth/login"], routes["POST /auth/logout"]
    # 100 it/s x 50 ms needs several VUsers at once; each logs in and out once.
    assert logins >= 3
    assert logins == logouts
    assert task_row(r, "on_start")["requests"] == logins
    assert task_row(r, "on_stop")["requests"] == logouts
    assert routes["GET /api/products/{id}"] == task_row(r, "product")["requests"] == 200
    # Nothing measured is lost and nothing is counted twice.
    assert r["requests"] == api.stats()["total"]
    assert r["errors"] == 0


def test_max_vusers_limit_drops_arrivals(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "200")
    proc, r = run_json(scenario_file(lifecycle(50, "2s", ", max_vusers=2")), api.url, tmp_path)
    # The asked load was not delivered: a failed run (docs/output.md#verdict).
    assert proc.returncode == 1, proc.stderr
    assert any("not delivered" in p for p in r["problems"]), r["problems"]
    # Both VUsers spent their time waiting for 200 ms responses: the target,
    # at the VUser cap.
    assert r["overload"]["bottleneck"] == "target", r["overload"]
    assert "max_vusers 2" in r["overload"]["message"], r["overload"]
    it = r["iterations"]
    assert it["dropped"] > 40, it
    assert it["started"] + it["dropped"] == 100, it
    routes = api.stats()["routes"]
    assert routes["POST /auth/login"] == routes["POST /auth/logout"] == 2
    assert "dropped" in proc.stdout


def test_max_vusers_flag_overrides(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "200")
    proc, r = run_json(scenario_file(lifecycle(50, "1s")), api.url, tmp_path,
                       "--max-vusers", "1")
    assert proc.returncode == 1, proc.stderr  # most arrivals dropped: not delivered
    assert api.stats()["routes"]["POST /auth/login"] == 1
    assert r["iterations"]["dropped"] > 20


def test_checks_and_exceptions_are_counted_with_messages(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=20, duration="1s", ramp_up=0, mode="constant")
        class Checked(VUser):
            @task
            def missing(self, client):
                client.get("/api/products/3")
                client.get("/nope")

            def check_missing(self, status_code, body):
                assert status_code == 200, f"status was {status_code}"

            @task
            def present(self, client):
                client.get("/nope")

            def check_present(self, status_code, body):
                # Replaces the >= 400 rule for the checked response.
                assert status_code == 404

            @task
            def broken(self, client):
                client.get("/health")
                {}["missing-key"]
        """)
    proc, r = run_json(path, demo_api.url, tmp_path, "--seed", "7")
    kinds = r["errors_by_kind"]
    missing, present, broken = (task_row(r, n) for n in ("missing", "present", "broken"))
    assert missing["iterations"] + present["iterations"] + broken["iterations"] == 20
    assert kinds["check_failed"] == missing["iterations"] > 0
    assert present["errors"] == 0 and present["requests"] == present["iterations"] > 0
    assert kinds["exception"] == broken["iterations"] > 0
    assert kinds["http_4xx"] == 0
    messages = {(e["kind"], e["message"]): e["count"] for e in r["top_errors"]}
    # A failed check names itself and its task, then where it failed.
    assert messages[("check_failed", f"check_missing (task missing) {path}:12: "
                                     "AssertionError: status was 404")] == \
        missing["iterations"]
    assert messages[("exception", f"{path}:25: KeyError: 'missing-key'")] == broken["iterations"]
    # The summary fits 80 columns: a long path may be cut there, so only the
    # message's end is looked for (the results above hold it whole).
    assert "KeyError: 'missing-key'" in proc.stdout
    assert r["requests"] == demo_api.stats()["total"]


def test_async_gather_overlaps_and_batch_keeps_order(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "200")
    path = scenario_file("""
        import asyncio
        from loadpilot import VUser, scenario, task

        @scenario(rps=4, duration="2s", ramp_up=0, mode="constant")
        class Overlap(VUser):
            @task
            async def together(self, client):
                user, orders = await asyncio.gather(client.get("/api/user"),
                                                    client.get("/api/orders"))
                assert user.json()["name"] == "Demo User"
                assert isinstance(orders.json(), list)

            @task
            def batch(self, client):
                health, user, products = client.batch([
                    {"path": "/health"},
                    {"method": "GET", "path": "/api/user"},
                    {"path": "/api/products", "params": {"page": 1}},
                ])
                assert health.json() == {"status": "ok"}, health.text
                # Headers come packed from the engine and are split on first use.
                assert health.headers["CONTENT-TYPE"].startswith("application/json")
                assert int(health.headers["content-length"]) == len(health.content)
                assert health.text == health.content.decode()
                assert user.json()["id"] == 1
                assert len(products.json()) == 20
        """)
    proc, r = run_json(path, api.url, tmp_path, "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    together, batch = task_row(r, "together"), task_row(r, "batch")
    assert together["iterations"] > 0 and batch["iterations"] > 0
    assert together["iterations"] + batch["iterations"] == 8
    # Two 200 ms calls awaited together take ~200 ms, not 400.
    assert 190 <= together["iteration"]["max_ms"] < 390, together["iteration"]
    assert 190 <= batch["iteration"]["max_ms"] < 390, batch["iteration"]
    assert together["requests"] == 2 * together["iterations"]
    assert batch["requests"] == 3 * batch["iterations"]
    assert r["requests"] == api.stats()["total"]


def test_sigint_runs_on_stop_and_writes_results(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "20")
    code, _, err, r, _ = interrupt_run(scenario_file(lifecycle(100, "30s")), api.url, tmp_path,
                                       "--no-metrics", timeout=15)
    assert code == 130, err
    assert r["interrupted"] is True
    routes = api.stats()["routes"]
    assert routes["POST /auth/login"] >= 1
    assert routes["POST /auth/logout"] == routes["POST /auth/login"]
    assert r["requests"] == api.stats()["total"]


def test_failing_on_start_stops_the_run(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="60s", ramp_up=0, mode="constant", max_vusers=3)
        class Locked(VUser):
            def on_start(self, client):
                client.post("/auth/nope").raise_for_status()

            @task
            def product(self, client):
                client.get("/api/products/1")
        """)
    started = time.monotonic()
    proc, r = run_json(path, demo_api.url, tmp_path, timeout=60)
    assert time.monotonic() - started < 25
    assert proc.returncode == 1
    assert "every on_start failed for 10 s" in proc.stderr
    assert "HTTPError: 404 Client Error" in proc.stderr
    on_start = task_row(r, "on_start")
    # Each failed on_start was retried on a later arrival, and counted.
    assert on_start["requests"] >= 40
    # raise_for_status() of the 404 is that failed request, not a second error.
    assert r["errors_by_kind"]["http_4xx"] == on_start["requests"] == on_start["errors"]
    assert r["errors_by_kind"]["exception"] == 0, r["errors_by_kind"]
    assert r["errors"] == r["attempts"] == on_start["requests"]
    assert task_row(r, "product")["requests"] == 0


def test_dry_run_says_which_tasks_run_natively(scenario_file):
    path = scenario_file("""
        import random
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s")
        class Mixed(VUser):
            @task
            def fixed(self, client):
                client.get("/health", headers={"Accept": "application/json"})

            @task
            def dynamic(self, client):
                client.get(f"/api/products/{random.randint(1, 9)}")
        """)
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    tasks = {t["name"]: t for t in json.loads(proc.stdout)["tasks"]}
    assert tasks["fixed"]["runtime"] == "native"
    assert tasks["fixed"]["request"]["path"] == "/health"
    assert tasks["dynamic"]["runtime"] == "python"
    assert tasks["dynamic"]["reason"] == "runs in Python: its path is computed, not a literal"


def test_closed_loop_python_tasks_wait_for_a_vuser(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        import random
        from loadpilot import VUser, scenario, task

        @scenario(rps="max", duration="1s", max_vusers=4)
        class Loop(VUser):
            @task
            def product(self, client):
                client.get(f"/api/products/{random.randint(1, 20)}")
        """)
    proc, r = run_json(path, demo_api.url, tmp_path, "--max-connections", "16")
    assert proc.returncode == 0, proc.stderr
    # More loop slots (16) than VUsers (4): arrivals wait, none are dropped.
    assert r["iterations"]["dropped"] == 0
    # Hundreds a second even on a loaded machine or a sanitizer build (well
    # over 500 on an idle one): the VUsers loop, they do not stall.
    assert r["requests"] == r["iterations"]["finished"] > 100
    assert r["requests"] == demo_api.stats()["total"]
    assert r["errors"] == 0


def test_closed_loop_python_vusers_go_on_by_themselves(demo_api, scenario_file, tmp_path):
    # All tasks in Python and no rate: a VUser starts its next iteration
    # itself when one ends. Weights, counts and the end of the run must be
    # what the workers would have made of it.
    path = scenario_file(shop('"max", duration="2s"'))
    started = time.monotonic()
    proc, r = run_json(path, demo_api.url, tmp_path, "--max-connections", "8")
    assert time.monotonic() - started < 10
    assert proc.returncode == 0, proc.stderr
    it = r["iterations"]
    assert it["dropped"] == 0
    assert it["started"] == it["finished"] > 1000, it
    product, orders = task_row(r, "product"), task_row(r, "orders")
    assert product["iterations"] + orders["iterations"] == it["finished"]
    assert 2.6 <= product["iterations"] / orders["iterations"] <= 3.4
    routes = demo_api.stats()["routes"]
    # One VUser per loop slot, each logged in and out once.
    assert routes["POST /auth/login"] == routes["POST /auth/logout"] == 8
    assert routes["GET /api/orders"] == orders["requests"] == orders["iterations"]
    assert r["requests"] == demo_api.stats()["total"]
    assert r["errors"] == 0


def test_sigint_ends_a_closed_loop_python_run_promptly(demo_api, scenario_file, tmp_path):
    code, _, err, r, took = interrupt_run(scenario_file(shop('"max", duration="60s"')),
                                          demo_api.url, tmp_path, "--no-metrics", "--no-report",
                                          "--max-connections", "8", after=1.5, timeout=15,
                                          started=True)
    # No new iteration starts after the signal: the run ends well inside
    # the 2 s drain time.
    assert took < 1.5
    assert code == 130, err
    assert r["interrupted"] is True
    assert r["iterations"]["started"] == r["iterations"]["finished"]
    routes = demo_api.stats()["routes"]
    assert routes["POST /auth/logout"] == routes["POST /auth/login"] == 8
    assert r["requests"] == demo_api.stats()["total"]


def test_an_iteration_that_never_ends_is_given_up(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        import asyncio
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s", ramp_up=0, mode="constant")
        class Hang(VUser):
            def on_stop(self, client):
                client.post("/auth/logout")

            @task
            async def forever(self, client):
                await client.get("/health")
                await asyncio.sleep(1000)
        """)
    started = time.monotonic()
    proc, r = run_json(path, demo_api.url, tmp_path, "--timeout", "2s")
    assert time.monotonic() - started < 15
    assert proc.returncode == 0, proc.stderr
    routes = demo_api.stats()["routes"]
    assert routes["GET /health"] == 5
    assert routes["POST /auth/logout"] == 5  # on_stop still ran for every VUser


def test_the_shopper_example_runs_clean(make_demo_api, tmp_path):
    api = make_demo_api("--latency-ms", "5")
    source = os.environ.get("LOADPILOT_SOURCE_DIR", ".")
    proc, r = run_json(os.path.join(source, "examples", "shopper.py"), api.url, tmp_path,
                       "--duration", "2s", "--ramp-up", "1s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    routes = api.stats()["routes"]
    assert routes["POST /auth/login"] == routes["POST /auth/logout"] >= 1
    assert routes["POST /api/orders"] > 0 and routes["GET /api/orders"] > 0
    assert r["requests"] == api.stats()["total"]


@pytest.fixture
def tls_recording_server(tmp_path):
    """The recording server behind TLS, with a throw-away self-signed
    certificate for 127.0.0.1."""
    import ssl
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    yield from serve_recorder("https", context)


def test_python_tasks_speak_tls(tls_recording_server, scenario_file, tmp_path):
    # Python tasks use the engine's client on the Python thread: TLS and
    # certificate verification as for native tasks.
    path = scenario_file("""
        import random
        from loadpilot import VUser, scenario, task

        @scenario(rps=40, duration="1s", ramp_up=0, mode="constant")
        class Secure(VUser):
            @task
            def product(self, client):
                r = client.get(f"/api/products/{random.randint(1, 1000)}", name="product")
                assert r.json()["path"].startswith("/api/products/")
        """)
    proc, r = run_json(path, tls_recording_server, tmp_path, "--insecure")
    assert proc.returncode == 0, proc.stderr
    assert r["requests"] == 40 == len(Recorder.seen)
    assert r["errors"] == 0
    # Without --insecure the self-signed certificate is refused. The only
    # trusted certificate is an unrelated one: the outcome does not depend on
    # this machine's CA store, and the Python thread's client does not spend
    # its start parsing that store's ~140 certificates (seconds under ASan,
    # which unwinds the stack of every allocation: every arrival of the 1 s
    # run would find no VUser ready and be dropped).
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=unrelated CA", "-keyout", str(tmp_path / "other-ca.key"),
                    "-out", str(other)], check=True, capture_output=True)
    Recorder.seen = []
    proc, r = run_json(path, tls_recording_server, tmp_path,
                       env=dict(os.environ, SSL_CERT_FILE=str(other)))
    # Each refused handshake is a new connection, made on the one Python
    # thread; under ASan each costs it tens of milliseconds of CPU, and the
    # last arrivals of the 1 s run may be dropped, or cut off at the end of
    # the drain. Both are counted.
    it = r["iterations"]
    assert it["started"] + it["dropped"] == 40 and r["requests"] == it["finished"] > 0, it
    if not SANITIZER:
        assert r["requests"] == 40, it
    assert r["errors"] >= r["requests"]
    assert Recorder.seen == []


def test_locust_style_methods_are_refused_when_loading(demo_api, scenario_file):
    # Locust's `def task(self)` with self.client: refused before anything
    # is sent, naming the line and what to write, not 100% errors at run time.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s")
        class Locusty(VUser):
            @task
            def browse(self):
                self.client.get("/api/products/1")
        """)
    p = run_loadpilot("run", path, "--target", demo_api.url, timeout=30)
    assert p.returncode == 2, p.stdout + p.stderr
    assert (f"{path}:7: Locusty.browse(self) takes no client: LoadPilot calls it as "
            "browse(self, client)") in p.stderr
    assert "(there is no self.client)" in p.stderr
    assert demo_api.stats()["total"] == 0


def test_time_sleep_in_a_task_pauses_only_its_vuser(demo_api, scenario_file, tmp_path):
    # Two VUsers each sleep 4 s, longer than the watchdog's 3 s: with a
    # sleep that blocked the one Python thread the run stopped (exit 2);
    # paused on the loop, both finish and the sleep is not request latency.
    path = scenario_file("""
        import time
        from loadpilot import VUser, scenario, task

        @scenario(rps=2, duration="1s", ramp_up=0, mode="constant",
                  thresholds={"p99_ms": 1000})
        class Sleepy(VUser):
            @task
            def nap(self, client):
                time.sleep(4)
                client.get("/health")
        """)
    proc, r = run_json(path, demo_api.url, tmp_path, "--drain", "8s", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "blocked the Python thread" not in proc.stderr
    it = r["iterations"]
    assert it["started"] == it["finished"] == 2 and it["cut_off"] == 0, it
    assert r["requests"] == 2 and r["errors"] == 0
    assert r["latency"]["max_ms"] < 1000, r["latency"]


def test_scenario_print_never_reaches_the_ndjson_stream(demo_api, scenario_file, tmp_path):
    # stdout carries only LoadPilot's JSON: what the scenario prints, while
    # it is imported or from a task, goes to stderr, each line labelled.
    path = scenario_file("""
        import json
        import sys
        from loadpilot import VUser, scenario, task

        print("importing")

        @scenario(rps=4, duration="1s", ramp_up=0, mode="constant")
        class Chatty(VUser):
            @task
            def shout(self, client):
                client.get("/health")
                print(json.dumps({"type": "summary", "passed": True}))
                sys.stdout.write("two\\nlines\\n")
        """)
    p = run_loadpilot("run", path, "--target", demo_api.url, "--output", "ndjson", timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    summaries = [json.loads(line) for line in lines if json.loads(line)["type"] == "summary"]
    assert len(summaries) == 1 and "requests" in summaries[0], lines[-1]
    err = p.stderr.splitlines()
    assert err.count("[scenario.py] importing") == 1, p.stderr
    assert err.count('[Chatty.shout] {"type": "summary", "passed": true}') == 4, p.stderr
    assert err.count("[Chatty.shout] two") == err.count("[Chatty.shout] lines") == 4, p.stderr


@pytest.mark.parametrize("call,shown", [
    ("os._exit(0)", "os._exit(0)"),
    ("sys.exit(0)", "sys.exit(0)"),
    ("os.abort()", "os.abort()"),
])
def test_a_task_cannot_end_the_process(demo_api, scenario_file, tmp_path, call, shown):
    # Once exit 0 after 0.2 s with no summary and no results: refused, the
    # run stops with the call and its line as a problem, fails, and writes
    # everything.
    path = scenario_file(f"""
        import os
        import sys
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="2s", ramp_up=0, mode="constant")
        class Quitter(VUser):
            @task
            def leave(self, client):
                client.get("/health")
                {call}
        """)
    line = 11
    proc, r = run_json(path, demo_api.url, tmp_path, "--drain", "1s", timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    problem = (f"{path}:{line}: Quitter.leave called {shown}, which would end the LoadPilot "
               "process and lose the run's results; the call was refused and the run stops")
    assert [p for p in r["problems"] if p.startswith(problem)], r["problems"]
    assert f"error: {problem}" in proc.stderr
    assert r["passed"] is False
    assert r["requests"] >= 1 and r["requests"] == demo_api.stats()["total"]
    row = task_row(r, "leave")
    assert row["errors"] >= 1  # the refused call is the iteration's exception
    assert "summary" in proc.stdout.lower() or "requests" in proc.stdout
