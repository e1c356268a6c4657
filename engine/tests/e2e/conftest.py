"""Fixtures for end-to-end tests: the real `loadpilot` binary against
`loadpilot demo-api`, both on loopback."""
import contextlib
import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BIN = os.environ.get("LOADPILOT_BIN", "build/engine/loadpilot")

# "address" or "thread" when BIN is a sanitizer build (ctest sets it there,
# engine/tests/sanitizers/env.cmake.in), else empty. docs/testing.md lists
# the tests that allow for a sanitizer, and why.
SANITIZER = os.environ.get("LOADPILOT_SANITIZER", "")


def asan_quarantine_mib():
    """How much freed memory an ASan process may hold back (its quarantine,
    where freed blocks wait so that a use after free is caught): the last
    quarantine_size_mb in ASAN_OPTIONS, else ASan's default of 256 MiB; 0
    without ASan."""
    if SANITIZER != "address":
        return 0
    found = re.findall(r"(?:^|:)quarantine_size_mb=(\d+)", os.environ.get("ASAN_OPTIONS", ""))
    return int(found[-1]) if found else 256

# `loadpilot run` serves Prometheus metrics on :9090 by default; test runs in
# parallel (and a developer's own Prometheus) would fight over that port.
# Runs started here get no endpoint unless a test asks for one with
# --metrics-* options (run_loadpilot) or clears this variable (Popen users).
os.environ.setdefault("LOADPILOT_NO_METRICS", "1")


class DemoApi:
    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [BIN, "demo-api", "--host", "127.0.0.1", "--port", "0", "--threads", "1", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"https?://127\.0\.0\.1:(\d+)", line)  # https with --tls
        if not m:
            self.proc.kill()
            raise RuntimeError(f"demo-api did not start: {line!r}")
        self.url = m.group(0)

    def get_json(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def stats(self):
        return self.get_json("/stats")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def demo_api():
    api = DemoApi()
    yield api
    api.close()


@pytest.fixture
def make_demo_api():
    apis = []

    def make(*extra):
        api = DemoApi(*extra)
        apis.append(api)
        return api
    yield make
    for api in apis:
        api.close()


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with 200 and `{}` and remembers what it got."""
    protocol_version = "HTTP/1.1"
    seen = []
    lock = threading.Lock()

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with Recorder.lock:
            Recorder.seen.append((self.command, self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = _record

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_http(handler, context=None, scheme="http"):
    """Serves HANDLER (a BaseHTTPRequestHandler class) on a free loopback
    port from a thread, behind TLS with CONTEXT; yields its URL and shuts the
    server down and closes it on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def recording_server():
    Recorder.seen = []
    with serve_http(Recorder) as url:
        yield url


@pytest.fixture
def scenario_file(tmp_path):
    """Writes a scenario file from a dedented source string."""
    def write(source, name="scenario.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return str(path)
    return write


def run_loadpilot(*args, timeout=120, env=None, cwd=None):
    """Runs `loadpilot ARGS` (in CWD), returns CompletedProcess (text). A
    `run` gets --no-metrics unless ARGS hold --metrics-* options of their
    own."""
    args = list(args)
    if args and args[0] == "run":
        if any(a.startswith("--metrics") for a in args):
            env = dict(os.environ if env is None else env)
            env.pop("LOADPILOT_NO_METRICS", None)
        elif "--no-metrics" not in args:
            args.append("--no-metrics")
    return subprocess.run([os.path.abspath(BIN), *args], capture_output=True, text=True,
                          timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def wait_until(ready, seconds):
    """Polls READY every 0.1 s for up to SECONDS; returns whether it held.
    For waiting on an event (load reaching a server, processes gone) instead
    of sleeping for a fixed time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.1)
    return ready()


def task_row(results, name):
    """The results' row for task (or label) NAME."""
    rows = [t for t in results["tasks"] if t["name"] == name]
    assert rows, [t["name"] for t in results["tasks"]]
    return rows[0]


def run_json(path, target, tmp_path, *extra, timeout=120, env=None):
    """`loadpilot run PATH --target TARGET EXTRA...` with --results-json (and
    ENV if given); returns (CompletedProcess, the results as a dict)."""
    results = tmp_path / "r.json"
    if results.exists():
        results.unlink()  # a second run in the same test must not read the first's
    proc = run_loadpilot("run", str(path), "--target", target, "--results-json", str(results),
                         *extra, timeout=timeout, env=env)
    assert results.exists(), proc.stderr + proc.stdout
    return proc, json.loads(results.read_text())


# A Python shop: VUsers log in and out, two weighted tasks (one with a
# check). PROFILE is the rest of the @scenario arguments after rps.
SHOP = """
    import random
    from loadpilot import VUser, scenario, task

    @scenario(rps={PROFILE})
    class Shop(VUser):
        def on_start(self, client):
            client.post("/auth/login", json={"user": "u", "pass": "p"})

        def on_stop(self, client):
            client.post("/auth/logout")

        @task(weight=3)
        def product(self, client):
            client.get(f"/api/products/{random.randint(1, 50)}", name="product")

        @task(weight=1)
        def orders(self, client):
            client.get("/api/orders", params={"page": random.randint(1, 5)})

        def check_orders(self, status_code, body):
            assert status_code == 200
"""


def shop(profile):
    """The SHOP scenario with `@scenario(rps=PROFILE)`, e.g. '"max", duration="2s"'."""
    return SHOP.replace("{PROFILE}", profile)


def interrupt_run(path, target, tmp_path, *extra, after=2.5, sig=signal.SIGINT, timeout=30,
                  cwd=None, started=False):
    """Starts `loadpilot run PATH --target TARGET EXTRA...` (in CWD) with
    --results-json, sends SIG after AFTER seconds and waits. Returns
    (exit code, stdout, stderr, results dict, seconds from the signal to
    the end). With STARTED, AFTER counts from when the run says it started
    (its "loadpilot: running" line), not from the launch: slow start-ups
    (agents on a busy machine) do not eat into it."""
    results = tmp_path / "r.json"
    proc = subprocess.Popen([os.path.abspath(BIN), "run", str(path), "--target", target,
                             "--results-json", str(results), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    if started:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "loadpilot: running" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
    time.sleep(after)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    took = time.monotonic() - sent
    assert results.exists(), err
    return proc.returncode, out, err, json.loads(results.read_text()), took


def run_measured(path, target, tmp_path, *extra, env=None, timeout=60):
    """`loadpilot run PATH --target TARGET EXTRA... --results-json` watched
    from outside: returns (CompletedProcess-like with returncode, stdout,
    stderr; the results dict or None; wall seconds; peak RSS in MiB, the
    process's VmHWM as last read before it exited)."""
    results = tmp_path / "r.json"
    if results.exists():
        results.unlink()
    args = [os.path.abspath(BIN), "run", str(path), "--target", target,
            "--results-json", str(results), "--no-metrics", *extra]
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env)
    peak_kb = 0
    status = f"/proc/{proc.pid}/status"
    outputs = {}

    def drain():
        outputs["out"], outputs["err"] = proc.communicate()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    while proc.poll() is None:
        if time.monotonic() - start > timeout:
            proc.kill()  # a hang: the caller's wall-time assertion reports it
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass  # exited (or a zombie) between poll() and the read
        time.sleep(0.02)
    wall = time.monotonic() - start
    reader.join(10)
    done = subprocess.CompletedProcess(args, proc.returncode, outputs.get("out", ""),
                                       outputs.get("err", ""))
    parsed = json.loads(results.read_text()) if results.exists() else None
    return done, parsed, wall, peak_kb / 1024
