"""`loadpilot find` against nginx on loopback (docs/capacity.md): nginx
answers far faster than one generator thread can send, so no threshold of
the target is broken before the generator's own limit; the search must say
the load generator, not the target, was the limit. To make the generator's
limit certain on any machine, it shares its one core with three busy
processes (nginx has the other core): its threads wait for the CPU, which
the verdict sees (docs/engine.md#overload). Skipped without nginx."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import run_loadpilot

CPUS = sorted(os.sched_getaffinity(0))

CONF = """
worker_processes 1;
daemon on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location /tiny {{ default_type application/json; return 200 '{{"ok":true}}'; }}
  }}
}}
"""

SCENARIO = """
    from loadpilot import VUser, scenario, task

    @scenario(rps=4000, thresholds={"p99_ms": 250})
    class Tiny(VUser):
        @task
        def tiny(self, client):
            client.get("/tiny")
"""


def schedstat_readable():
    try:
        with open("/proc/thread-self/schedstat") as f:
            return len(f.read().split()) == 3
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
@pytest.mark.skipif(len(CPUS) < 2, reason="needs two cores: one for nginx, one shared")
@pytest.mark.skipif(not schedstat_readable(), reason="this kernel has no per-thread schedstat")
def test_find_against_nginx_names_the_generator_not_the_target(scenario_file, tmp_path):
    d = tmp_path / "nginx"
    d.mkdir()
    port = free_port()
    (d / "nginx.conf").write_text(CONF.format(d=d, port=port))
    path = scenario_file(SCENARIO)
    results = tmp_path / "r.json"
    mine = os.sched_getaffinity(0)
    hogs = []
    started = False
    try:
        os.sched_setaffinity(0, {CPUS[1]})  # children inherit it
        subprocess.run(["nginx", "-c", str(d / "nginx.conf"), "-p", str(d)], check=True,
                       capture_output=True)
        started = True
        deadline = time.monotonic() + 10
        while not (d / "nginx.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.sched_setaffinity(0, {CPUS[0]})
        for _ in range(3):
            hogs.append(subprocess.Popen(
                [sys.executable, "-c",
                 "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end: pass"]))
        # Steps of 0.3 s + 1 s: 4,000/s, 8,000/s, ... until the generator
        # cannot deliver a step twice (measured: at 16,000/s, in 7-9 s).
        proc = run_loadpilot("find", path, "--target", f"http://127.0.0.1:{port}",
                             "--step", "1s", "--warmup", "300ms", "--drain", "500ms",
                             "--budget", "60s", "--workers", "1", "--results-json", str(results),
                             "--no-report", timeout=120)
    finally:
        os.sched_setaffinity(0, mine)
        for h in hogs:
            h.kill()
            h.wait()
        if started and (d / "nginx.pid").exists():
            subprocess.run(["kill", (d / "nginx.pid").read_text().strip()], check=False)
    assert results.exists(), proc.stdout + proc.stderr
    c = json.loads(results.read_text())["capacity"]
    assert c["limit"] == "generator", c["line"]
    # "capacity at least R ...; the load generator, not the target, was the
    # limit: ..." or, when not even the first step could be delivered, "no
    # capacity found: the load generator could not deliver R/s (...)".
    assert ("the load generator, not the target, was the limit" in c["line"] or
            c["line"].startswith("no capacity found: the load generator could not deliver")), \
        c["line"]
    assert "waited for CPU" in c["line"], c["line"]
    # No step failed at the target: every failure was set apart as the
    # generator's, and the last one was its repeat.
    outcomes = [s["outcome"] for s in c["steps"]]
    assert "fail" not in outcomes, [(s["rps"], s["outcome"], s["reason"]) for s in c["steps"]]
    assert outcomes[-2:] == ["generator", "generator"], outcomes
    assert c["steps"][-1]["repeat"] and c["steps"][-1]["held_back_by"] == "machine", c["steps"][-1]
    assert c["steps"][-1]["cpu_wait_max"] >= 0.25, c["steps"][-1]
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
