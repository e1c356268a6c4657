import json
import sys

import pytest

from loadpilot import _describe
from loadpilot._describe import ScenarioLoadError


def test_brief_example_shape(describe):
    (s,) = describe('''
        from loadpilot import VUser, scenario, task, LoadClient

        @scenario(rps=200, duration="30s", ramp_up="5s", mode="ramp",
                  thresholds={"p99_ms": 50, "error_rate": 1.0})
        class Browse(VUser):
            """Browse the catalogue.

            More text.
            """
            @task(weight=5)
            def products(self, client: LoadClient):
                client.get("/api/products", params={"page": 1},
                           headers={"Accept": "application/json"})

            @task
            def health(self, client: LoadClient):
                client.get("/health", name="health check")
        ''')
    # Where the thresholds were written: the decorators' lines.
    assert s.pop("thresholds_at").endswith("scenario.py:3")
    assert [t.pop("thresholds_at").rsplit(":", 1)[1] for t in s["tasks"]] == ["10", "15"]
    assert [t.pop("thresholds") for t in s["tasks"]] == [None, None]
    assert s == {
        "name": "Browse",
        "doc": "Browse the catalogue.",
        "line": 5,
        "config": {
            "rps": 200,
            "duration": "30s",
            "ramp_up": "5s",
            "mode": "ramp",
            "steps": 5,
            "thresholds": {"p99_ms": 50, "error_rate": 1.0},
            "max_vusers": None,
        },
        "defaults": ["steps", "max_vusers"],
        "tasks": [
            {
                "name": "products",
                "weight": 5,
                "line": 11,
                "is_async": False,
                "requests": [
                    {
                        "method": "GET",
                        "path": "/api/products?page=1",
                        "headers": [["Accept", "application/json"]],
                        "body": "",
                        "name": None,
                    }
                ],
                "error": None,
                "runtime": "native",
                "reason": "proven fixed: one client call with literal arguments, no on_start/on_stop/check",
            },
            {
                "name": "health",
                "weight": 1,
                "line": 16,
                "is_async": False,
                "requests": [
                    {"method": "GET", "path": "/health", "headers": [], "body": "",
                     "name": "health check"}
                ],
                "error": None,
                "runtime": "native",
                "reason": "proven fixed: one client call with literal arguments, no on_start/on_stop/check",
            },
        ],
        "has_on_start": False,
        "has_on_stop": False,
        "checks": [],
    }


def test_classes_in_definition_order_and_only_from_the_file(describe, write_scenario):
    write_scenario('''
        from loadpilot import VUser, scenario, task

        @scenario
        class Imported(VUser):
            @task
            def t(self, client): client.get("/")
        ''', name="shared.py")
    result = describe('''
        from loadpilot import VUser, scenario, task
        from shared import Imported

        @scenario(rps=1)
        class Zeta(VUser):
            @task
            def t(self, client): client.get("/z")

        class Helper(VUser):
            @task
            def t(self, client): client.get("/h")

        @scenario(rps=2)
        class Alpha(Zeta):
            pass

        alias = Alpha
        ''')
    assert [s["name"] for s in result] == ["Zeta", "Alpha"]
    assert result[1]["tasks"][0]["requests"][0]["path"] == "/z"  # inherited task


def test_non_serialisable_config_values_become_repr(describe):
    (s,) = describe('''
        from loadpilot import VUser, scenario

        class Odd:
            def __repr__(self): return "<odd>"

        @scenario(rps=float("inf"), duration=Odd(), thresholds={"p99_ms": Odd(), 5: 1})
        class S(VUser):
            pass
        ''')
    assert s["config"]["rps"] == "inf"
    assert s["config"]["duration"] == "<odd>"
    assert s["config"]["thresholds"] == {"p99_ms": "<odd>", "5": 1}
    assert s["tasks"] == []


def test_hooks_and_checks(describe):
    (s,) = describe('''
        from loadpilot import VUser, scenario, task

        class Base(VUser):
            def on_stop(self, client): pass
            def check_a(self, status_code, body): pass

        @scenario
        class S(Base):
            def on_start(self, client): pass
            def check_b(self, status_code, body): pass
            check_c = "not callable"

            @task
            async def a(self, client):
                await client.get("/a")
        ''')
    assert s["has_on_start"] and s["has_on_stop"]
    assert s["checks"] == ["check_a", "check_b"]
    (t,) = s["tasks"]
    # Never run while loading: it runs as Python on every iteration.
    assert t["is_async"] and t["requests"] == [] and t["error"] is None
    assert t["runtime"] == "python"
    assert t["reason"] == "runs in Python: the class defines on_start"


