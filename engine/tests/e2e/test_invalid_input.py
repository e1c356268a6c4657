"""Bad input: one clear message naming the file/line/field, exit 2, nothing sent."""
from conftest import run_loadpilot

GOOD = """
from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="1s")
class One(VUser):
    @task
    def health(self, client):
        client.get("/health")
"""


def test_missing_file():
    p = run_loadpilot("run", "/nonexistent/x.py", "--target", "http://127.0.0.1:1")
    assert p.returncode == 2
    assert "not found" in p.stderr and "/nonexistent/x.py" in p.stderr


def test_syntax_error_names_file_and_line(scenario_file):
    path = scenario_file("from loadpilot import VUser\n\nclass Broken(VUser:\n    pass\n")
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1")
    assert p.returncode == 2
    assert f"{path}:3" in p.stderr and "SyntaxError" in p.stderr
    assert "Traceback" not in p.stderr and "terminate" not in p.stderr


def test_exception_at_import_names_line(scenario_file):
    path = scenario_file("import os\n\nx = 1 / 0\n")
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1")
    assert p.returncode == 2
    assert f"{path}:3" in p.stderr and "ZeroDivisionError" in p.stderr


def test_no_scenario_class(scenario_file):
    path = scenario_file("from loadpilot import VUser\n\nclass Plain(VUser):\n    pass\n")
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1")
    assert p.returncode == 2
    assert "no @scenario class" in p.stderr


def test_unknown_scenario_name(scenario_file):
    path = scenario_file(GOOD)
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--scenario", "Nope")
    assert p.returncode == 2
    assert '"Nope"' in p.stderr and "One" in p.stderr


def test_several_scenarios_without_a_terminal_are_listed(scenario_file):
    path = scenario_file(GOOD + """
@scenario(rps=5, duration="1s")
class Two(VUser):
    \"\"\"The second one.\"\"\"
    @task
    def health(self, client):
        client.get("/health")
""")
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1")
    assert p.returncode == 2
    assert "--scenario" in p.stderr and "One" in p.stderr and "Two" in p.stderr
    assert "The second one." in p.stderr
    ok = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--scenario", "Two",
                       "--dry-run")
    assert ok.returncode == 0, ok.stderr


def test_all_validation_errors_reported_at_once(scenario_file, demo_api):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=-5, duration="0s", ramp_up="-1s", mode="zigzag", steps=0,
                  thresholds={"p98_ms": 10})
        class Bad(VUser):
            @task(weight=0)
            def health(self, client):
                client.request("FETCH", "/health")
    """)
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2
    err = p.stderr
    for needle in ("rps", "-5", "duration", "ramp_up", "mode", "zigzag", "steps",
                   "p98_ms", "weight", "FETCH"):
        assert needle in err, (needle, err)
    assert demo_api.stats()["total"] == 0


def test_bad_target(scenario_file):
    path = scenario_file(GOOD)
    for target in ("ftp://127.0.0.1/", "127.0.0.1:8000", "http://"):
        p = run_loadpilot("run", path, "--target", target)
        assert p.returncode == 2, target
        assert "target" in p.stderr, p.stderr


def test_bad_duration_text(scenario_file):
    path = scenario_file(GOOD)
    p = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--duration", "ten")
    assert p.returncode == 2
    assert "duration" in p.stderr and "ten" in p.stderr


def test_bad_arguments_exit_2():
    p = run_loadpilot("run")
    assert p.returncode == 2
    p = run_loadpilot("frobnicate")
    assert p.returncode == 2
