#!/usr/bin/env python3
"""One coordinator, many agents, measured (docs/distributed.md#at-10-to-1000-agents).

For each agent count: a real nats-server (monitoring on), `loadpilot agent
--simulate N` (N agent identities in one process: the real protocol, round
frames of BENCH_FRAME_BYTES, no HTTP) and a real `loadpilot run
--external-agents N` coordinator on loopback, with LOADPILOT_ROUND_TIMING=1.
Prints one row per count: the coordinator's CPU (share of one core over the
run), peak memory (VmHWM), the worst and median time to close one
second's round: gather the agents' reports and add up the frames merged as
they arrived (wall time, and the collector thread's CPU time), the latest round (seconds after the one before), the
rounds whose started count was off the schedule (a frame that came late or
never), NATS traffic (the server's /varz), the time from `run` to the agents
found with their clocks measured and to all agents started, the spread of
the agents' start instants, and whether the books held.
Usage: distributed_scale.py BIN; BENCH_AGENTS ("10 100 300 1000"),
BENCH_SECONDS (20), BENCH_FRAME_BYTES (10000), BENCH_RATE_PER_AGENT (20).
Not part of `make test`; loopback only; every wait is bounded."""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/engine/loadpilot")
COUNTS = [int(n) for n in os.environ.get("BENCH_AGENTS", "10 100 300 1000").split()]
SECS = int(os.environ.get("BENCH_SECONDS", "20"))
FRAME = int(os.environ.get("BENCH_FRAME_BYTES", "10000"))
PER_AGENT = int(os.environ.get("BENCH_RATE_PER_AGENT", "20"))
NATS = shutil.which("nats-server") or "/usr/bin/nats-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """A process's stderr lines, each with the monotonic time it came."""

    def __init__(self, proc):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first(self, pattern):
        for at, line in self.lines:
            if re.search(pattern, line):
                return at, line
        return None, None

    def wait(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at, line = self.first(pattern)
            if at is not None:
                return at, line
            time.sleep(0.05)
        raise RuntimeError(f"no line matching {pattern!r} within {timeout} s")


def varz(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/varz", timeout=5) as r:
        v = json.load(r)
    return v["in_msgs"] + v["out_msgs"], v["in_bytes"] + v["out_bytes"]


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(n, work, nport, mport):
    scenario = os.path.join(work, "scale.py")
    with open(scenario, "w") as f:
        f.write("from loadpilot import VUser, scenario, task\n\n"
                f"@scenario(rps={PER_AGENT * n}, duration=\"{SECS}s\", mode=\"constant\")\n"
                "class Scale(VUser):\n    @task\n    def tiny(self, client):\n"
                "        client.get(\"/tiny\")\n")
    sim = subprocess.Popen([BIN, "agent", "--nats-url", f"nats://127.0.0.1:{nport}",
                            "--agent-id", f"n{n}", "--simulate", str(n), "--frame-bytes",
                            str(FRAME)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    sim_lines = Lines(sim)
    try:
        sim_lines.wait(r"simulate: \d+ agents", 30)
        time.sleep(0.5)
        msgs0, bytes0 = varz(mport)
        results = os.path.join(work, f"r{n}.json")
        env = dict(os.environ, LOADPILOT_ROUND_TIMING="1")
        launched = time.monotonic()
        run = subprocess.Popen(
            ["/usr/bin/time", "-f", "%U %S %M %e", "-o", os.path.join(work, "time"), BIN, "run",
             scenario, "--target", "http://127.0.0.1:9", "--external-agents", str(n),
             "--nats-url", f"nats://127.0.0.1:{nport}", "--max-connections", str(n),
             "--agents-timeout", "60s", "--no-metrics", "--no-report", "--output", "text",
             "--results-json", results], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env)
        run_lines = Lines(run)
        run.wait(timeout=SECS + 300)
        run_lines.thread.join(timeout=5)
        msgs1, bytes1 = varz(mport)
        return report(n, work, results, run_lines, sim_lines, launched,
                      (msgs1 - msgs0, bytes1 - bytes0), cpu_of(sim.pid))
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def report(n, work, results, run_lines, sim_lines, launched, traffic, sim_cpu):
    user, system, rss_kb, wall = open(os.path.join(work, "time")).read().split()[-4:]
    r = json.load(open(results))
    rounds = []
    for _, line in run_lines.lines:
        m = re.match(r"round-timing: round (\d+) after ([\d.]+) s: (\d+) reports, (\d+) started, "
                     r"merged in ([\d.]+) ms .*; ([\d.]+) ms of CPU", line)
        if m and os.environ.get("BENCH_VERBOSE"):
            print(line, file=sys.stderr)
        if m:
            rounds.append((int(m[1]), float(m[2]), int(m[4]), float(m[5]), float(m[6])))
    steady = [x for x in rounds[1:-2]]  # the first and last rounds are partial
    off = sum(1 for x in steady if x[2] != PER_AGENT * n)
    synced, _ = run_lines.first(r"^agents: .*clock offset")
    started_at, spread_line = sim_lines.first(r"started within")
    spread = re.search(r"started within ([\d.]+) ms .*; (\d+) go", spread_line or "")
    it = r["iterations"]
    books = (it["started"] + it["dropped"] + it["not_started"] == it["planned"]
             and it["started"] == it["finished"] + it["cut_off"])
    elapsed = float(wall)
    return {
        "agents": n, "frame_bytes": FRAME, "rate": PER_AGENT * n,
        "cpu_cores": (float(user) + float(system)) / elapsed, "vmhwm_mb": int(rss_kb) / 1024,
        "merge_ms_max": max(x[3] for x in steady), "merge_ms_median":
            statistics.median(x[3] for x in steady),
        "merge_cpu_ms_max": max(x[4] for x in steady),
        "merge_cpu_ms_median": statistics.median(x[4] for x in steady),
        "round_late_max_s": max(x[1] for x in steady), "rounds": len(rounds),
        "rounds_off_schedule": off,
        "nats_msgs_per_s": traffic[0] / elapsed, "nats_mb_per_s": traffic[1] / elapsed / 1e6,
        "to_clocks_s": (synced - launched) if synced else None,
        "to_started_s": (started_at - launched) if started_at else None,
        "start_spread_ms": float(spread[1]) if spread else None,
        "go_late": int(spread[2]) if spread else None,
        "books": books and it["started"] == it["planned"], "problems": r["problems"],
        "lost": r["lost_agents"], "sim_cpu_s": sim_cpu, "wall_s": elapsed,
    }


def main():
    work = tempfile.mkdtemp()
    nport, mport = free_port(), free_port()
    nats = subprocess.Popen([NATS, "-a", "127.0.0.1", "-p", str(nport), "-m", str(mport)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                varz(mport)
                break
            except OSError:
                time.sleep(0.1)
        for n in COUNTS:
            row = one(n, work, nport, mport)
            print(json.dumps(row), flush=True)
    finally:
        nats.terminate()
        nats.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
