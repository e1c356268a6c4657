"""Locust habits are refused when the scenario is loaded, naming the line and
the signature LoadPilot calls (docs/scenarios.md#coming-from-the-original-loadpilot-locust-and-k6)."""

import pytest

from loadpilot import _describe
from loadpilot._describe import ScenarioLoadError


def load_error(write_scenario, source):
    path = write_scenario(source)
    with pytest.raises(ScenarioLoadError) as info:
        _describe.describe_file(str(path))
    return str(info.value), str(path)


def test_a_task_without_client_is_refused_at_its_line(write_scenario):
    message, path = load_error(write_scenario, """
        from loadpilot import VUser, scenario, task

        @scenario(rps=1, duration="1s")
        class T(VUser):
            def on_start(self):
                self.client.post("/login")

            @task
            def a(self):
                self.client.get("/")
        """)
    lines = message.splitlines()
    assert lines[0] == (
        f"{path}:5: T.on_start(self) takes no client: LoadPilot calls it as "
        "on_start(self, client); write `def on_start(self, client):` and call client.get(...) "
        "(there is no self.client)")
    assert lines[1] == (
        f"{path}:9: T.a(self) takes no client: LoadPilot calls it as "
        "a(self, client); write `def a(self, client):` and call client.get(...) "
        "(there is no self.client)")
    assert len(lines) == 2


def test_self_client_is_refused_at_its_line(write_scenario):
    message, path = load_error(write_scenario, """
        from loadpilot import VUser, scenario, task

        @scenario(rps=1, duration="1s")
        class T(VUser):
            @task
            def a(self, client):
                client.get("/")
                self.client.get("/other")
        """)
    assert message == (
        f"{path}:8: self.client: a task gets its client as a parameter, "
        "`def a(self, client):`; call client.get(...) (there is no self.client)")


def test_self_client_set_by_the_scenario_is_its_own(describe):
    (s,) = describe("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=1, duration="1s")
        class T(VUser):
            def on_start(self, client):
                self.client = client

            @task
            def a(self, client):
                self.client.get("/")
        """)
    assert [t["name"] for t in s["tasks"]] == ["a"]


def test_a_check_with_the_wrong_signature_is_refused(write_scenario):
    message, path = load_error(write_scenario, """
        from loadpilot import VUser, scenario, task

        @scenario(rps=1, duration="1s")
        class T(VUser):
            @task
            def a(self, client):
                client.get("/")

            def check_a(self, response):
                return response.status_code == 200
        """)
    assert message == (
        f"{path}:9: T.check_a(self, response) cannot be called as "
        "check_a(self, status_code, body); write `def check_a(self, status_code, body):`")


def test_signatures_that_take_the_arguments_are_accepted(describe):
    (s,) = describe("""
        import functools
        from loadpilot import VUser, scenario, task

        def logged(f):
            @functools.wraps(f)
            def wrapper(*args, **kwargs):
                return f(*args, **kwargs)
            return wrapper

        @scenario(rps=1, duration="1s")
        class T(VUser):
            def on_start(self, client, retries=3):
                pass

            @task
            def a(self, c):
                c.get("/")

            @task
            def b(self, *args):
                args[0].get("/")

            @staticmethod
            @task
            def s(client):
                client.get("/")

            @task
            @logged
            def w(self, client):
                client.get("/")

            def check_a(self, status, body, *rest):
                return True
        """)
    assert [t["name"] for t in s["tasks"]] == ["a", "b", "s", "w"]


def test_self_client_set_by_a_base_class_is_its_own(describe, write_scenario):
    write_scenario("""
        class Session:
            def on_start(self, client):
                self.client = client
        """, name="session.py")
    (s,) = describe("""
        from loadpilot import VUser, scenario, task
        from session import Session

        @scenario(rps=1, duration="1s")
        class T(Session, VUser):
            @task
            def a(self, client):
                self.client.get("/")
        """)
    assert [t["name"] for t in s["tasks"]] == ["a"]
