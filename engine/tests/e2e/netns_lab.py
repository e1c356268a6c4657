"""Machines on one host: network namespaces joined by links with delay,
jitter and loss (engine/tests/e2e/test_netns_topology.py).

    core            the broker's machine: a bridge (10.77.0.1/24)
    tgt             the target's machine: a bridge (10.78.0.1/24)
    a1, a2, ...     an agent's machine each: `lnk` (10.77.0.1N/24) to core's
                    bridge over an impaired link, `tgt` (10.78.0.1N/24) to
                    tgt's bridge over a plain veth pair

Every address is in a private range and lives inside the namespaces only;
the host's own namespace gets no address and no route, so no traffic of the
lab leaves the machine. The impairment is `tc netem` on both ends of a veth
pair where the kernel has it, else the same done in user space on a pair of
TAP devices (link_emulator.py). Names carry the test process's pid, so runs
side by side do not meet, and labs left behind by a killed run are removed
by the next one."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "lpnet"


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def in_ns(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def why_not_allowed():
    """None when this process may make network namespaces, else why not."""
    if sh("sh", "-c", "command -v ip", check=False).returncode != 0:
        return "the ip command (iproute2) is not installed (scripts/install-deps.sh)"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = sh("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return ("ip netns is not allowed here (needs root or CAP_NET_ADMIN): "
                + made.stderr.strip())
    try:
        link = sh("ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
                  check=False)
        if link.returncode != 0:
            return "cannot make veth pairs: " + link.stderr.strip()
    finally:
        sh("ip", "netns", "del", probe, check=False)
    if not has_netem() and not os.path.exists("/dev/net/tun"):
        return "the kernel has neither tc netem nor TUN/TAP devices to make a link with delay"
    return None


def has_netem():
    probe = f"{PREFIX}{os.getpid()}-netem"
    sh("ip", "netns", "add", probe)
    try:
        sh("ip", "-n", probe, "link", "set", "lo", "up")
        return sh("ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root",
                  "netem", "delay", "1ms", check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", probe, check=False)


def remove_stale():
    """Labs whose test process is gone (killed before its cleanup)."""
    for line in sh("ip", "netns", "list").stdout.splitlines():
        m = re.match(rf"({PREFIX}(\d+)-\S+)", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            sh("ip", "netns", "del", m.group(1), check=False)


class Lab:
    """The namespaces, links and processes of one test; close() removes
    them all, whatever state they are in."""

    def __init__(self, agents, delay_ms, jitter_ms, loss):
        self.tag = f"{PREFIX}{os.getpid()}"
        self.namespaces = []
        self.procs = []
        self.emulator = None
        self.agents = [f"a{i + 1}" for i in range(agents)]
        self.netem = has_netem()
        self.impairment = (delay_ms, jitter_ms, loss)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ns(self, name):
        return f"{self.tag}-{name}"

    @staticmethod
    def core_ip():
        return "10.77.0.1"

    @staticmethod
    def target_ip():
        return "10.78.0.1"

    def _add_ns(self, name):
        sh("ip", "netns", "add", self.ns(name))
        self.namespaces.append(self.ns(name))
        sh("ip", "-n", self.ns(name), "link", "set", "lo", "up")

    def _build(self):
        for name in ["core", "tgt", *self.agents]:
            self._add_ns(name)
        for name, ip in (("core", self.core_ip()), ("tgt", self.target_ip())):
            n = self.ns(name)
            sh("ip", "-n", n, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", n, "addr", "add", f"{ip}/24", "dev", "br0")
            sh("ip", "-n", n, "link", "set", "br0", "up")
        delay, jitter, loss = self.impairment
        taps = []
        for i, agent in enumerate(self.agents):
            a = self.ns(agent)
            # The plain link to the target.
            sh("ip", "link", "add", "tgt", "netns", a, "type", "veth", "peer", "name",
               f"p{agent}", "netns", self.ns("tgt"))
            sh("ip", "-n", self.ns("tgt"), "link", "set", f"p{agent}", "master", "br0", "up")
            sh("ip", "-n", a, "addr", "add", f"10.78.0.{11 + i}/24", "dev", "tgt")
            sh("ip", "-n", a, "link", "set", "tgt", "up")
            if self.netem:
                sh("ip", "link", "add", "lnk", "netns", a, "type", "veth", "peer", "name",
                   f"p{agent}", "netns", self.ns("core"))
            else:
                taps.append((f"{self.tag[-9:]}{agent}x", f"{self.tag[-9:]}{agent}y"))
        if taps:
            self.emulator = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "link_emulator.py"), str(delay),
                 str(jitter), str(loss), *[t for pair in taps for t in pair]],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = self.emulator.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError("link_emulator.py did not start: " + line +
                                   self.emulator.stderr.read())
            for agent, (x, y) in zip(self.agents, taps):
                sh("ip", "link", "set", x, "netns", self.ns(agent), "name", "lnk")
                sh("ip", "link", "set", y, "netns", self.ns("core"), "name", f"p{agent}")
        for i, agent in enumerate(self.agents):
            a, core = self.ns(agent), self.ns("core")
            sh("ip", "-n", a, "addr", "add", f"10.77.0.{11 + i}/24", "dev", "lnk")
            sh("ip", "-n", a, "link", "set", "lnk", "up")
            sh("ip", "-n", core, "link", "set", f"p{agent}", "master", "br0", "up")
            if self.netem:
                for ns, dev in ((a, "lnk"), (core, f"p{agent}")):
                    in_ns(ns, "tc", "qdisc", "add", "dev", dev, "root", "netem", "delay",
                          f"{delay}ms", f"{jitter}ms", "loss", f"{loss * 100}%")

    def how(self):
        delay, jitter, loss = self.impairment
        kind = "tc netem" if self.netem else "a user-space link (no netem in this kernel)"
        return f"{kind}: {delay} ± {jitter} ms and {loss:.0%} loss each way"

    def popen(self, name, args, **kwargs):
        """Starts ARGS in namespace NAME; the process is ended by close()."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(name), *args], **kwargs)
        self.procs.append(proc)
        return proc

    def link(self, agent, state):
        """Sets AGENT's link to the broker "down" or "up"."""
        sh("ip", "-n", self.ns(agent), "link", "set", "lnk", state)

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # What ran in a namespace and is still there (an agent's run
        # process, whose agent was killed) is killed before the namespace goes.
        for ns in self.namespaces:
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
        if self.emulator is not None:
            self.emulator.terminate()
            try:
                self.emulator.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
                self.emulator.wait()
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces = []
