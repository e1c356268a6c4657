"""Distributed runs: `loadpilot agent` processes and `loadpilot run
--external-agents N`, joined by a real `nats-server` that these tests start on
a free loopback port, against `loadpilot demo-api` (docs/distributed.md)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BIN, Recorder, interrupt_run, run_json, run_loadpilot, shop, task_row,
                      wait_until)

NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server is not installed (scripts/install-deps.sh)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nats:
    """A nats-server on loopback, optionally with a token; restartable on the
    same port."""

    def __init__(self, token=None):
        self.port = free_port()
        self.token = token
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.token:
            args += ["--auth", self.token]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


class Agent:
    """A `loadpilot agent`; its stderr lines are collected."""

    def __init__(self, nats, agent_id, token=None, extra=()):
        self.id = agent_id
        args = [os.path.abspath(BIN), "agent", "--nats-url", nats.url, "--agent-id", agent_id]
        if token or nats.token:
            args += ["--nats-token", token or nats.token]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def count(self, text):
        return sum(text in line for line in self.lines)

    def children(self):
        """The pids of its run processes."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


@pytest.fixture
def nats():
    server = Nats()
    yield server
    server.stop()


@pytest.fixture
def agents(nats):
    started = []

    def start(*ids, server=None, token=None):
        out = [Agent(server or nats, i, token=token) for i in ids]
        started.extend(out)
        for a in out:
            assert a.wait_for("waiting for a run"), a.lines
        return out
    yield start
    for a in started:
        a.close()


def wait_running(proc, timeout=60):
    """Reads the coordinator PROC's stdout up to its "loadpilot: running"
    line, printed once every agent is ready and the run starts. Tests that
    act "mid-run" count from there: an agent's run process can take seconds
    to get ready (a sanitizer build on a busy machine), and a kill, stop or
    broker restart before that hits the start, not the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "loadpilot: running" in line:
            return True
        if not line and proc.poll() is not None:
            return False
    return False


def external(nats, n, *extra):
    return ["--external-agents", str(n), "--nats-url", nats.url, *extra]


def constant_health(rate, duration):
    return f"""
        from loadpilot import VUser, scenario, task

        @scenario(rps={rate}, duration="{duration}", ramp_up=0, mode="constant")
        class Health(VUser):
            @task
            def health(self, client):
                client.get("/" + "health")
    """


def test_three_agents_share_one_schedule_exactly(nats, agents, demo_api, scenario_file,
                                                  tmp_path):
    path = scenario_file(constant_health(300, "3s"))
    agents("a1", "a2")
    # The third agent starts after the coordinator: it waits for it.
    late = []
    timer = threading.Timer(1.0, lambda: late.extend(agents("a3")))
    timer.start()
    try:
        proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 3))
    finally:
        timer.join()
    assert proc.returncode == 0, proc.stderr
    # Every planned arrival is started or dropped by exactly one agent. An
    # agent on an overloaded machine (a sanitizer build) may drop a stale
    # arrival, counted as such; never more than 1%.
    it = r["iterations"]
    assert it["planned"] == 900 == it["started"] + it["dropped"] + it["not_started"], it
    assert it["dropped"] + it["not_started"] <= 9 and it["started"] == it["finished"], it
    assert r["requests"] == it["finished"] == demo_api.stats()["routes"]["GET /health"]
    assert r["errors"] == 0
    assert r["lost_agents"] == []
    ext = r["external_agents"]
    assert ext["count"] == 3 and sorted(a["id"] for a in ext["agents"]) == ["a1", "a2", "a3"]
    # On one machine the clocks agree to well under a millisecond.
    assert 0 <= ext["clock_uncertainty_ms"] < 5
    assert "start offsets within" in proc.stdout
    # Each agent ran its share and went back to waiting.
    for a in late:
        assert a.wait_for("waiting for the next run")


def test_python_vusers_with_on_start_and_checks_on_agents(nats, agents, demo_api, scenario_file,
                                                          tmp_path):
    path = scenario_file(shop('200, duration="2s", ramp_up=0, mode="constant"'))
    agents("p1", "p2")
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 2))
    assert proc.returncode == 0, proc.stderr
    assert r["iterations"]["started"] == r["iterations"]["finished"] == 400
    routes = demo_api.stats()["routes"]
    # The real on_start and on_stop ran on every agent's VUsers.
    assert routes["POST /auth/login"] == routes["POST /auth/logout"] == \
        task_row(r, "on_start")["requests"] >= 2
    assert r["requests"] == demo_api.stats()["total"]
    assert r["errors"] == 0


def test_closed_model_users_are_split_between_agents(nats, agents, demo_api, scenario_file,
                                                    tmp_path):
    # users=7 over 2 agents: 4 and 3 users, each with its own VUser (one
    # login each), the plan's think time travelling in the plan.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task, constant

        @scenario(users=7, wait=constant(0.05), duration="2s")
        class Users(VUser):
            def on_start(self, client):
                client.post("/auth/login", json={"user": "u", "pass": "p"})

            @task
            def products(self, client):
                client.get("/api/products", params={"n": 1 + 1})
    """)
    agents("c1", "c2")
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 2))
    assert proc.returncode == 0, proc.stderr
    assert r["model"] == "closed"
    assert r["users"]["planned"] == 7 and r["users"]["peak_active"] == 7
    routes = demo_api.stats()["routes"]
    assert routes["POST /auth/login"] == 7
    assert r["requests"] == demo_api.stats()["total"]
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"]
    assert it["planned"] == it["started"] + it["dropped"]
    assert r["lost_agents"] == []


