"""The chart's NATS and agent containers, run for real on loopback: the
rendered command lines started as Kubernetes would start them (with $(VAR)
expanded from the container's env), and the rendered probes run against
them. The agent has no HTTP port, so its probes are shell commands
(templates/agent.yaml); this is where they are shown to change with the
agent's state rather than always pass."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

BIN = os.environ.get("LOADPILOT_BIN", "build/engine/loadpilot")
TOKEN = "probe-token-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expand(arg, env):
    """Kubernetes' expansion of $(NAME) in command and args; $$ escapes."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), arg)


def probe(command):
    return subprocess.run(command, capture_output=True, timeout=10).returncode


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {what}")


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def containers(rendered):
    nats = rendered.get("Deployment", "loadpilot-nats")["spec"]["template"]["spec"]["containers"][0]
    agent = rendered.get("Deployment", "loadpilot-agent")["spec"]["template"]["spec"]["containers"][0]
    return nats, agent


def start_nats(nats, env):
    server = shutil.which(nats["command"][0])
    assert server, f"{nats['command'][0]} not found (Debian package nats-server, scripts/install-deps.sh)"
    # -a keeps the server on loopback; the rest is the chart's command line.
    return subprocess.Popen([server, "-a", "127.0.0.1", *[expand(a, env) for a in nats["args"]]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_agent_probes_follow_a_real_agent(render):
    port, monitor = free_port(), free_port()
    nats, agent = containers(render("--set", f"nats.port={port}", "--set", f"nats.monitorPort={monitor}"))
    env = {"NATS_TOKEN": TOKEN}
    health = f"http://127.0.0.1:{monitor}{nats['readinessProbe']['httpGet']['path']}"
    ready = agent["readinessProbe"]["exec"]["command"]
    # On this machine, PID 1 of the container is the agent's own pid.
    agent_env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "AGENT_"))}
    agent_env.update(NATS_TOKEN=TOKEN, AGENT_ID="loadpilot-agent-probe-test")
    args = [a.replace("loadpilot-nats", "127.0.0.1") for a in agent["args"]]

    server = start_nats(nats, env)
    proc = None
    try:
        wait_for(lambda: http_ok(health), 10, f"NATS readiness probe {health}")
        assert probe(ready) != 0, "the agent readiness probe passes with no agent connected"

        proc = subprocess.Popen([BIN, *args], env=agent_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: probe(ready) == 0, 15, "agent readiness probe passing once the agent connected")
        live = [a.replace("/proc/1/stat", f"/proc/{proc.pid}/stat") for a in agent["livenessProbe"]["exec"]["command"]]
        assert live != agent["livenessProbe"]["exec"]["command"]
        assert probe(live) == 0

        proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: probe(live) != 0, 5, "liveness probe failing for a stopped agent")
        proc.send_signal(signal.SIGCONT)
        wait_for(lambda: probe(live) == 0, 5, "liveness probe passing again after SIGCONT")

        # The server goes away: the agent stays (it reconnects by itself),
        # unready until the server is back.
        server.terminate()
        server.wait(timeout=10)
        wait_for(lambda: probe(ready) != 0, 15, "readiness probe failing without the NATS server")
        assert proc.poll() is None, "the agent ended when the server went away"
        assert probe(live) == 0
        server = start_nats(nats, env)
        wait_for(lambda: probe(ready) == 0, 20, "readiness probe passing after the server came back")
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
            try:
                out, _ = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
        server.terminate()
        server.wait(timeout=10)
    assert proc.returncode == 143, out
    assert "agent loadpilot-agent-probe-test: connected to nats://127.0.0.1:" in out
