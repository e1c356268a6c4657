"""Defaults that must not surprise (docs/monitoring.md, docs/cli.md): the
final metrics linger only when something scraped them or --metrics-linger
asked for it; a busy default metrics port warns and the run goes on; and
--dry-run shows the max_vusers the run would use."""
import errno
import json
import os
import socket
import subprocess
import urllib.request

from conftest import BIN, run_loadpilot

SCENARIO = """
from loadpilot import VUser, scenario, task

@scenario(rps=20, duration="{DURATION}", mode="constant"{EXTRA})
class Api(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""

LINGER_LINE = "serving final values"


def scenario(duration="1s", extra=""):
    return SCENARIO.replace("{DURATION}", duration).replace("{EXTRA}", extra)


def metrics_env():
    env = dict(os.environ)
    env.pop("LOADPILOT_NO_METRICS", None)
    return env


def test_no_linger_when_nothing_scraped(demo_api, scenario_file):
    p = run_loadpilot("run", scenario_file(scenario()), "--target", demo_api.url, "--no-report",
                      "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    assert p.returncode == 0, p.stderr
    assert "metrics: http://127.0.0.1:" in p.stdout
    assert LINGER_LINE not in p.stderr, p.stderr


def test_linger_when_given_explicitly(demo_api, scenario_file):
    p = run_loadpilot("run", scenario_file(scenario()), "--target", demo_api.url, "--no-report",
                      "--metrics-host", "127.0.0.1", "--metrics-port", "0",
                      "--metrics-linger", "1s")
    assert p.returncode == 0, p.stderr
    assert f"{LINGER_LINE} at http://127.0.0.1:" in p.stderr and "for 1s" in p.stderr, p.stderr


def test_linger_after_a_scrape_during_the_run(demo_api, scenario_file, tmp_path):
    run = subprocess.Popen(
        [os.path.abspath(BIN), "run", scenario_file(scenario("3s")), "--target", demo_api.url,
         "--no-report", "--metrics-host", "127.0.0.1", "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=metrics_env(),
        stdin=subprocess.DEVNULL, cwd=tmp_path)
    try:
        first = run.stdout.readline()
        url = first.split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), first
        with urllib.request.urlopen(url, timeout=5) as r:
            assert b"loadpilot_info" in r.read()
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    assert f"{LINGER_LINE} at {url} for 5s" in err, err


def hold_port(port):
    """A listening socket on 127.0.0.1:PORT, or None when something else
    already holds the port (it is busy either way)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
        return s
    except OSError as e:
        s.close()
        assert e.errno == errno.EADDRINUSE, e
        return None


def test_busy_default_port_moves_to_a_free_one_and_the_run_goes_on(demo_api, scenario_file):
    """The default port taken (a Prometheus, a coordinator service on this
    machine): the run serves its metrics on a free port and says which."""
    held = hold_port(9090)
    try:
        p = run_loadpilot("run", scenario_file(scenario()), "--target", demo_api.url,
                          "--no-report", "--metrics-host", "127.0.0.1")
    finally:
        if held:
            held.close()
    assert p.returncode == 0, p.stderr
    assert ("metrics: port 9090 is in use; serving on a free port instead "
            "(--metrics-port PORT to choose one, --no-metrics for none)" in p.stderr), p.stderr
    assert "warning" not in p.stderr
    served = [line for line in p.stdout.splitlines() if line.startswith("metrics: http")]
    assert served and ":9090/" not in served[0], p.stdout
    assert demo_api.stats()["total"] == 20


def test_busy_port_given_explicitly_still_fails(demo_api, scenario_file):
    held = hold_port(9090)
    try:
        p = run_loadpilot("run", scenario_file(scenario()), "--target", demo_api.url,
                          "--no-report", "--metrics-host", "127.0.0.1", "--metrics-port", "9090")
    finally:
        if held:
            held.close()
    assert p.returncode == 2, p.stderr
    assert "127.0.0.1:9090" in p.stderr and "in use" in p.stderr
    assert demo_api.stats()["total"] == 0


def dry_run(path, *extra):
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--dry-run", *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_dry_run_prints_the_effective_max_vusers(scenario_file):
    assert dry_run(scenario_file(scenario()))["max_vusers"] == 1000
    assert dry_run(scenario_file(scenario()), "--max-vusers", "7")["max_vusers"] == 7
    path = scenario_file(scenario(extra=", max_vusers=50"), name="fifty.py")
    assert dry_run(path)["max_vusers"] == 50


# /metrics is for this machine unless asked: loopback by default,
# --metrics-host 0.0.0.0 (or LOADPILOT_METRICS_HOST) opens it
# (docs/monitoring.md#the-endpoint).
def test_the_endpoint_listens_on_loopback_by_default(demo_api, scenario_file):
    p = run_loadpilot("run", scenario_file(scenario()), "--target", demo_api.url, "--no-report",
                      "--metrics-port", "0")
    assert p.returncode == 0, p.stderr
    line = next(l for l in p.stdout.splitlines() if l.startswith("metrics: "))
    assert "(listening on 127.0.0.1:" in line, line


def test_the_endpoint_opens_when_asked(demo_api, scenario_file):
    env = metrics_env()
    env["LOADPILOT_METRICS_HOST"] = "0.0.0.0"
    p = subprocess.run([os.path.abspath(BIN), "run", scenario_file(scenario()), "--target",
                        demo_api.url, "--no-report", "--metrics-port", "0"],
                       capture_output=True, text=True, timeout=60, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "(listening on 0.0.0.0:" in p.stdout, p.stdout


def test_the_help_names_the_loopback_default():
    p = run_loadpilot("help", "run")
    assert p.returncode == 0, p.stderr
    help_line = " ".join(p.stdout.split("--metrics-host", 1)[1].split()[:40])
    assert "127.0.0.1" in help_line, help_line
    p = run_loadpilot("help", "coordinator")
    help_line = " ".join(p.stdout.split("--metrics-host", 1)[1].split()[:40])
    assert "127.0.0.1" in help_line, help_line
