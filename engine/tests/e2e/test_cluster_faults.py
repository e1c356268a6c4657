"""Distributed runs under hostile or odd conditions: forged frames on a run's
NATS subjects, agent ids claimed twice, credentials in the NATS URL, scenario
files named like options, agents suspended and resumed, resend floods
(docs/distributed.md). A real nats-server on loopback, real agents, demo-api."""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN
from test_distributed import (NATS_SERVER, Agent, Nats, agents, constant_health,  # noqa: F401
                              external, nats, wait_running)

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server is not installed (scripts/install-deps.sh)")


class RawNats:
    """A bare NATS client over the text protocol: what any client on the
    broker can publish, with nothing of LoadPilot's in between."""

    def __init__(self, port, token=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        assert self.file.readline().startswith(b"INFO")
        connect = {"verbose": False, "pedantic": False}
        if token:
            connect["auth_token"] = token
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        self._until_pong()

    def _until_pong(self):
        while True:
            line = self.file.readline()
            if line.startswith(b"PONG"):
                return
            assert not line.startswith(b"-ERR"), line

    def sub(self, subject, sid=1):
        self.sock.sendall(f"SUB {subject} {sid}\r\n".encode())
        self.sock.sendall(b"PING\r\n")
        self._until_pong()

    def pub(self, subject, payload):
        data = payload.encode() if isinstance(payload, str) else payload
        self.sock.sendall(f"PUB {subject} {len(data)}\r\n".encode() + data + b"\r\n")

    def flush(self):
        self.sock.sendall(b"PING\r\n")
        self._until_pong()

    def next_msg(self, timeout=20):
        """(subject, payload) of the next message."""
        self.sock.settimeout(timeout)
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
                continue
            if line.startswith(b"MSG"):
                parts = line.split()
                size = int(parts[-1])
                payload = self.file.read(size + 2)[:-2]
                return parts[1].decode(), payload.decode()

    def close(self):
        self.sock.close()


def run_with_a_spy(nats, path, demo_api, results):
    """Starts a run of PATH on the external agents with a raw NATS client
    listening to the run's frames; returns (proc, spy, subject, payload,
    frame) once the first round that started iterations has gone by: its
    subject, its text and the frame read from it."""
    spy = RawNats(nats.port)
    spy.sub("loadpilot.run.*.frames.*")
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--no-metrics", "--results-json", str(results),
                             *external(nats, 1)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        subject, payload = spy.next_msg()
        frame = json.loads(payload)
        if frame.get("type") == "round" and frame["stats"]["started"] > 0:
            return proc, spy, subject, payload, frame


def test_forged_frames_are_dropped_and_named_and_the_books_fail_the_run(
        nats, agents, demo_api, scenario_file, tmp_path):
    path = scenario_file(constant_health(100, "3s"))
    agents("f1")
    results = tmp_path / "r.json"
    # The first round frame gives the run's subject and a real frame to replay.
    proc, spy, subject, payload, frame = run_with_a_spy(nats, path, demo_api, results)
    run_id = frame["run_id"]
    for forged in ({"type": 5}, {"type": "round", "seq": "x", "stats": frame["stats"]},
                   {"type": "exit", "how": 5}, {"type": "end", "rounds": "x"},
                   {"type": "round", "seq": 0, "stats": frame["stats"]}):
        spy.pub(subject, json.dumps({**forged, "run_id": run_id, "agent_id": "f1"}))
    # A replay of a real round under a number the agent sent too: merged once.
    spy.pub(subject, payload)
    spy.flush()
    out, err = proc.communicate(timeout=60)
    spy.close()
    # Ends as a run that failed, with its results, not a crash (exit 3).
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    problems = "\n".join(r["problems"])
    assert "agent f1 (1 of 1): 5 malformed frames dropped, nothing of them counted" in problems
    assert '"type": must be a string (got 5)' in problems
    it = r["iterations"]
    assert it["planned"] == 300
    assert it["started"] + it["dropped"] + it["not_started"] == 300
    assert it["started"] == demo_api.stats()["routes"]["GET /health"]


def test_a_round_counted_twice_fails_the_books(nats, agents, demo_api, scenario_file,
                                               tmp_path):
    """A well-formed round under a new number (a replay nothing can tell
    from a real frame) makes started exceed planned: the books say so and
    the run fails, never passes on numbers that do not add up."""
    path = scenario_file(constant_health(100, "2s"))
    agents("b1")
    results = tmp_path / "r.json"
    proc, spy, subject, payload, frame = run_with_a_spy(nats, path, demo_api, results)
    frame["seq"] = frame["seq"] + 1000  # a round number never used in a 2 s run
    spy.pub(subject, json.dumps(frame))
    spy.flush()
    out, err = proc.communicate(timeout=60)
    spy.close()
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    assert r["passed"] is False
    assert any("the books do not hold" in p and "of 200 planned" in p for p in r["problems"]), \
        r["problems"]


DASH_SCENARIO = constant_health(20, "1s")


def test_a_scenario_named_like_an_option_runs_on_local_agents(demo_api, tmp_path):
    """Child command lines put the file after "--": `-x.py` is a file."""
    (tmp_path / "-x.py").write_text(__import__("textwrap").dedent(DASH_SCENARIO))
    proc = subprocess.run([os.path.abspath(BIN), "run", "--target", demo_api.url, "--no-report",
                           "--no-metrics", "--agents", "2", "--results-json", "r.json", "--",
                           "-x.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["iterations"]["started"] == 20


def test_a_scenario_named_like_an_option_runs_on_external_agents(nats, agents, demo_api,
                                                                 tmp_path):
    (tmp_path / "-x.py").write_text(__import__("textwrap").dedent(DASH_SCENARIO))
    agents("d1")
    proc = subprocess.run([os.path.abspath(BIN), "run", "--target", demo_api.url, "--no-report",
                           "--no-metrics", "--results-json", "r.json", *external(nats, 1), "--",
                           "-x.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["iterations"]["started"] == 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout
        for k in map(int, kids.split()):
            out.append(k)
            todo.append(k)
    return out


@pytest.mark.parametrize("name", ["health.py", "-x.py"])
def test_nats_credentials_in_the_url_never_reach_a_command_line(demo_api, tmp_path, name):
    """The service's run process and its agents' run processes get the NATS
    server and credentials through the environment; `ps` shows none. With
    `-x.py`: through the service, a name like an option is a file."""
    token = "tok-never-on-a-command-line-4711"
    server = Nats(token=token)
    env = dict(os.environ, NATS_TOKEN=token)
    agent = subprocess.Popen([os.path.abspath(BIN), "agent", "--nats-url", server.url,
                              "--agent-id", "cred1"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    port = free_port()
    api_token = "api-token-for-the-credentials-test"
    service = subprocess.Popen(
        [os.path.abspath(BIN), "coordinator", "--serve", "--listen", f"127.0.0.1:{port}",
         "--nats-url", f"nats://{token}@127.0.0.1:{server.port}", "--serve-agents", "1",
         "--no-metrics", "--agents-timeout", "20s", "--api-token", api_token],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        (tmp_path / name).write_text(__import__("textwrap").dedent(constant_health(20, "3s")))
        deadline = time.monotonic() + 30
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    ready = s.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                pass
            if not ready:
                time.sleep(0.1)
        assert ready, "the service did not get ready"
        client = subprocess.Popen(
            [os.path.abspath(BIN), "run", "--target", demo_api.url, "--no-report",
             "--no-metrics", "--results-json", "r.json", "--coordinator-url",
             f"http://127.0.0.1:{port}", "--api-token", api_token, "--", name],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # While the run runs: every process under the service and the agent.
        seen = {}
        deadline = time.monotonic() + 30
        while client.poll() is None and time.monotonic() < deadline:
            for pid in descendants(service.pid) + descendants(agent.pid):
                line = cmdline(pid)
                if line:
                    seen[pid] = line
            time.sleep(0.05)
        out, err = client.communicate(timeout=60)
        assert client.returncode == 0, err
        runs = [line for line in seen.values() if " run " in line]
        assert len(runs) >= 2, seen  # the service's run process and the agent's
        for line in seen.values():
            assert token not in line, line
        assert json.loads((tmp_path / "r.json").read_text())["iterations"]["started"] == 60
    finally:
        for p in (service, agent):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        server.stop()


def test_a_resend_flood_is_bounded_per_run_and_second(nats, agents, demo_api, scenario_file,
                                                      tmp_path):
    """Anyone on the server can ask an agent to send its rounds again; it
    sends at most 60 a second per run and says it refused the rest."""
    path = scenario_file(constant_health(20, "3s"))
    (agent,) = agents("r1")
    spy = RawNats(nats.port)
    spy.sub("loadpilot.run.*.frames.*")
    proc = subprocess.run([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                           "--no-report", "--no-metrics", *external(nats, 1)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rounds = []
    while True:  # the run's frames, up to its exit
        subject, payload = spy.next_msg()
        frame = json.loads(payload)
        if frame["type"] == "round":
            rounds.append(frame["seq"])
        if frame["type"] == "exit":
            break
    run_id = frame["run_id"]
    assert len(rounds) >= 3
    # The agent keeps the run's rounds until its next run: ask 100 times.
    control = subject.replace(".frames.", ".control.")
    ask = json.dumps({"type": "resend", "run_id": run_id, "seqs": rounds})
    for _ in range(100):
        spy.pub(control, ask)
    spy.flush()
    assert agent.wait_for("refused so far", timeout=10), agent.lines
    resent = 0
    try:
        while True:
            spy.next_msg(timeout=1.5)
            resent += 1
    except (socket.timeout, TimeoutError):
        pass
    spy.close()
    # 100 requests for every round: without a bound 100 x rounds frames.
    assert 0 < resent <= 2 * 60, resent


def start_twins(nats):
    """Two live agents with one id: the first is suspended while the second
    starts, so the second's check that the id is free gets no answer (as
    when both start in the same instant), then resumed."""
    first = Agent(nats, "twin")
    assert first.wait_for("waiting for a run"), first.lines
    os.kill(first.proc.pid, signal.SIGSTOP)
    try:
        second = Agent(nats, "twin")
        assert second.wait_for("waiting for a run"), second.lines
    finally:
        os.kill(first.proc.pid, signal.SIGCONT)
    return first, second


def test_two_agents_with_one_id_never_both_run(nats, demo_api, scenario_file, tmp_path):
    first, second = start_twins(nats)
    try:
        path = scenario_file(constant_health(100, "2s"))
        results = tmp_path / "r.json"
        proc = subprocess.run([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                               "--no-report", "--no-metrics", "--results-json", str(results),
                               *external(nats, 1)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        r = json.loads(results.read_text())
        # One share, run once: the target saw exactly what the results count.
        assert r["iterations"]["started"] == 200
        assert demo_api.stats()["routes"]["GET /health"] == 200
        # The one the coordinator did not admit is told so and exits 2.
        refused = [a for a in (first, second)
                   if a.wait_for("a coordinator refused this agent", timeout=10)]
        assert len(refused) == 1, (first.lines, second.lines)
        assert refused[0].proc.wait(timeout=10) == 2
        assert 'another agent with the id "twin"' in "\n".join(refused[0].lines)
        kept = second if refused[0] is first else first
        assert kept.proc.poll() is None
    finally:
        first.close()
        second.close()


def test_an_agent_suspended_for_6_s_keeps_its_share(nats, agents, demo_api, scenario_file,
                                                    tmp_path):
    """The agent process (not its run) is stopped for longer than an agent
    waits for its coordinator; resumed, it asks before giving up and its
    share runs in full."""
    path = scenario_file(constant_health(50, "10s"))
    (agent,) = agents("p1")
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--no-metrics", "--results-json", str(results),
                             *external(nats, 1)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_running(proc)
    time.sleep(1)
    os.kill(agent.proc.pid, signal.SIGSTOP)
    time.sleep(6)
    os.kill(agent.proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert agent.wait_for("waiting for the next run", timeout=10), "\n".join(agent.lines) + err
    # Resumed, it may ask ("resumed after a pause, ... asking it") when the
    # heartbeats buffered during the pause come late; it must not give up.
    assert not any("stopping the load" in line for line in agent.lines), agent.lines
    assert proc.returncode == 0, err
    r = json.loads(results.read_text())
    assert r["iterations"]["started"] == 500
    assert demo_api.stats()["routes"]["GET /health"] == 500


def test_an_agent_ended_with_sigterm_is_reported_so(nats, agents, demo_api, scenario_file,
                                                    tmp_path):
    path = scenario_file(constant_health(50, "6s"))
    a1, a2 = agents("t1", "t2")
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--no-metrics", *external(nats, 2)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_running(proc)
    time.sleep(1)
    a2.proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    # Which share t2 got depends on which agent answered first.
    assert re.search(r"agent t2 \([12] of 2\) was stopped by SIGTERM on its machine", err), err
    assert "exited with code 130" not in err
    assert a2.proc.wait(timeout=20) == 143


def start_service(nats_url, n_agents, env=None):
    """A coordinator service on a free loopback port; returns (process, port)
    once it is ready."""
    port = free_port()
    service = subprocess.Popen(
        [os.path.abspath(BIN), "coordinator", "--serve", "--listen", f"127.0.0.1:{port}",
         "--nats-url", nats_url, "--serve-agents", str(n_agents), "--no-metrics",
         "--agents-timeout", "20s", "--api-token", SERVICE_TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return service, port
        except OSError:
            pass
        time.sleep(0.1)
    service.kill()
    raise RuntimeError("the service did not get ready")


SERVICE_TOKEN = "api-token-for-the-cluster-fault-tests"


def test_a_remote_run_announces_the_services_agents(nats, agents, demo_api, scenario_file):
    path = scenario_file(constant_health(20, "1s"))
    agents("v1", "v2")
    service, port = start_service(nats.url, 2)
    try:
        proc = subprocess.run([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                               "--no-report", "--no-metrics", "--output", "text",
                               "--coordinator-url", f"http://127.0.0.1:{port}",
                               "--api-token", SERVICE_TOKEN],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        running = [line for line in proc.stdout.splitlines() if "loadpilot: running" in line]
        assert running and "2 external agents" in running[0], proc.stdout
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
