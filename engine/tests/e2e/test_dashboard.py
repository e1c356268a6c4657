"""The live dashboard on a real terminal: the real binary runs in a tmux
pane (tmux is the terminal emulator), which is read back with
capture-pane. At 80x24 and after a resize to 60 columns the screen holds
one frame, and no line wraps; afterwards the normal screen holds the
summary and no dashboard frame (docs/output.md#live-dashboard)."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import BIN

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SHOP = """
from loadpilot import VUser, scenario, task

@scenario(rps=40, duration="{duration}", ramp_up="0s")
class Shop(VUser):
    @task(weight=3)
    def products(self, client):
        client.get("/api/products")

    @task(weight=2)
    def product(self, client):
        client.get("/api/products/7")

    @task
    def health(self, client):
        client.get("/health")
"""


class Pane:
    """One tmux server of its own (socket in TMP) with one pane running ARGS."""

    def __init__(self, tmp, args, width, height):
        self.sock = str(tmp / "tmux.sock")
        conf = tmp / "tmux.conf"
        # The pane stays after the command ends, so its last screen can be read.
        conf.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n"
                        "set -g status off\n")
        env = dict(os.environ, LOADPILOT_NO_METRICS="1")
        env.pop("TMUX", None)
        # The shell records the program's exit status in a file: tmux does
        # not always report a dead pane's status. Its INT trap is a handler,
        # not an ignore (which the program would inherit), so Ctrl-C reaches
        # the program as usual and leaves the shell running to write it.
        self.status_file = tmp / "exit-status"
        command = ("trap true INT; " + " ".join(f"'{a}'" for a in args) +
                   f"; echo $? > '{self.status_file}'")
        self.tmux("-f", str(conf), "new-session", "-d", "-x", str(width), "-y", str(height),
                  "-s", "run", command, env=env)

    def tmux(self, *args, env=None):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True,
                              check=True, timeout=20, env=env).stdout

    def screen(self, history=False):
        """The pane's lines as shown; -J joins lines the terminal wrapped,
        so a wrapped line comes back longer than the pane."""
        extra = ["-S", "-", "-E", "-"] if history else []
        return self.tmux("capture-pane", "-p", "-J", "-t", "run", *extra).rstrip("\n").split("\n")

    def info(self, fmt):
        return self.tmux("display-message", "-p", "-t", "run", fmt).strip()

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.screen()):
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed:\n" + "\n".join(self.screen()))

    def wait_dead(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.status_file.read_text().strip() if self.status_file.exists() else ""
            if text:
                # The pane's process is over too once its shell wrote this.
                while self.info("#{pane_dead}") != "1" and time.monotonic() < deadline:
                    time.sleep(0.1)
                return int(text)
            time.sleep(0.2)
        raise AssertionError("the run did not end:\n" + "\n".join(self.screen()))

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def pane(tmp_path):
    panes = []

    def make(args, width=80, height=24):
        p = Pane(tmp_path, args, width, height)
        panes.append(p)
        return p
    yield make
    for p in panes:
        p.close()


def width_of(line):
    return len(line)  # the frame's text here is one column per character


def assert_one_frame(lines, width):
    text = [line.rstrip() for line in lines]
    assert sum(1 for line in text if line.startswith("LoadPilot  ")) == 1, "\n".join(text)
    too_wide = [line for line in text if width_of(line) > width]
    assert not too_wide, too_wide


def test_resize_to_60_columns_and_the_summary_on_the_normal_screen(pane, demo_api, tmp_path):
    scenario = tmp_path / "shop.py"
    scenario.write_text(SHOP.replace("{duration}", "6s"))
    p = pane([os.path.abspath(BIN), "run", str(scenario), "--target", demo_api.url])

    p.wait_for("phase:")
    time.sleep(1.2)  # a snapshot with the task rows
    assert p.info("#{alternate_on}") == "1"
    at80 = p.screen()
    assert_one_frame(at80, 80)
    assert any("p50 ms" in line for line in at80), "\n".join(at80)
    assert any(line.strip().startswith("products") for line in at80), "\n".join(at80)

    p.tmux("resize-window", "-t", "run", "-x", "60", "-y", "24")
    time.sleep(1.0)  # the next frames are drawn at the new size
    at60 = p.screen()
    assert_one_frame(at60, 60)
    assert not any("p50 ms" in line for line in at60), "\n".join(at60)  # a column dropped
    assert any("p99 ms" in line for line in at60), "\n".join(at60)

    assert p.wait_dead() == 0
    assert p.info("#{alternate_on}") == "0"
    after = [line.rstrip() for line in p.screen(history=True)]
    text = "\n".join(after)
    assert "LoadPilot summary — Shop" in text
    assert "PASSED" in text
    assert any(line.startswith("  products") for line in after), text
    # No dashboard frame reached the normal screen or its scrollback.
    assert "phase:" not in text and "█" not in text and "LoadPilot  Shop" not in text, text
    assert not [line for line in after if width_of(line) > 60], text


def test_ctrl_c_leaves_the_dashboard_and_prints_the_partial_summary(pane, demo_api, tmp_path):
    scenario = tmp_path / "shop.py"
    scenario.write_text(SHOP.replace("{duration}", "60s"))
    p = pane([os.path.abspath(BIN), "run", str(scenario), "--target", demo_api.url,
              "--drain", "1s"])
    p.wait_for("phase:")
    time.sleep(1.0)
    p.tmux("send-keys", "-t", "run", "C-c")
    assert p.wait_dead() == 130
    assert p.info("#{alternate_on}") == "0"
    text = "\n".join(p.screen(history=True))
    assert "LoadPilot summary — Shop (interrupted)" in text
    assert "phase:" not in text and "█" not in text, text


def test_a_terminal_grown_to_200_by_50_is_used_and_leaves_no_frame_behind(pane, demo_api,
                                                                           tmp_path):
    # Starts at 80x24 and grows mid-run: the frame then uses the room (task
    # columns p95/max/error %, wider names, trend lines of rate and p99),
    # and when the run ends nothing of any frame is left above the summary.
    scenario = tmp_path / "shop.py"
    scenario.write_text(SHOP.replace("{duration}", "5s"))
    p = pane([os.path.abspath(BIN), "run", str(scenario), "--target", demo_api.url])
    p.wait_for("Rate trend")
    assert_one_frame(p.screen(), 80)
    p.tmux("resize-window", "-t", "run", "-x", "200", "-y", "50")
    p.wait_for("max ms")
    big = [line.rstrip() for line in p.screen()]
    assert_one_frame(big, 200)
    assert max(width_of(line) for line in big) >= 150, "\n".join(big)
    assert sum(1 for line in big if line.startswith("Rate trend")) == 1, "\n".join(big)
    assert sum(1 for line in big if line.startswith("p99 trend")) == 1, "\n".join(big)
    assert any("p95 ms" in line and "error %" in line for line in big), "\n".join(big)

    assert p.wait_dead() == 0
    after = [line.rstrip() for line in p.screen(history=True)]
    text = "\n".join(after)
    assert "LoadPilot summary — Shop" in text and "PASSED" in text
    for part in ("phase:", "Rate trend", "p99 trend", "LoadPilot  Shop", "█"):
        assert part not in text, (part, text)


TWO = """
from loadpilot import VUser, scenario, task, constant

