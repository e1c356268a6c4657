"""On a terminal, a file with several scenarios asks which one to run."""
import json
import os
import pty
import select
import signal
import termios
import time

import pytest

from conftest import BIN

TWO = """
from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="1s")
class Alpha(VUser):
    @task
    def health(self, client):
        client.get("/health")

@scenario(rps=20, duration="1s", mode="constant")
class Beta(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def run_in_pty(args, keys, timeout=20):
    """Runs BIN ARGS on a pseudo-terminal, types KEYS once the menu shows."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, *args])
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"run which?" in out:
            os.write(fd, keys)
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def plan_of(out):
    start = out.index("{")
    return json.loads(out[start:out.rindex("}") + 1])


def test_arrow_keys_and_enter_pick_a_scenario(scenario_file):
    path = scenario_file(TWO)
    code, out = run_in_pty(["run", path, "--target", "http://127.0.0.1:9", "--dry-run"],
                           b"\x1b[B\r")
    assert code == 0, out
    assert plan_of(out)["name"] == "Beta"


def test_number_picks_a_scenario(scenario_file):
    path = scenario_file(TWO)
    code, out = run_in_pty(["run", path, "--target", "http://127.0.0.1:9", "--dry-run"], b"1")
    assert code == 0, out
    assert plan_of(out)["name"] == "Alpha"


def test_q_cancels_with_exit_2(scenario_file):
    path = scenario_file(TWO)
    code, out = run_in_pty(["run", path, "--target", "http://127.0.0.1:9", "--dry-run"], b"q")
    assert code == 2, out
    assert "no scenario chosen" in out


def interrupt_in_pty(args, keys=b"", sig=None, timeout=20):
    """Runs BIN ARGS on a pseudo-terminal; once the menu shows, types KEYS
    or sends SIG. Returns (exit code, output, local modes before, after)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(BIN, [BIN, *args])
    before = termios.tcgetattr(fd)[3]
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"run which?" in out:
            if keys:
                os.write(fd, keys)
            if sig:
                os.kill(pid, sig)
            sent = True
    _, status = os.waitpid(pid, 0)
    after = termios.tcgetattr(fd)[3]
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace"), before, after


@pytest.mark.parametrize("keys,sig,code", [
    (b"\x03", None, 130),           # Ctrl-C typed
    (b"\x1c", None, 130),           # Ctrl-\ typed (would dump core with echo off)
    (b"", signal.SIGINT, 130),      # kill -INT
    (b"", signal.SIGTERM, 143),     # kill -TERM
    (b"q", None, 2),
])
def test_the_terminal_is_restored_on_every_way_out(scenario_file, keys, sig, code):
    path = scenario_file(TWO)
    got, out, before, after = interrupt_in_pty(
        ["run", path, "--target", "http://127.0.0.1:9", "--dry-run"], keys, sig)
    assert got == code, out
    assert after & termios.ECHO and after & termios.ICANON and after & termios.ISIG, out
    assert after == before
    if code != 2:
        assert "interrupted while choosing a scenario" in out
