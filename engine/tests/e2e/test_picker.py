"""On a terminal, a file with several scenarios asks which one to run."""
import json
import os
import pty
import select
import time

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