@scenario(rps=40, duration="4s", mode="constant")
class Partner(VUser):
    @task
    def products(self, client):
        client.get("/api/products")

@scenario(users=5, wait=constant(0.1), duration="3s", start="1s")
class Browse(VUser):
    @task
    def product(self, client):
        client.get("/api/products/7")
"""


@pytest.mark.parametrize("width", [80, 160])
def test_a_line_per_scenario_at_80_and_160_columns(pane, demo_api, tmp_path, width):
    scenario = tmp_path / "two.py"
    scenario.write_text(TWO)
    p = pane([os.path.abspath(BIN), "run", str(scenario), "--target", demo_api.url, "--all"],
             width=width, height=30)
    p.wait_for("phase:")
    p.wait_for("users 5/5")  # Browse has started and its users are in
    screen = p.screen()
    assert_one_frame(screen, width)
    partner = [line for line in screen if line.startswith("  Partner ")]
    browse = [line for line in screen if line.startswith("  Browse ")]
    assert len(partner) == 1 and len(browse) == 1, "\n".join(screen)
    assert "rps " in partner[0] and "req " in partner[0] and "p99 " in partner[0], partner
    # A wide terminal also shows each scenario's books.
    assert ("started " in partner[0]) == (width == 160), partner
    assert p.wait_dead() == 0
    text = "\n".join(line.rstrip() for line in p.screen(history=True))
    assert "Scenarios" in text and "Partner (open)" in text and "Browse (closed, 5 users)" in text
