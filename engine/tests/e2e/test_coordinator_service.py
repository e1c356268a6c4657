"""The coordinator service: `loadpilot coordinator --serve` with its HTTP API,
`loadpilot agent`s behind it on a real `nats-server` on loopback, and
`loadpilot run --coordinator-url` (or a plain HTTP client) in front of it,
against `loadpilot demo-api` (docs/distributed.md#the-coordinator-service)."""
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, run_json, run_loadpilot, wait_until
from test_distributed import (NATS_SERVER, Agent, Nats, constant_health,  # noqa: F401
                              free_port)

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server is not installed (scripts/install-deps.sh)")

TOKEN = "s3cret-token-for-the-tests-0123456789"


class Service:
    """A `loadpilot coordinator --serve` on loopback; its stderr lines are
    collected."""

    def __init__(self, nats, agents=1, token=TOKEN, *extra, env=None):
        self.port = free_port()
        self.metrics_port = free_port()
        self.token = token
        args = [os.path.abspath(BIN), "coordinator", "--serve", "--listen",
                f"127.0.0.1:{self.port}", "--nats-url", nats.url, "--serve-agents", str(agents),
                "--metrics-host", "127.0.0.1", "--metrics-port", str(self.metrics_port),
                "--agents-timeout", "20s", *extra]
        if token:
            args += ["--api-token", token]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the service did not start: {self.lines}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def request(self, method, path, body=None, token=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read().decode(), conn

    def get(self, path, token=None):
        status, text, conn = self.request("GET", path, token=token)
        conn.close()
        return status, text

    def status(self):
        return json.loads(self.get("/status", TOKEN)[1])

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/readyz")[0] == 200:
                return True
            time.sleep(0.1)
        return False

    def wait_idle(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status()["state"] == "idle":
                return True
            time.sleep(0.1)
        return False

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as r:
            return r.read().decode()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


@pytest.fixture
def cluster():
    """A NATS server, N agents and the service in front of them."""
    made = []

    def make(n_agents=2, **kwargs):
        nats = Nats()
        agents = [Agent(nats, f"svc{i}") for i in range(n_agents)]
        for a in agents:
            assert a.wait_for("waiting for a run"), a.lines
        service = Service(nats, n_agents, **kwargs)
        made.append((nats, agents, service))
        assert service.wait_ready(), service.lines
        return service
    yield make
    for nats, agents, service in made:
        service.close()
        for a in agents:
            a.close()
        nats.stop()


def remote(service, *extra):
    return ["--coordinator-url", service.url, "--api-token", service.token or "", *extra]


def run_request(path, target):
    """The POST /run body `loadpilot run --coordinator-url` would send, made
    from --dry-run's plan."""
    proc = run_loadpilot("run", path, "--target", target, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    plan.pop("engine", None)
    source = open(path).read()
    main = os.path.basename(path)
    return {"plan": plan, "bundle": bundle({main: source}, main),
            "options": {"max_connections": 20}}


def bundle(files, main):
    """A bundle as cluster/protocol.h defines it: the hash covers each file,
    in path order, as "LEN:PATH\nLEN:CONTENT" (lengths in bytes)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        data = files[path].encode()
        digest.update(f"{len(path.encode())}:{path}\n{len(data)}:".encode() + data)
    return {"main": main, "files": files, "sha256": digest.hexdigest()}


def test_a_remote_run_gives_the_local_outputs_and_exact_counts(cluster, demo_api, scenario_file,
                                                               tmp_path):
    service = cluster(2)
    path = scenario_file(constant_health(200, "2s"))
    report = tmp_path / "report.html"
    proc, r = run_json(path, demo_api.url, tmp_path, "--report", str(report), *remote(service))
    assert proc.returncode == 0, proc.stderr
    assert r["iterations"]["started"] == r["iterations"]["finished"] == 400
    assert r["requests"] == 400 == demo_api.stats()["routes"]["GET /health"]
    assert r["errors"] == 0 and r["passed"] is True
    assert r["coordinator_url"] == service.url
    assert r["external_agents"]["count"] == 2
    assert report.exists() and "LoadPilot" in report.read_text()
    assert "LoadPilot summary" in proc.stdout
    # Between runs the service is idle again, its metrics still served.
    assert service.wait_idle()
    text = service.metrics()
    assert 'loadpilot_phase{phase="idle"} 1' in text
    assert "loadpilot_agents_connected 2" in text
    assert "loadpilot_requests_total 400" in text


def test_thresholds_judge_a_remote_run_as_a_local_one(cluster, demo_api, scenario_file, tmp_path):
    service = cluster(1)
    path = scenario_file(constant_health(50, "1s"))
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report",
                       "--threshold", "p99_ms=0.001", *remote(service))
    assert proc.returncode == 1, proc.stderr
    assert r["passed"] is False
    assert r["requests"] == 50 == demo_api.stats()["total"]


def test_the_stream_is_ndjson_a_plain_http_client_can_read(cluster, demo_api, scenario_file):
    service = cluster(1)
    body = json.dumps(run_request(scenario_file(constant_health(40, "1s")), demo_api.url))
    status, text, conn = service.request("POST", "/run", body, TOKEN,
                                         {"Content-Type": "application/json"})
    conn.close()
    assert status == 200, text
    lines = [json.loads(line) for line in text.splitlines()]
    types = [line["type"] for line in lines]
    for t in ("accepted", "hello", "snapshot", "round", "summary", "end", "results", "exit"):
        assert t in types, types
    assert types[-2:] == ["results", "exit"]
    results = lines[-2]["results"]
    assert results["requests"] == 40 == demo_api.stats()["total"]


def test_without_the_token_nothing_runs(cluster, demo_api, scenario_file, tmp_path):
    service = cluster(1)
    path = scenario_file(constant_health(20, "1s"))
    for token in ("", "wrong-token"):
        proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                             "--coordinator-url", service.url, "--api-token", token)
        assert proc.returncode == 2, proc.stderr
        assert "refused the API token (401)" in proc.stderr
    status, _ = service.get("/status")
    assert status == 401
    assert demo_api.stats()["total"] == 0


def test_a_bad_run_request_is_refused_with_every_message(cluster, demo_api, scenario_file):
    service = cluster(1)
    req = run_request(scenario_file(constant_health(20, "1s")), demo_api.url)
    req["plan"]["name"] = ""
    req["plan"]["profile"]["rps"] = -5
    req["options"]["timeout"] = "soon"
    status, text, conn = service.request("POST", "/run", json.dumps(req), TOKEN)
    conn.close()
    assert status == 400, text
    body = json.loads(text)
    assert len(body["errors"]) >= 2, body
    assert any("options.timeout" in e for e in body["errors"]), body
    status, text, conn = service.request("POST", "/run", "{not json", TOKEN)
    conn.close()
    assert status == 400 and "not valid JSON" in text
    req = run_request(scenario_file(constant_health(20, "1s")), demo_api.url)
    req["bundle"]["files"]["../escape.py"] = "x = 1\n"
    status, text, conn = service.request("POST", "/run", json.dumps(req), TOKEN)
    conn.close()
    assert status == 400 and "bad file path" in text, text
    assert demo_api.stats()["total"] == 0


def test_a_plan_of_several_scenarios_is_refused_before_any_traffic(cluster, demo_api,
                                                                   scenario_file):
    # Agents carry one scenario for now (docs/scenarios.md#several-scenarios-in-one-run).
    service = cluster(1)
    req = run_request(scenario_file(constant_health(20, "1s")), demo_api.url)
    one = req["plan"]
    other = json.loads(json.dumps(one))
    other["name"] = "Other"
    req["plan"] = {"name": "both", "target": one["target"], "file": one["file"],
                   "scenarios": [one, other]}
    status, text, conn = service.request("POST", "/run", json.dumps(req), TOKEN)
    conn.close()
    assert status == 400, text
    assert any(e.startswith("plan.scenarios: a run of several scenarios runs in one process")
               for e in json.loads(text)["errors"]), text
    assert demo_api.stats()["total"] == 0


def test_an_oversized_request_is_refused_before_it_is_read(cluster):
    service = cluster(1)
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as s:
        s.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
        answer = s.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413"), answer


def test_a_second_run_while_one_is_active_is_busy(cluster, demo_api, scenario_file, tmp_path):
    service = cluster(1)
    long_run = json.dumps(run_request(scenario_file(constant_health(20, "20s"), "long.py"),
                                      demo_api.url))
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
    conn.request("POST", "/run", long_run, {"Authorization": f"Bearer {TOKEN}"})
    stream = conn.getresponse()
    assert stream.status == 200
    # Running: its agents are ready and it reports.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line or json.loads(line)["type"] == "round":
            break
    path = scenario_file(constant_health(20, "1s"))
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report", *remote(service))
    assert proc.returncode == 2, proc.stderr
    assert "is busy (409)" in proc.stderr and "long.py" not in proc.stderr
    # POST /stop ends the active run, drained; the stream ends with results.
    status, text, c = service.request("POST", "/stop", "", TOKEN)
    c.close()
    assert status == 202, text
    lines = [json.loads(line) for line in stream.read().decode().splitlines()]
    conn.close()
    assert lines[-1]["type"] == "exit"
    results = [line for line in lines if line["type"] == "results"][0]["results"]
    assert results["interrupted"] is True
    assert results["requests"] == demo_api.stats()["total"]
    assert service.wait_idle()
    status, text, c = service.request("POST", "/stop", "", TOKEN)
    c.close()
    assert status == 409


def test_a_client_that_disconnects_stops_its_run(cluster, demo_api, scenario_file):
    service = cluster(1)
    body = json.dumps(run_request(scenario_file(constant_health(50, "60s")), demo_api.url))
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=60)
    sock.sendall(f"POST /run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and b'"type":"round"' not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            break
        seen += chunk
    assert b'"type":"round"' in seen, seen[-500:]
    sock.close()
    # The run ends (drained) long before its 60 s.
    assert service.wait_idle(timeout=40), service.lines
    assert any("its client went away" in line for line in service.lines), service.lines
    sent = demo_api.stats()["total"]
    time.sleep(1.5)
    assert demo_api.stats()["total"] == sent
    assert sent < 50 * 30


def test_ctrl_c_stops_the_remote_run_and_keeps_partial_results(cluster, demo_api, scenario_file,
                                                               tmp_path):
    service = cluster(1)
    path = scenario_file(constant_health(50, "60s"))
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--results-json", str(results), "--no-report", "--no-metrics",
                             *remote(service)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "loadpilot: running" in line or (not line and proc.poll() is not None):
            break
    # Interrupted once the agents' load reaches demo-api, not after a fixed
    # 2 s: the partial results then hold requests on any machine.
    assert wait_until(lambda: demo_api.stats()["total"] > 0, 30)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    r = json.loads(results.read_text())
    assert r["interrupted"] is True
    assert 0 < r["requests"] == demo_api.stats()["total"]
    assert service.wait_idle()


def test_an_unreachable_service_is_one_message(demo_api, scenario_file):
    path = scenario_file(constant_health(20, "1s"))
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         "--coordinator-url", f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 2
    assert proc.stderr.count("error:") == 1, proc.stderr
    assert "cannot reach the coordinator service" in proc.stderr
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         "--coordinator-url", "https://127.0.0.1:8080")
    assert proc.returncode == 2 and "--coordinator-url" in proc.stderr


def test_an_open_service_on_a_network_address_must_be_asked_for():
    proc = subprocess.run([os.path.abspath(BIN), "coordinator", "--serve", "--listen",
                           "0.0.0.0:0", "--no-metrics"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert "without an API token" in proc.stderr and "--allow-open" in proc.stderr
    proc = subprocess.run([os.path.abspath(BIN), "coordinator"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and "--serve" in proc.stderr


def test_the_service_waits_for_its_agents_before_it_is_ready(demo_api):
    nats = Nats()
    service = Service(nats, 2)
    try:
        status, text = service.get("/readyz")
        assert status == 503 and "0 of 2" in text
        agents = [Agent(nats, "late1"), Agent(nats, "late2")]
        try:
            assert service.wait_ready(), service.lines
            assert service.status()["agents_connected"] == 2
        finally:
            for a in agents:
                a.close()
    finally:
        service.close()
        nats.stop()
    assert service.proc.returncode == 0
