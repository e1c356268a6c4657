"""The native fast-path proof: only a task that always sends the same single
request may skip Python. Every case here that is not proven must stay in
Python, or the engine would send wrong traffic."""

import pytest

HEADER = '''
from loadpilot import VUser, scenario, task
import functools, random

def deco(f):
    @functools.wraps(f)
    def wrapper(self, client):
        client.get("/extra")
        return f(self, client)
    return wrapper

PATH = "/constant"
'''


def runtime_of(describe, body, extra=""):
    source = HEADER + f'''
@scenario
class S(VUser):
{extra}
    @task
{body}
'''
    (s,) = describe(source)
    (t,) = s["tasks"]
    return t["runtime"], t["reason"]


@pytest.mark.parametrize(
    "body",
    [
        '    def t(self, client):\n        client.get("/health")',
        '    def t(self, c):\n        """Docstring."""\n        c.post("/x", json={"a": [1, 2.5, None, True]}, name="x")',
        '    def t(self, client):\n        return client.request("PUT", "/x", data=b"raw", params={"q": "1"})',
        '    def t(self, client):\n        client.delete("/x", headers={"A": "b"}, data={"k": "v"})',
    ],
)
def test_literal_single_calls_are_native(describe, body):
    runtime, reason = runtime_of(describe, body)
    assert runtime == "native", reason


@pytest.mark.parametrize(
    "body, reason",
    [
        ('    def t(self, client):\n        client.get(PATH)',
         "its path is computed, not a literal"),
        ('    def t(self, client):\n        client.get(f"/p/{random.randint(1, 9)}")',
         "its path is computed, not a literal"),
        ('    def t(self, client):\n        client.get("/p", headers={"X": str(random.random())})',
         "its headers= is computed, not a literal"),
        ('    def t(self, client):\n        client.get("/p", timeout=1)', "it passes timeout="),
        ('    def t(self, client):\n        client.get("/p", **{"name": "x"})', "it passes **kwargs"),
        ('    def t(self, client):\n        client.get("/a")\n        client.get("/b")',
         "its body has 2 statements"),
        ('    def t(self, client):\n        x = client.get("/a")', "its body is not a single client call"),
        ('    def t(self, client):\n        self.other.get("/a")', "its body is not a single client call"),
        ('    def t(self, client):\n        client.batch([{"path": "/a"}])',
         "client.batch() is not a single request"),
        ('    def t(self, client):\n        pass', "its body is not a single client call"),
        ('    def t(self, client, extra=1):\n        client.get("/a")',
         "its signature is not (self, client)"),
        ('    async def t(self, client):\n        await client.get("/a")', "it is an async task"),
    ],
)
def test_anything_else_runs_in_python(describe, body, reason):
    assert runtime_of(describe, body) == ("python", "runs in Python: " + reason)


def test_a_wrapping_decorator_is_not_trusted(describe):
    body = '    @deco\n    def t(self, client):\n        client.get("/a")'
    assert runtime_of(describe, body) == ("python", "runs in Python: it is not a plain function")


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("    def on_start(self, client):\n        pass", "the class defines on_start"),
        ("    def on_stop(self, client):\n        pass", "the class defines on_stop"),
        ("    def check_t(self, status_code, body):\n        pass", "check_t inspects its response"),
    ],
)
def test_hooks_and_checks_keep_the_task_in_python(describe, extra, reason):
    body = '    def t(self, client):\n        client.get("/a")'
    assert runtime_of(describe, body, extra) == ("python", "runs in Python: " + reason)
