"""`--agents auto`, `loadpilot run`'s default: a run whose Python tasks need
more than one Python thread (rps="max", or a high rate, for a run long
enough to be worth starting agents) runs in one agent process per core;
`--agents 1` keeps one process. Against `loadpilot demo-api` on loopback."""
import json
import os
import re

import pytest

from conftest import run_json, run_loadpilot, shop

CORES = len(os.sched_getaffinity(0))

NATIVE = """
from loadpilot import VUser, scenario, task

@scenario(rps="max", duration="10s")
class Fixed(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def dry_agents(path, *extra):
    proc = run_loadpilot("run", str(path), "--target", "http://127.0.0.1:1", "--dry-run", *extra)
    assert proc.returncode == 0, proc.stderr
    engine = json.loads(proc.stdout)["engine"]
    return engine["agents"], engine["agents_why"]


def test_the_default_spreads_python_at_max_rate_over_the_cores(scenario_file):
    python_max = scenario_file(shop('"max", duration="10s"'))
    agents, why = dry_agents(python_max)
    assert agents == min(CORES, 64)
    if CORES > 1:
        assert why == (f'--agents auto: Python tasks at rps="max" on {CORES} cores; '
                       "--agents 1 for one process")
    # A high rate is the same; --agents N and --agents auto as asked.
    assert dry_agents(python_max, "--rps", "20000", "--mode", "constant")[0] == min(CORES, 64)
    assert dry_agents(python_max, "--agents", "1") == (1, "")
    assert dry_agents(python_max, "--agents", "auto")[0] == min(CORES, 64)
    assert dry_agents(python_max, "--processes", "1") == (1, "")


def test_the_default_keeps_one_process_when_one_python_thread_keeps_up(scenario_file):
    python_max = scenario_file(shop('"max", duration="10s"'))
    # A rate one Python thread serves, a short run, native tasks only, and
    # as many agents as there are workers, connections or VUsers.
    assert dry_agents(python_max, "--rps", "500", "--mode", "constant") == (1, "")
    assert dry_agents(python_max, "--duration", "2s") == (1, "")
    assert dry_agents(scenario_file(NATIVE)) == (1, "")
    assert dry_agents(python_max, "--workers", "1") == (1, "")
    assert dry_agents(python_max, "--max-connections", "1") == (1, "")
    assert dry_agents(python_max, "--max-vusers", "1") == (1, "")


def test_agents_auto_is_refused_in_a_bad_spelling(scenario_file):
    proc = run_loadpilot("run", str(scenario_file(NATIVE)), "--agents", "automatic",
                         "--dry-run")
    assert proc.returncode == 2
    assert '--agents: must be a whole number from 1 to 64 or auto (got "automatic")' in proc.stderr


@pytest.mark.skipif(CORES < 2, reason="one core: --agents auto keeps one process")
def test_a_default_run_says_it_runs_in_agents_and_keeps_the_books(demo_api, scenario_file,
                                                                  tmp_path):
    # The shortest run auto spreads: 5 s of a closed loop over 4 connections.
    path = scenario_file(shop('"max", duration="5s"'))
    proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", "--output", "text",
                       "--max-connections", "4")
    assert proc.returncode == 0, proc.stderr
    n = min(CORES, 4)
    first = proc.stdout.splitlines()[0]
    assert re.search(rf"\b{n} agents \(--agents auto: Python tasks at rps=\"max\" on {CORES} "
                     r"cores; --agents 1 for one process\), \d+ workers, up to 4 connections",
                     first), first
    it = r["iterations"]
    assert it["started"] == it["finished"] > 100 and it["dropped"] == 0
    routes = demo_api.stats()["routes"]
    # One VUser per connection, each in the agent that made it.
    assert routes["POST /auth/login"] == routes["POST /auth/logout"] == 4
    assert r["requests"] == demo_api.stats()["total"]
    assert r["errors"] == 0
