"""The command line under abuse: every refusal is one `error: ...` line with
its documented exit code (docs/cli.md), names the flag or field and the bad
value, and sends nothing; LoadPilot's own faults say so (exit 3)."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, run_loadpilot

HEALTH = """
from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="1s", ramp_up="0s")
class One(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_error(p, *needles, code=2):
    """Exit CODE, a single `error: ...` line on stderr holding every needle."""
    lines = error_lines(p.stderr)
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr


# --- 1. internal errors are not the user's ------------------------------------

def fake_package(tmp_path, describe_body):
    """A stand-in for the bundled `loadpilot` package whose describer fails."""
    pkg = tmp_path / "fakepkg" / "loadpilot"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_describe.py").write_text(
        "class ScenarioLoadError(Exception):\n    pass\n\n"
        "def describe_file(path, *share):\n" + describe_body)
    return str(pkg.parent)


@pytest.mark.parametrize("body,needle", [
    ("    raise RuntimeError('describer bug')\n", "RuntimeError: describer bug"),
    ("    return '[{not json'\n", "loading the scenario failed"),
])
def test_a_fault_of_loadpilot_is_an_internal_error_exit_3(tmp_path, scenario_file, demo_api,
                                                          body, needle):
    path = scenario_file(HEALTH)
    env = dict(os.environ, LOADPILOT_PYTHON_DIR=fake_package(tmp_path, body))
    p = run_loadpilot("run", path, "--target", demo_api.url, env=env)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert p.stderr.startswith("internal error: "), p.stderr
    assert needle in p.stderr and "not in the command line or the scenario" in p.stderr
    assert demo_api.stats()["total"] == 0


def test_a_missing_bundled_package_is_an_internal_error(tmp_path, scenario_file):
    path = scenario_file(HEALTH)
    env = dict(os.environ, LOADPILOT_PYTHON_DIR=str(tmp_path / "nowhere"))
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", env=env)
    assert p.returncode == 3, p.stderr
    assert "internal error: cannot import the loadpilot Python package" in p.stderr


def test_the_users_own_python_error_stays_exit_2(scenario_file):
    p = run_loadpilot("run", scenario_file("raise RuntimeError('mine')\n"), "--target",
                      "http://127.0.0.1:1")
    assert_one_error(p, "RuntimeError: mine")


# --- 2. only a regular file is a scenario -------------------------------------

def test_a_fifo_is_refused_without_blocking(tmp_path, demo_api):
    fifo = tmp_path / "scenario.py"
    os.mkfifo(fifo)
    p = run_loadpilot("run", str(fifo), "--target", demo_api.url, timeout=20)
    assert_one_error(p, str(fifo), "named pipe (FIFO)", "not a regular file")
    assert demo_api.stats()["total"] == 0


def test_other_non_regular_files_are_refused(tmp_path):
    sock_path = tmp_path / "s.py"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        for path, kind in ((str(tmp_path), "a directory"), ("/dev/zero", "a character device"),
                           (str(sock_path), "a socket")):
            p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", timeout=20)
            assert_one_error(p, path, kind)


def test_results_files_that_are_fifos_are_refused(tmp_path):
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    p = run_loadpilot("report", str(fifo), timeout=20)
    assert_one_error(p, str(fifo), "not a regular file")
    p = run_loadpilot("compare", str(fifo), str(fifo), timeout=20)
    assert_one_error(p, str(fifo), "not a regular file")


# --- 3. a signal while the scenario is imported -------------------------------

