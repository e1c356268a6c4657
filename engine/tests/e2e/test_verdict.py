"""The overload verdict names the side that held a run back from evidence
(docs/engine.md#overload), and the generator's own health is measured and
written (docs/engine.md#generator-health). Short runs of the real binary."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import BIN, run_json

HEALTH_KEYS = {"lag_max_ms", "lag_max_at_s", "stall_ms", "cpu_max", "cpu_mean", "steal_max",
               "busy_max", "python_cpu_max", "python_held_max", "cpu_wait_max",
               "connections_busy_max",
               "connections_open_max", "send_queue_max", "late_by_cause", "stall_note",
               "bound_seconds"}


def refused_url():
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


NATIVE = """
    from loadpilot import VUser, scenario, task

    @scenario(rps={RPS}, duration="{DURATION}", mode="constant")
    class Native(VUser):
        @task
        def get(self, client):
            client.get("{PATH}")
"""


def native(rps, duration, path="/health"):
    return NATIVE.replace("{RPS}", str(rps)).replace("{DURATION}", duration).replace(
        "{PATH}", path)


def test_refused_port_is_nothing_sent_never_target(scenario_file, tmp_path):
    path = scenario_file(native(200, "2s"))
    proc, r = run_json(path, refused_url(), tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert r["overload"]["bottleneck"] == "nothing_sent", r["overload"]
    message = r["overload"]["message"]
    assert "every connection failed" in message, message
    assert "Connection refused" in message, message
    assert "overload    no request reached the target" in proc.stdout


def test_on_start_that_raises_is_nothing_sent(scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=50, duration="2s", mode="constant")
        class Login(VUser):
            def on_start(self, client):
                raise RuntimeError("no login")

            @task
            def get(self, client):
                client.get("/health")
    """)
    proc, r = run_json(path, refused_url(), tmp_path)
    assert r["overload"]["bottleneck"] == "nothing_sent", r["overload"]
    assert "every iteration failed before sending a request" in r["overload"]["message"]
    assert "RuntimeError: no login" in r["overload"]["message"]