def test_a_persistent_agent_serves_runs_back_to_back(nats, agents, demo_api, scenario_file,
                                                     tmp_path):
    path = scenario_file(constant_health(50, "1s"))
    (agent,) = agents("solo")
    for _ in range(2):
        proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 1))
        assert proc.returncode == 0, proc.stderr
        assert r["iterations"]["finished"] == 50
    assert demo_api.stats()["total"] == 100
    assert agent.wait_for("waiting for the next run")
    assert agent.count(" ended") == 2


def test_a_helper_module_of_the_scenario_folder_travels_with_it(nats, agents, demo_api,
                                                                scenario_file, tmp_path):
    (tmp_path / "paths.py").write_text("def health():\n    return '/health'\n")
    path = scenario_file("""
        from loadpilot import VUser, scenario, task
        import paths

        @scenario(rps=40, duration="1s", ramp_up=0, mode="constant")
        class Helper(VUser):
            @task
            def health(self, client):
                client.get(paths.health())
    """)
    agents("h1", "h2")
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 2))
    assert proc.returncode == 0, proc.stderr
    assert r["requests"] == 40 == demo_api.stats()["routes"]["GET /health"]


def test_csv_data_of_the_scenario_folder_travels_and_agents_split_its_rows(
        nats, agents, recording_server, scenario_file, tmp_path):
    """docs/distributed.md#the-bundle: a file read with loadpilot.data
    travels with the scenario; each agent takes its share of the rows."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "users.csv").write_text(
        "name\n" + "".join(f"user{i}\n" for i in range(1, 11)))
    path = scenario_file("""
        import loadpilot.data
        from loadpilot import VUser, scenario, task

        users = loadpilot.data.csv("data/users.csv", order="sequential")

        @scenario(rps=20, duration="1s", ramp_up=0, mode="constant")
        class Users(VUser):
            @task
            def user(self, client):
                client.get("/api/user", params=users.next())
    """)
    agents("d1", "d2")
    proc, r = run_json(path, recording_server, tmp_path, "--no-report", *external(nats, 2))
    # Every row once, over both agents; each agent's other 5 arrivals found
    # its share used up, and said so: the run fails for it.
    assert proc.returncode == 1, proc.stderr
    assert r["problems"] == [f"the test data ran out: 10 iterations failed on "
                             f"{r['top_errors'][0]['message']}"], r["problems"]
    seen = sorted(target for _, target, _, _ in Recorder.seen)
    assert seen == sorted(f"/api/user?name=user{i}" for i in range(1, 11))
    assert r["requests"] == 10 and r["errors"] == 10
    messages = sorted(e["message"] for e in r["top_errors"])
    assert len(messages) == 2, messages
    for m in messages:
        assert "DataExhausted: data/users.csv: all 5 rows of this agent's share used" in m, m


def test_an_agent_that_cannot_import_the_scenario_stops_the_run(nats, agents, demo_api,
                                                                scenario_file, tmp_path):
    # The helper imports on the coordinator but fails on an agent (which
    # runs the bundle from a folder of its own, with the plan file in it).
    (tmp_path / "fragile.py").write_text(
        "import os\nif os.path.exists('.plan.json'):\n    raise ImportError('no such module here')\n")
    path = scenario_file("""
        from loadpilot import VUser, scenario, task
        import fragile

        @scenario(rps=40, duration="1s", ramp_up=0, mode="constant")
        class Fragile(VUser):
            @task
            def health(self, client):
                client.get("/" + "health")
    """)
    agents("f1")
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         *external(nats, 1))
    assert proc.returncode == 2, proc.stderr
    assert "agent f1 (1 of 1)" in proc.stderr
    assert "scenario.py:3" in proc.stderr and "ImportError" in proc.stderr
    assert demo_api.stats()["total"] == 0


def test_no_agents_is_a_clear_error_within_the_timeout(nats, demo_api, scenario_file):
    path = scenario_file(constant_health(10, "1s"))
    start = time.monotonic()
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         *external(nats, 2, "--agents-timeout", "1s"))
    assert proc.returncode == 2
    assert time.monotonic() - start < 10
    assert "waited 1 s for 2 external agents" in proc.stderr and "saw none" in proc.stderr
    assert demo_api.stats()["total"] == 0


def test_too_few_agents_names_the_ones_it_saw(nats, agents, demo_api, scenario_file):
    path = scenario_file(constant_health(10, "1s"))
    agents("only-one")
    proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                         *external(nats, 2, "--agents-timeout", "1500ms"))
    assert proc.returncode == 2
    assert "saw only-one (idle" in proc.stderr
    assert demo_api.stats()["total"] == 0


def test_two_agents_cannot_share_an_id(nats, agents):
    agents("twin")
    second = subprocess.run([os.path.abspath(BIN), "agent", "--nats-url", nats.url,
                             "--agent-id", "twin"], capture_output=True, text=True, timeout=30)
    assert second.returncode == 2
    assert 'another agent with the id "twin"' in second.stderr


def test_a_wrong_token_is_a_clear_error(demo_api, scenario_file):
    server = Nats(token="right-token")
    try:
        path = scenario_file(constant_health(10, "1s"))
        proc = run_loadpilot("run", path, "--target", demo_api.url, "--no-report",
                             *external(server, 1, "--nats-token", "wrong-token"))
        assert proc.returncode == 2
        assert "cannot connect to NATS" in proc.stderr
        assert "uthorization" in proc.stderr
        agent = subprocess.run([os.path.abspath(BIN), "agent", "--nats-url", server.url,
                                "--nats-token", "wrong"], capture_output=True, text=True,
                               timeout=30)
        assert agent.returncode == 2 and "cannot connect to NATS" in agent.stderr
    finally:
        server.stop()


def test_a_killed_agent_is_reported_and_the_others_counts_are_exact(nats, agents, demo_api,
                                                                    scenario_file, tmp_path):
    # 6 s: the agent is killed about 1.5 s in and marked lost 2 to 3 s
    # later, well before the end even on a loaded machine (with 4 s the run
    # could end first, and the agent was then reported as ended instead).
    path = scenario_file(constant_health(100, "6s"))
    a1, a2 = agents("k1", "k2")
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--results-json", str(results),
                             *external(nats, 2, "--agent-lost-after", "2s")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert a2.wait_for("share", timeout=20)
    assert wait_running(proc)
    time.sleep(1.5)
    # The whole agent host goes: the agent and its run process.
    for pid in a2.children():
        os.kill(pid, signal.SIGKILL)
    a2.proc.kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    assert len(r["lost_agents"]) == 1
    lost = r["lost_agents"][0]
    assert "k2" in lost["who"] and lost["dropped"] > 0
    assert "k2" in err and "marked lost" in err
    # Every planned arrival is accounted for: started by an agent or
    # counted as dropped for the lost one.
    it = r["iterations"]
    assert it["planned"] == 600
    assert it["started"] + it["dropped"] + it.get("not_started", 0) == 600
    # What k1 started all reached demo-api; what k2 reported did too.
    assert demo_api.stats()["routes"]["GET /health"] >= r["requests"]
    assert r["passed"] is False


def test_a_stopped_agent_is_lost_then_comes_back(nats, agents, demo_api, scenario_file,
                                                 tmp_path):
    path = scenario_file(constant_health(50, "8s"))
    a1, a2 = agents("s1", "s2")
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--results-json", str(results),
                             *external(nats, 2, "--agent-lost-after", "2s")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert a2.wait_for("share", timeout=20)
    assert wait_running(proc)
    time.sleep(1.5)
    stopped = [a2.proc.pid, *a2.children()]
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(3.5)
    for pid in stopped:
        os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    r = json.loads(results.read_text())
    assert "s2" in err and "marked lost" in err and "is back" in err
    # Back before the end: not a lost agent of the run.
    assert r["lost_agents"] == []
    it = r["iterations"]
    assert it["started"] + it["dropped"] + it.get("not_started", 0) == it["planned"] == 400


def test_a_killed_coordinator_leaves_no_load_running(nats, agents, demo_api, scenario_file):
    path = scenario_file(constant_health(50, "30s"))
    (agent,) = agents("orphan")
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", *external(nats, 1)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert agent.wait_for("share", timeout=20)
    # Killed once the agent's load reaches demo-api (not after a fixed 1.5 s).
    assert wait_until(lambda: demo_api.stats()["total"] > 0, 30)
    proc.kill()
    proc.wait()
    # Within the coordinator's silence (5 s) and the agent's drain, the
    # load stops and the agent waits again.
    assert agent.wait_for("waiting for the next run", timeout=15), agent.lines
    assert any("no word from its coordinator" in line for line in agent.lines)
    before = demo_api.stats()["total"]
    time.sleep(1.5)
    assert demo_api.stats()["total"] == before


def test_a_broker_restart_mid_run_ends_cleanly(agents, demo_api, scenario_file, tmp_path):
    server = Nats()
    try:
        path = scenario_file(constant_health(50, "6s"))
        agents("b1", server=server)
        results = tmp_path / "r.json"
        proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                                 "--no-report", "--results-json", str(results),
                                 *external(server, 1, "--agent-lost-after", "3s")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_running(proc)
        time.sleep(1.5)
        server.stop()
        time.sleep(1.0)
        server.start()
        out, err = proc.communicate(timeout=60)
        # Either the run went on after the reconnect, or it ended with a
        # clear error; never a hang, and no load left running afterwards.
        assert results.exists(), err
        r = json.loads(results.read_text())
        it = r["iterations"]
        assert it["started"] + it["dropped"] + it.get("not_started", 0) == it["planned"] == 300
        assert proc.returncode in (0, 1), err
        before = demo_api.stats()["total"]
        time.sleep(1.5)
        assert demo_api.stats()["total"] == before
        # Reports published while the coordinator was away are asked for
        # again: what the target served is what the results count.
        assert r["requests"] == before, (r["requests"], before, err)
        assert proc.returncode == 0, err
    finally:
        server.stop()


def test_ctrl_c_on_the_coordinator_stops_every_agent(nats, agents, demo_api, scenario_file,
                                                     tmp_path):
    path = scenario_file(shop('50, duration="60s", ramp_up=0, mode="constant"'))
    a1, a2 = agents("c1", "c2")
    code, _, err, r, took = interrupt_run(path, demo_api.url, tmp_path, "--no-report",
                                          "--no-metrics", "--output", "text",
                                          *external(nats, 2), after=2.0, started=True)
    assert code == 130, err
    assert took < 15
    assert r["interrupted"] is True
    routes = demo_api.stats()["routes"]
    # Each agent drained and ran its VUsers' on_stop, as one process would.
    assert routes["POST /auth/logout"] == routes["POST /auth/login"] >= 2
    assert r["requests"] == demo_api.stats()["total"]
    for a in (a1, a2):
        assert a.wait_for("waiting for the next run")
    before = demo_api.stats()["total"]
    time.sleep(1.0)
    assert demo_api.stats()["total"] == before