SLOW_IMPORT = """
import sys, time
print("importing", flush=True)
time.sleep(30)
""" + HEALTH


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_import_exits_at_once_with_one_line(scenario_file, demo_api, sig,
                                                                code):
    path = scenario_file(SLOW_IMPORT)
    proc = subprocess.Popen([os.path.abspath(BIN), "run", path, "--target", demo_api.url,
                             "--no-metrics"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # What the scenario prints goes to stderr, labelled with its file.
        assert proc.stderr.readline() == "[scenario.py] importing\n"
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, (proc.returncode, err)
    assert err == f"interrupted while loading {path}\n", err
    assert took < 10  # not after the 30 s sleep
    assert demo_api.stats()["total"] == 0


# --- 4. listen addresses ------------------------------------------------------

@pytest.mark.parametrize("host,why", [
    ("999.1.1.1", "four decimal parts, each from 0 to 255"),
    ("1.2.3", "four decimal parts"),
    ("10.0.0.256", "four decimal parts"),
    ("0x7f.0.0.1", "four decimal parts"),
    ("127.1", "four decimal parts"),
    ("bad host!", "nor a host name"),
])
def test_metrics_host_is_checked_strictly(scenario_file, demo_api, host, why):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", demo_api.url, "--metrics-host", host)
    assert_one_error(p, "--metrics-host", f'"{host}"', why)
    assert demo_api.stats()["total"] == 0


def test_demo_api_host_is_checked_strictly():
    p = run_loadpilot("demo-api", "--host", "999.1.1.1", "--port", "0", timeout=20)
    assert_one_error(p, "--host", "999.1.1.1")


def test_metrics_host_by_name_and_no_ipv6(scenario_file, demo_api, tmp_path):
    path = scenario_file(HEALTH)
    # The metrics server library has no IPv6: refused with the reason, not
    # a bare "could not start".
    p = run_loadpilot("run", path, "--target", demo_api.url, "--metrics-host", "::1")
    assert_one_error(p, '--metrics-host: IPv6 is not supported here; use an IPv4 address',
                     '(got "::1")')
    assert demo_api.stats()["total"] == 0
    p = run_loadpilot("run", path, "--target", demo_api.url, "--metrics-host", "localhost",
                      "--metrics-port", "0", "--metrics-linger", "0s", "--no-report",
                      "--output", "text", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "(listening on 127.0.0.1:" in p.stdout, p.stdout


def test_demo_api_listens_on_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    proc = subprocess.Popen([os.path.abspath(BIN), "demo-api", "--host", "[::1]", "--port", "0",
                             "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("demo-api listening on http://[::1]:"), line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


# --- 5. numbers on the command line -------------------------------------------

@pytest.mark.parametrize("flag,value,allowed", [
    ("--max-connections", "-1", "from 1 to 1000000"),
    ("--max-connections", "0", "from 1 to 1000000"),
    ("--workers", "-1", "from 1 to 1024"),
    ("--workers", "0", "from 1 to 1024"),
    ("--agents", "-1", "from 1 to 64 or auto"),
    ("--agents", "65", "from 1 to 64 or auto"),
    ("--external-agents", "0", "from 1 to 1000"),
    ("--seed", "-1", "from 0 to 18446744073709551615"),
    ("--steps", "-1", "from 1 to 1000"),
    ("--max-vusers", "-1", "from 1 to 100000"),
    ("--max-vusers", "0", "from 1 to 100000"),
    ("--metrics-port", "-1", "from 0 to 65535"),
    ("--workers", "010", None),  # not octal: accepted as 10
    ("--workers", "0x10", "from 1 to 1024"),
    ("--workers", "1e3", "from 1 to 1024"),
])
def test_numeric_flags_take_plain_numbers_in_range(scenario_file, demo_api, flag, value, allowed):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", demo_api.url, flag, value, "--dry-run")
    if allowed is None:
        assert p.returncode == 0, p.stderr
        return
    assert_one_error(p, f'{flag}: must be a whole number {allowed} (got "{value}")')
    assert demo_api.stats()["total"] == 0


@pytest.mark.parametrize("args,needle", [
    (["--port", "-1"], '--port: must be a whole number from 0 to 65535 (got "-1")'),
    (["--threads", "-2"], "--threads: must be a whole number from 1 to 1024"),
    (["--error-rate", "150"], "--error-rate: must be a number from 0 to 100 percent"),
    (["--latency-ms", "nan"], "--latency-ms: must be a number from 0 to 3600000 ms"),
    (["--seed", "-1"], "--seed: must be a whole number from 0"),
])
def test_demo_api_numbers_are_checked(args, needle):
    p = run_loadpilot("demo-api", "--port", "0", *args, timeout=20)
    assert_one_error(p, needle)


@pytest.mark.parametrize("value", ["-5", "inf", "nan"])
def test_compare_threshold_is_checked(value):
    p = run_loadpilot("compare", "a.json", "b.json", "--threshold", value)
    assert_one_error(p, "--threshold: must be a number from 0 to 1000000 percent", value)


def test_workers_beyond_the_connections_are_refused_not_capped(scenario_file, demo_api):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", demo_api.url, "--workers", "64",
                      "--max-connections", "8")
    assert_one_error(p, "--workers 64 needs at least 64 connections; got --max-connections 8")
    p = run_loadpilot("run", path, "--target", demo_api.url, "--workers", "2",
                      "--agents", "4")
    assert_one_error(p, "--agents 4 needs at least 4 workers, one per agent; "
                        "got --workers 2")
    assert demo_api.stats()["total"] == 0


def test_workers_raise_the_default_connection_limit(scenario_file, demo_api, tmp_path):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", demo_api.url, "--workers", "12", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert '"max_connections": 12' in p.stdout  # the rate alone would give 8
    p = run_loadpilot("run", path, "--target", demo_api.url, "--workers", "12",
                      "--output", "text", "--no-report", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "12 workers, up to 12 connections" in p.stdout, p.stdout


# --- 6 and 8. plan values out of bounds ---------------------------------------

def test_weights_whose_sum_would_overflow_are_refused(scenario_file, demo_api):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=10, duration="1s")
        class Heavy(VUser):
            @task(weight=1e308)
            def a(self, client):
                client.get("/health")

            @task(weight=1e308)
            def b(self, client):
                client.get("/api/products")
    """)
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2, p.stderr
    assert "scenario Heavy is not valid" in p.stderr
    for task in ("a", "b"):
        assert f"tasks.{task}.weight: must be at most 1000000 (got 1e+308)" in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


@pytest.mark.parametrize("config,override,needle", [
    ('rps=1e12, duration="1s"', [], "rps: must be at most 10000000 iterations/s per run "
                                    "(got 1000000000000)"),
    ('rps=10, duration="1s"', ["--rps", "20000000"], "rps: must be at most 10000000"),
    ('rps=10, duration="1s"', ["--rps", "-3"], "rps: must be a number > 0 (got -3)"),
    ('rps=10, duration="1s"', ["--duration", "1000h"], "duration: must be at most 604800s"),
    ('rps=10, duration=-5', [], "duration: must be > 0 (got -5s)"),
    ('rps=10, duration="8d"', [], "duration: must be a duration like"),
    ('rps=10, duration="1s", mode="constant", ramp_up="200h"', [],
     "ramp_up: must be at most 604800s"),
    ('rps=10, duration="1s", mode="step", steps=5000', [], "steps: must be at most 1000"),
    ('rps=10, duration="1s", max_vusers=10**9', [], "max_vusers: must be at most 100000"),
    ('rps=10, duration="1s", max_vusers=0', [], "max_vusers: must be a whole number from 1"),
    ('rps=float("inf"), duration="1s"', [], "rps: must be a number"),
    ('rps=10, duration="1s", thresholds={"p99_ms": float("inf")}', [], "thresholds.p99_ms"),
])
def test_absurd_plan_values_are_refused(scenario_file, demo_api, config, override, needle):
    path = scenario_file(HEALTH.replace('rps=10, duration="1s", ramp_up="0s"', config))
    p = run_loadpilot("run", path, "--target", demo_api.url, *override)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


def test_the_rate_limit_itself_is_accepted(scenario_file):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--rps", "10000000",
                      "--dry-run")
    assert p.returncode == 0, p.stderr


# --- 7. a bad target is the target's problem ----------------------------------

@pytest.mark.parametrize("target,needle", [
    ("ftp://x", 'unsupported scheme "ftp"'),
    ("http://", "missing host"),
    ("http://999.1.1.1", 'bad IPv4 address "999.1.1.1"'),
    ("http://[:::1]", "bad IPv6 address"),
])
def test_a_bad_target_names_the_target_not_the_scenario(scenario_file, target, needle):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", path, "--target", target)
    assert_one_error(p, "--target: ", needle, f'"{target}"')
    assert "is not valid" not in p.stderr


def test_target_and_scenario_problems_are_told_apart(scenario_file):
    path = scenario_file(HEALTH.replace("rps=10", "rps=-1"))
    p = run_loadpilot("run", path, "--target", "ftp://x")
    assert p.returncode == 2
    lines = error_lines(p.stderr)
    assert lines[0].startswith("error: --target: "), lines
    assert lines[1] == f"error: {path}: scenario One is not valid:", lines
    assert lines[2] == "  - rps: must be a number > 0 (got -1)", lines
    assert len(lines) == 3, lines


# --- 9. one value per option ---------------------------------------------------

def test_threshold_takes_one_value_so_the_file_is_not_swallowed(scenario_file):
    path = scenario_file(HEALTH)
    p = run_loadpilot("run", "--threshold", "p99_ms=50", path, "--threshold", "error_rate=2",
                      "--target", "http://127.0.0.1:1", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert '"p99_ms": 50.0' in p.stdout and '"error_rate": 2.0' in p.stdout, p.stdout


# --- 10. typos --------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["rnu", "x.py"], "unknown command 'rnu'; did you mean 'run'?"),
    (["reprot", "r.json"], "unknown command 'reprot'; did you mean 'report'?"),
    (["frobnicate"], "unknown command 'frobnicate'; the commands are run, find, demo-api"),
    ([], "no command given; use one of: run, find, demo-api"),
    (["--verison"], "unknown option '--verison'; did you mean '--version'?"),
    (["run", "x.py", "-t", "http://127.0.0.1:1", "--durtion", "5s"],
     "unknown option '--durtion' for 'run'; did you mean '--duration'?"),
    (["run", "--durtion", "5s", "x.py", "-t", "http://127.0.0.1:1"],
     "unknown option '--durtion' for 'run'; did you mean '--duration'?"),
    (["run", "x.py", "-t", "http://127.0.0.1:1", "--max-conections=4"],
     "unknown option '--max-conections' for 'run'; did you mean '--max-connections'?"),
    (["run", "x.py", "y.py", "-t", "http://127.0.0.1:1"],
     "unexpected argument 'y.py' for 'run'"),
    (["run", "x.py"], "no target: give -t/--target URL, or set LOADPILOT_TARGET"),
    (["help", "rnu"], "unknown command 'rnu'; did you mean 'run'?"),
])
def test_mistyped_command_lines_get_one_error_line_with_a_suggestion(args, needle):
    p = run_loadpilot(*args)
    assert_one_error(p, needle)


def test_help_and_version_spellings():
    p = run_loadpilot("help")
    assert p.returncode == 0, p.stderr
    for command in ("run", "find", "demo-api", "report", "compare", "init", "version", "help"):
        assert command in p.stdout
    p = run_loadpilot("help", "run")
    assert p.returncode == 0, p.stderr
    assert "--target" in p.stdout and "--max-connections" in p.stdout
    for flag in ("-V", "--version"):
        p = run_loadpilot(flag)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith("loadpilot "), p.stdout


# --- 5. messages that say what the command line said ---------------------------

@pytest.mark.parametrize("value,needle", [
    ("p99=50", "--threshold p99=50: unknown key p99; did you mean p99_ms? (keys: p50_ms, "
               "p95_ms, p99_ms, max_ms, error_rate; or k6's p(95)<200)"),
    ("p99_ms", "--threshold p99_ms: expected KEY=VALUE such as p99_ms=500, or k6's p(95)<200"),
    ("p(90)<200", "--threshold p(90)<200: p(90) has no threshold here"),
])
def test_a_bad_threshold_option_is_the_command_lines_mistake(scenario_file, demo_api, value,
                                                              needle):
    p = run_loadpilot("run", scenario_file(HEALTH), "--target", demo_api.url,
                      "--threshold", value)
    assert_one_error(p, needle)
    assert "is not valid" not in p.stderr  # the scenario file is not blamed
    assert demo_api.stats()["total"] == 0


def test_k6_threshold_expressions_are_taken(scenario_file, demo_api):
    p = run_loadpilot("run", scenario_file(HEALTH), "--target", demo_api.url, "--dry-run",
                      "--threshold", "p(95)<200", "--threshold", "http_req_failed<0.01")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["thresholds"] == {"p95_ms": 200, "error_rate": 1}


def test_a_ramp_longer_than_the_duration_runs_ramp_then_duration(scenario_file, demo_api):
    path = scenario_file(HEALTH.replace('ramp_up="0s"', 'ramp_up="3s", mode="ramp"'))
    p = run_loadpilot("run", path, "--target", demo_api.url, "--dry-run", "--duration", "2s")
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    assert plan["profile"]["ramp_up_s"] == 3 and plan["profile"]["duration_s"] == 2
    assert plan["engine"]["total_s"] == 5


TWO = HEALTH + """

@scenario(rps=10, duration="1s")
class Two(VUser):
    \"\"\"The second one.\"\"\"
    @task
    def health(self, client):
        client.get("/health")
"""


@pytest.mark.parametrize("extra,needle", [
    ([], "has 2 scenarios; pick one with --scenario NAME: One, Two"),
    (["--scenario", "Three"], "no scenario named \"Three\"; available: One, Two"),
])
def test_the_scenario_names_are_on_the_error_line(scenario_file, demo_api, extra, needle):
    p = run_loadpilot("run", scenario_file(TWO), "--target", demo_api.url, *extra)
    assert p.returncode == 2, p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("error: ") and needle in first, p.stderr
    # The docstrings follow, one "  - " line each.
    assert "  - Two — The second one." in p.stderr.splitlines()
    assert demo_api.stats()["total"] == 0
