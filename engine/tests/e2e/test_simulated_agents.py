"""`loadpilot agent --simulate N`: N agent identities in one process that speak
the real protocol to a real nats-server and a real `run --external-agents N`
coordinator, sending frames but no HTTP (docs/distributed.md#simulated-agents).
The coordinator's books must come out exact, every agent's share counted."""
import json
import os
import subprocess
import time

import pytest

from conftest import BIN, run_json
from test_distributed import NATS_SERVER, Agent, Nats

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server is not installed (scripts/install-deps.sh)")

SCENARIO = """from loadpilot import VUser, scenario, task

@scenario(rps=300, duration="2s")
class Sim(VUser):
    @task
    def tiny(self, client):
        client.get("/tiny")

    @task(weight=2)
    def other(self, client):
        client.get("/other")
"""

QUIET = ["--max-connections", "100", "--no-metrics", "--no-report", "--output", "text"]


class Simulated(Agent):
    """`loadpilot agent --simulate N`; its stderr lines are collected."""

    def __init__(self, nats, n, *extra):
        super().__init__(nats, "sim", extra=("--simulate", str(n), *extra))


@pytest.fixture
def nats():
    server = Nats()
    yield server
    server.stop()


def run_counting_threads(path, tmp_path, nats, n):
    """`run --external-agents N` against the simulated agents; returns (exit
    code, stderr, results, the most threads the coordinator had at once)."""
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", str(path), "--target",
                             "http://127.0.0.1:9", "--external-agents", str(n), "--nats-url",
                             nats.url, "--results-json", str(results), *QUIET],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    most = 0
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            most = max(most, len(os.listdir(f"/proc/{proc.pid}/task")))
        except OSError:
            pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate(timeout=30)
    assert results.exists(), err
    return proc.returncode, err, json.loads(results.read_text()), most


def test_fifty_simulated_agents_keep_the_coordinators_books_exact(nats, tmp_path):
    path = tmp_path / "sim.py"
    path.write_text(SCENARIO)
    sim = Simulated(nats, 50, "--frame-bytes", "4000")
    try:
        assert sim.wait_for("simulate: 50 agents"), sim.lines
        # Port 9 (discard) on loopback: nothing is sent there; the agents
        # send no HTTP.
        code, err, r, threads = run_counting_threads(path, tmp_path, nats, 50)
        assert code == 0, err
        it = r["iterations"]
        planned = it["planned"]
        assert planned >= 600
        assert it["started"] + it["dropped"] + it["not_started"] == it["planned"]
        assert it["started"] == it["finished"] + it["cut_off"]
        # Every simulated agent started its whole share, and each was counted.
        assert (it["started"], it["dropped"], it["not_started"], it["cut_off"]) == (
            planned, 0, 0, 0)
        assert r["problems"] == [] and r["lost_agents"] == []
        assert len(r["external_agents"]["agents"]) == 50
        assert {a["id"] for a in r["external_agents"]["agents"]} == {
            f"sim-{i:04}" for i in range(50)}
        tasks = {t["name"]: t for t in r["tasks"]}
        assert tasks["tiny"]["iterations"] + tasks["other"]["iterations"] == planned
        # The agents' subscriptions share nats.c's delivery threads: one
        # thread per agent would be 50 more.
        assert threads < 40, threads
        assert sim.wait_for("50 agents started within"), sim.lines
    finally:
        sim.close()


def test_simulated_agents_take_the_next_run_too(nats, tmp_path):
    """After a run the agents are idle again and take a second one."""
    path = tmp_path / "sim.py"
    path.write_text(SCENARIO.replace('duration="2s"', 'duration="1s"'))
    sim = Simulated(nats, 5)
    try:
        assert sim.wait_for("simulate: 5 agents"), sim.lines
        for _ in range(2):
            proc, r = run_json(path, "http://127.0.0.1:9", tmp_path, "--external-agents", "5",
                               "--nats-url", nats.url, *QUIET, timeout=60)
            assert proc.returncode == 0, proc.stderr
            assert r["iterations"]["started"] == r["iterations"]["planned"] >= 300
    finally:
        sim.close()


@pytest.mark.parametrize("extra,message", [
    (["--frame-bytes", "100"], "--frame-bytes"),
    (["--simulate", "0"], "--simulate"),
])
def test_bad_simulate_options_are_refused(extra, message):
    args = [os.path.abspath(BIN), "agent", "--nats-url", "nats://127.0.0.1:1", "--simulate", "3",
            *extra]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