def test_only_proven_tasks_are_run_and_their_errors_captured(describe):
    (s,) = describe('''
        from loadpilot import VUser, scenario, task

        def helper(n):
            return 1 / n

        @scenario
        class S(VUser):
            @task
            def divides(self, client):
                client.get("/" + str(helper(0)))

            @task
            def uses_token(self, client):
                r = client.post("/login")
                client.get("/me", headers={"Authorization": r.json()["token"]})

            @task
            def bad_call(self, client):
                client.get(123)

            @task
            def unencodable(self, client):
                client.post("/x", json={1, 2})

            @task
            def extra_arg(self, client, retries=3):
                pass

            @task
            async def sleeps(self, client):
                import asyncio
                await asyncio.sleep(0)
        ''')
    tasks = {t["name"]: t for t in s["tasks"]}
    # Literal arguments: proven fixed, so run once while loading; a failure
    # there is reported with the user's line.
    assert tasks["bad_call"]["runtime"] == "native"
    assert ":19: TypeError: path must be a string, got int" in tasks["bad_call"]["error"]
    assert tasks["bad_call"]["error"].split(":")[0].endswith("scenario.py")
    assert ":23: TypeError: Object of type set is not JSON serializable" in (
        tasks["unencodable"]["error"])
    # Everything else is never run while loading: no error, no requests.
    for name, reason in [
        ("divides", "its path is computed, not a literal"),
        ("uses_token", "its body has 2 statements"),
        ("extra_arg", "its signature is not (self, client)"),
        ("sleeps", "it is an async task"),
    ]:
        assert tasks[name]["runtime"] == "python", name
        assert tasks[name]["reason"] == "runs in Python: " + reason
        assert tasks[name]["error"] is None and tasks[name]["requests"] == []


def test_import_error_names_file_and_line(write_scenario):
    path = write_scenario('''
        from loadpilot import VUser, scenario

        x = 1
        raise ValueError("boom")
        ''')
    with pytest.raises(ScenarioLoadError) as info:
        _describe.describe_file(str(path))
    assert str(info.value) == f"{path}:4: ValueError: boom"
    assert "__loadpilot_scenario__" not in sys.modules


def test_missing_module_names_the_import_line(write_scenario):
    path = write_scenario('''
        import os
        import no_such_module_here
        ''')
    with pytest.raises(ScenarioLoadError, match=r":2: ModuleNotFoundError: No module named"):
        _describe.describe_file(str(path))


def test_syntax_error_shows_the_line(write_scenario):
    path = write_scenario('''
        from loadpilot import VUser

        class S(VUser)
            pass
        ''')
    with pytest.raises(ScenarioLoadError) as info:
        _describe.describe_file(str(path))
    first, source, caret = str(info.value).split("\n")
    assert first.startswith(f"{path}:3:")
    assert "SyntaxError: expected ':'" in first
    assert source == "    class S(VUser)"
    assert caret.strip() == "^"


def test_system_exit_is_a_load_error(write_scenario):
    path = write_scenario("import sys\nsys.exit(3)\n")
    with pytest.raises(ScenarioLoadError, match=r":2: SystemExit: 3"):
        _describe.describe_file(str(path))


def test_scenario_folder_is_importable_and_module_registered(write_scenario):
    write_scenario("BASE = '/from-helper'\n", name="paths_helper_mod.py")
    path = write_scenario('''
        import dataclasses, sys
        from loadpilot import VUser, scenario, task
        from paths_helper_mod import BASE

        assert sys.modules[__name__].__name__ == "__loadpilot_scenario__"

        @dataclasses.dataclass
        class Item:
            id: int

        @scenario(duration=BASE + str(Item(3).id))
        class S(VUser):
            @task
            def t(self, client):
                client.get(BASE)
        ''')
    (s,) = json.loads(_describe.describe_file(str(path)))
    assert s["config"]["duration"] == "/from-helper3"
    assert sys.path[0] == str(path.parent)


def test_no_scenario_gives_empty_list(describe):
    assert describe("x = 1\n") == []


def test_file_without_py_suffix(write_scenario):
    path = write_scenario('''
        from loadpilot import VUser, scenario
        @scenario
        class S(VUser):
            pass
        ''', name="scenario.loadtest")
    assert json.loads(_describe.describe_file(str(path)))[0]["name"] == "S"