def test_closed_users_with_think_time_are_not_overloaded(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, between, scenario, task

        @scenario(users=5, duration="2s", wait=between(0.2, 0.5))
        class Thinking(VUser):
            @task
            def get(self, client):
                client.get("/health")
    """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The users keep their own pace: nothing held them back. Only a stall
    # of this machine (CI hosts have them) may make a start late enough to
    # be judged, and then it is named as the machine.
    assert r["overload"] is None or r["overload"]["bottleneck"] == "machine", r["overload"]
    # The generator's health is measured in every run.
    assert set(r["generator"]) == HEALTH_KEYS, r["generator"]
    assert r["generator"]["connections_open_max"] >= 1
    assert 0 <= r["generator"]["cpu_max"] <= 1


def test_async_task_that_blocks_is_the_scenario_never_the_target(demo_api, scenario_file,
                                                                  tmp_path):
    path = scenario_file("""
        import time
        from loadpilot import VUser, scenario, task

        @scenario(rps=10, duration="2s", mode="constant")
        class Blocking(VUser):
            @task
            async def get(self, client):
                time.sleep(1)
                await client.get("/health")
    """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    assert r["overload"] is not None, proc.stdout
    assert r["overload"]["bottleneck"] in ("scenario", "generator"), r["overload"]
    assert "target could not keep up" not in proc.stdout
    assert r["generator"]["python_held_max"] > 0.5, r["generator"]


def test_a_task_that_sleeps_is_the_scenario_named_by_its_line(demo_api, scenario_file,
                                                             tmp_path):
    """time.sleep() in an async def task blocks the one Python thread (in a
    plain def task it pauses only its VUser): the verdict names the scenario
    and the line, never the target."""
    path = scenario_file("""
        import time
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="2s", mode="constant")
        class Sleepy(VUser):
            @task
            async def get(self, client):
                time.sleep(0.5)
                await client.get("/health")
    """)
    line = open(path).read().splitlines().index("        time.sleep(0.5)") + 1
    proc, r = run_json(path, demo_api.url, tmp_path, "--drain", "1s")
    assert r["overload"] is not None, proc.stdout
    assert r["overload"]["bottleneck"] == "scenario", r["overload"]
    message = r["overload"]["message"]
    assert f"Sleepy.get ({path}:{line}) blocks the VUser thread" in message, message
    assert "await asyncio.sleep()" in message and "wait=" in message, message
    assert "target could not keep up" not in proc.stdout
    # The summary's overload line names it too (fitted to the terminal's
    # width: a long path is shortened).
    assert "the scenario held itself back, not the target" in re.sub(r"\s+", " ", proc.stdout)
    assert "Sleepy.get" in proc.stdout, proc.stdout


CPUS = sorted(os.sched_getaffinity(0))


def schedstat_readable():
    try:
        with open("/proc/thread-self/schedstat") as f:
            return len(f.read().split()) == 3
    except OSError:
        return False


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two cores: one for the target, one shared")
@pytest.mark.skipif(not schedstat_readable(), reason="this kernel has no per-thread schedstat")
def test_a_cpu_hog_beside_the_generator_is_never_the_target(scenario_file, tmp_path):
    """Three busy processes pinned to the generator's one core take most of
    its CPU (the target has a core of its own). The generator's loop wakes
    late by a scheduler slice at a time, mostly under the 50 ms stall mark,
    and its thread uses little CPU; the time its threads waited for a CPU
    names its machine: never the target, never "unknown"."""
    mine = os.sched_getaffinity(0)
    hogs = []
    try:
        os.sched_setaffinity(0, {CPUS[1]})  # children inherit it
        from conftest import DemoApi
        api = DemoApi()
        os.sched_setaffinity(0, {CPUS[0]})
        for _ in range(3):
            hogs.append(subprocess.Popen(
                [sys.executable, "-c",
                 "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass"]))
        path = scenario_file(native(4000, "3s"))
        proc, r = run_json(path, api.url, tmp_path, "--workers", "1", "--drain", "1s")
    finally:
        os.sched_setaffinity(0, mine)
        for h in hogs:
            h.kill()
            h.wait()
        if "api" in locals():
            api.close()
    assert r["overload"] is not None, proc.stdout
    g = r["generator"]
    # The hogs hold the one core: the worker waited for it most of each
    # second (measured: 40-88%; the mark is 25%).
    assert g["cpu_wait_max"] >= 0.25, g
    assert r["overload"]["bottleneck"] in ("machine", "generator"), r["overload"]
    message = r["overload"]["message"]
    if r["overload"]["bottleneck"] == "machine":
        assert "this machine held the run back, not the target" in message, message
        assert re.search(r"the load generator waited for CPU \d+% of the time: other processes "
                         r"share its cores|event loop stalled", message), message
    else:
        assert "the load generator could not keep up" in message, message
    assert "target could not keep up" not in proc.stdout, proc.stdout
    # Its late arrivals are the generator's side, none the target's (a
    # short last round, as the profile ends, may wait less and stay
    # "unknown": most are the machine's or the generator's).
    late = g["late_by_cause"]
    assert late.get("target", 0) == 0, late
    assert late.get("machine", 0) + late.get("generator", 0) > late.get("unknown", 0), late


def test_slow_target_behind_a_connection_cap_is_the_target(make_demo_api, scenario_file,
                                                          tmp_path):
    # Two connections to a target answering in 200 ms carry 10 requests/s;
    # 40/s are asked.
    api = make_demo_api("--latency-ms", "200")  # on /api routes
    path = scenario_file(native(40, "3s", "/api/products/1"))
    proc, r = run_json(path, api.url, tmp_path, "--max-connections", "2")
    assert r["overload"]["bottleneck"] == "target", r["overload"]
    message = r["overload"]["message"]
    assert "2 of 2 connections were busy" in message, message
    assert "service time was p50 2" in message, message  # ~200 ms
    assert "--max-connections" in message, message
    assert r["generator"]["connections_busy_max"] == 2, r["generator"]
    assert r["generator"]["late_by_cause"].get("target", 0) > 0 or r["iterations"]["dropped"] > 0


def test_generator_health_in_ndjson_and_metrics(demo_api, scenario_file, tmp_path):
    path = scenario_file(native(50, "1s"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = tmp_path / "r.json"
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    run = subprocess.Popen(
        [os.path.abspath(BIN), "run", path, "--target", demo_api.url, "--results-json",
         str(results), "--output", "ndjson", "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
         "--metrics-linger", "3s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        for line in run.stdout:
            lines.append(json.loads(line))
            if lines[-1].get("type") == "summary":
                break
        snapshots = [j for j in lines if j.get("type") == "snapshot"]
        assert snapshots, lines
        health = snapshots[-1]["generator"]
        assert {"lag_max_ms", "lag_at_s", "stall_ms", "cpu", "steal", "busy", "python_cpu",
                "python_held", "cpu_wait", "connections_busy", "connections_open",
                "send_queue", "cores"} <= set(health), health
        assert 0 <= health["cpu_wait"] <= 1, health
        assert health["cores"] == len(os.sched_getaffinity(0)), health
        assert lines[-1]["generator"]["lag_max_ms"] >= 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        for name in ("loadpilot_generator_lag_max_seconds", "loadpilot_generator_cpu_ratio",
                     "loadpilot_generator_steal_ratio", "loadpilot_generator_busy_ratio",
                     "loadpilot_generator_python_cpu_ratio",
                     "loadpilot_generator_python_held_ratio",
                     "loadpilot_generator_cpu_wait_ratio",
                     "loadpilot_generator_connections_busy",
                     "loadpilot_generator_connections_open",
                     "loadpilot_generator_send_queue",
                     "loadpilot_generator_stall_seconds_total"):
            assert f"\n{name} " in body, name
        run.communicate(timeout=15)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
