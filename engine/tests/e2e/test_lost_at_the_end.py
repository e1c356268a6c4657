"""An agent lost in the last seconds of a run, shorter than
--agent-lost-after: the run does not wait for it to be marked lost, it is
judged when its last report does not come (docs/distributed.md#faults).
Killed 2 s before the end of a 6-second run, it is named in the summary,
the results and the problems, the run fails within 5 s of the profile's end,
and the books hold exactly: on external agents over a real nats-server, on
the coordinator service, and on local agents. demo-api is the target."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN
from test_cluster_faults import SERVICE_TOKEN, start_service
from test_distributed import (NATS_SERVER, agents, constant_health,  # noqa: F401
                              external, nats, wait_running)
from test_processes import agent_pids

RATE, SECONDS = 100, 6
PLANNED = RATE * SECONDS


def kill_host(agent):
    """The agent's machine goes: the agent and its run process, at once."""
    pids = agent.children()
    agent.proc.kill()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_before_the_end(proc, kill, seconds_before=2):
    """Follows PROC's text view (--output text) to its first line of the
    run, kills the agent SECONDS_BEFORE the profile's end by the run's own
    clock, and returns (stdout, stderr)."""
    assert wait_running(proc)
    seen = []
    while True:
        line = proc.stdout.readline()
        assert line, "the run ended before its first second"
        seen.append(line)
        m = re.match(r"\[\s*([\d.]+)s/", line)
        if m:
            break
    time.sleep(max(0.0, SECONDS - seconds_before - float(m.group(1))))
    kill()
    out, err = proc.communicate(timeout=60)
    return "".join(seen) + out, err


def check_books(r, lost, demo_api):
    it = r["iterations"]
    assert it["planned"] == PLANNED
    assert it["started"] + it["dropped"] == PLANNED, it
    assert it["not_started"] == 0, it
    assert it["started"] == it["finished"] + it["cut_off"], it
    # The surviving agent may drop or cut off an arrival or two of its own
    # on an overloaded machine.
    assert lost["dropped"] > 0
    assert lost["dropped"] <= it["dropped"] <= lost["dropped"] + 6, (lost, it)
    assert lost["cut_off"] <= it["cut_off"] <= lost["cut_off"] + 6, (lost, it)
    # Every request the target saw is in the results or among those the
    # lost agent may have sent unreported.
    total = demo_api.stats()["routes"]["GET /health"]
    assert r["requests"] <= total <= r["requests"] + lost["unreported"] + lost["cut_off"]


def check_judged(r, out, err, who):
    # Judged within 5 s of the profile's end, not after --agent-lost-after.
    assert r["duration_s"] <= SECONDS + 5, r["duration_s"]
    [lost] = r["lost_agents"]
    assert re.fullmatch(who, lost["who"]), lost
    assert lost["ended"].startswith("was lost at the end (silent after "), lost
    assert r["passed"] is False
    assert [p for p in r["problems"] if re.match(who + r" was lost at the end", p)], r["problems"]
    assert re.search(r"^error: " + who + r": its last report did not come", err, re.M), err
    # The summary names it (its lines wrapped to the terminal's width).
    assert re.search(who + r" was lost at the end", " ".join(out.split())), out
    return lost


@pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="nats-server is not installed")
def test_an_external_agent_killed_2_s_before_the_end_is_judged_at_once(
        nats, agents, demo_api, scenario_file, tmp_path):
    path = scenario_file(constant_health(RATE, f"{SECONDS}s"))
    _, a2 = agents("e1", "e2")
    results = tmp_path / "r.json"
    # The default --agent-lost-after (15 s) is longer than the run.
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-report", "--no-metrics", "--output", "text",
                             "--results-json", str(results), *external(nats, 2)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = kill_before_the_end(proc, lambda: kill_host(a2))
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    lost = check_judged(r, out, err, r"agent e2 \([12] of 2\)")
    check_books(r, lost, demo_api)


@pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="nats-server is not installed")
def test_an_agent_of_the_coordinator_service_killed_2_s_before_the_end_is_judged(
        nats, agents, demo_api, scenario_file, tmp_path):
    path = scenario_file(constant_health(RATE, f"{SECONDS}s"))
    _, a2 = agents("v1", "v2")
    service, port = start_service(nats.url, 2)
    results = tmp_path / "r.json"
    try:
        proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                                 "--no-report", "--no-metrics", "--output", "text",
                                 "--results-json", str(results),
                                 "--coordinator-url", f"http://127.0.0.1:{port}",
                                 "--api-token", SERVICE_TOKEN],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = kill_before_the_end(proc, lambda: kill_host(a2))
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    # The service's run judged it; its verdict, books and lost agent come
    # through the stream.
    assert r["duration_s"] <= SECONDS + 5, r["duration_s"]
    assert len(r["lost_agents"]) == 1, (r["lost_agents"], r["problems"], err)
    [lost] = r["lost_agents"]
    assert re.fullmatch(r"agent v2 \([12] of 2\)", lost["who"]), lost
    assert lost["ended"].startswith("was lost at the end (silent after "), lost
    assert r["passed"] is False
    assert re.search(r"agent v2 \([12] of 2\) was lost at the end", " ".join(out.split())), out
    assert [p for p in r["problems"] if "agent v2" in p and "was lost at the end" in p], r
    check_books(r, lost, demo_api)


def test_a_local_agent_stopped_2_s_before_the_end_is_judged(demo_api, scenario_file, tmp_path):
    """SIGSTOP: silent, alive, its pipe open: nothing but its silence tells."""
    path = scenario_file(constant_health(RATE, f"{SECONDS}s"))
    results = tmp_path / "r.json"
    proc = subprocess.Popen([BIN, "run", str(path), "--target", demo_api.url, "--no-report",
                             "--no-metrics", "--output", "text", "--agents", "2",
                             "--results-json", str(results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = []

    def stop():
        stopped.append(agent_pids(path)[2])
        os.kill(stopped[0], signal.SIGSTOP)
    try:
        out, err = kill_before_the_end(proc, stop)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert proc.returncode == 1, err
    r = json.loads(results.read_text())
    lost = check_judged(r, out, err, rf"agent 2 of 2 \(pid {stopped[0]}\)")
    check_books(r, lost, demo_api)
