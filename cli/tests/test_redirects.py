"""Following redirects (docs/scenarios.md#redirects): the next hop's request,
the runtime sending and recording every hop through an in-process hub, and
which tasks may still be sent natively (end to end against demo-api:
engine/tests/e2e/test_redirects.py)."""

import json
import sys
import threading

import pytest
from test_runtime import FakeHub, finish, wait_for

from loadpilot import _describe
from loadpilot._redirects import (
    RedirectRefused,
    origin_of,
    redirect_request,
    too_many,
)
from loadpilot._runtime import Runtime
from loadpilot.client import LoadClient, build_request
from loadpilot.dsl import scenario_config

ORIGIN = origin_of("http://t:8000")


def hop(request, status, location, url="http://t:8000/a/b?x=1"):
    return redirect_request(request, status, location, url, ORIGIN)


# --- the next hop ----------------------------------------------------------------


def test_location_resolves_against_the_url_it_answered():
    get = build_request("GET", "/a/b")
    assert hop(get, 302, "c")[0].path == "/a/c"
    assert hop(get, 302, "../c?y=2")[0].path == "/c?y=2"
    assert hop(get, 302, "/d")[0].path == "/d"
    assert hop(get, 302, "?q=1")[0].path == "/a/b?q=1"
    assert hop(get, 302, "http://t:8000/e#top") == (hop(get, 302, "/e")[0], "http://t:8000/e")
    assert hop(get, 302, "//t:8000/f")[1] == "http://t:8000/f"
    # The scheme's default port is the same origin as the port written out.
    request, url = redirect_request(get, 301, "http://T:80/g", "http://t/", origin_of("http://t"))
    assert (request.path, url) == ("/g", "http://T:80/g")


def test_location_is_percent_encoded_as_a_browser_sends_it():
    get = build_request("GET", "/")
    assert hop(get, 302, "/a b/é?q=x y")[0].path == "/a%20b/%C3%A9?q=x%20y"
    assert hop(get, 302, "/already%20done")[0].path == "/already%20done"


def test_303_makes_a_get_without_the_body():
    post = build_request("POST", "/form", json={"a": 1}, headers={"X-Keep": "1"},
                         cookies={"c": "1"}, name="n", timeout=2, max_body=10)
    request, _ = hop(post, 303, "/done")
    assert (request.method, request.body) == ("GET", b"")
    assert request.headers == [("X-Keep", "1")]  # Content-Type went with the body
    assert (request.cookies, request.name, request.timeout, request.max_body) == (
        [("c", "1")], "n", 2, 10)
    assert request.follow_redirects is True
    put = build_request("PUT", "/x", content=b"raw")
    assert hop(put, 303, "/y")[0].method == "GET"
    head = build_request("HEAD", "/x")
    assert hop(head, 303, "/y")[0].method == "HEAD"


def test_301_and_302_turn_only_a_post_into_a_get():
    post = build_request("POST", "/form", data={"a": "1"})
    put = build_request("PUT", "/x", content=b"raw")
    for status in (301, 302):
        assert (hop(post, status, "/y")[0].method, hop(post, status, "/y")[0].body) == ("GET", b"")
        assert (hop(put, status, "/y")[0].method, hop(put, status, "/y")[0].body) == ("PUT", b"raw")


def test_307_and_308_keep_method_and_body():
    post = build_request("POST", "/form", json={"a": 1})
    for status in (307, 308):
        request, _ = hop(post, status, "/again")
        assert (request.method, request.body, request.headers) == (
            "POST", b'{"a": 1}', [("Content-Type", "application/json")])


@pytest.mark.parametrize("location, shown", [
    ("http://elsewhere:8000/x", "http://elsewhere:8000"),
    ("https://t:8000/x", "https://t:8000"),
    ("//t:8001/x", "http://t:8001"),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000"),
    ("mailto:someone@t", "mailto:"),
])
def test_another_origin_is_refused(location, shown):
    with pytest.raises(RedirectRefused) as info:
        hop(build_request("GET", "/"), 302, location)
    assert str(info.value) == (f"redirect to another origin not followed: {shown} is not "
                               "http://t:8000 (a run sends only to its --target)")


def test_a_location_that_is_not_a_url_is_refused():
    with pytest.raises(RedirectRefused, match="its Location is not a valid URL"):
        hop(build_request("GET", "/"), 302, "http://[::1")
    with pytest.raises(RedirectRefused, match="its Location is not a valid URL"):
        hop(build_request("GET", "/"), 302, "http://t:99999/")


def test_follow_redirects_rides_on_the_request():
    assert build_request("GET", "/x").follow_redirects is None
    assert build_request("GET", "/x", follow_redirects=True).follow_redirects is True
    assert build_request("POST", "/x", json={}, follow_redirects=False).follow_redirects is False
    with pytest.raises(TypeError, match="follow_redirects= must be True or False, got str 'yes'"):
        LoadClient(None).get("/x", follow_redirects="yes")


# --- the runtime: every hop sent, recorded and measured ------------------------------


@pytest.fixture
def run_once(write_scenario):
    """Runs one iteration of SOURCE's first task against RESPOND, returns
    (hub, path, the scenario module)."""
    made = []

    def run(source, respond, target="http://t", follow=False, max_redirects=20):
        path = write_scenario(source)
        (info,) = json.loads(_describe.describe_file(str(path)))
        tasks = [(t["name"], "python") for t in info["tasks"]]
        rt = Runtime(info["name"], str(path), target, tasks, 10, False, False,
                     follow_redirects=follow, max_redirects=max_redirects)
        hub = FakeHub(respond)
        thread = threading.Thread(target=rt.run, args=(hub,), daemon=True)
        thread.start()
        made.append((hub, thread))
        hub.push((0, 0, hub.now_us(), 0))
        wait_for(lambda: hub.done_per_worker.get(0) == 1)
        finish(hub)
        return hub, path, sys.modules[_describe.MODULE_NAME]

    yield run
    for hub, thread in made:
        hub.push((3,))
        thread.join(5)


def chain(method, path, headers):
    """/chain/N: a 302 to "N-1" (relative) down to /chain/0, a 200."""
    if path.startswith("/chain/") and path != "/chain/0":
        return 302, [("Location", str(int(path.rsplit("/", 1)[1]) - 1))], b"{}"
    return 200, [("Content-Type", "application/json")], json.dumps({"path": path}).encode()


CHAIN = """
    from loadpilot import VUser, scenario, task

    SEEN = []

    @scenario(follow_redirects=True)
    class S(VUser):
        @task
        def t(self, client):
            r = client.get("/chain/3")
            SEEN.append((r.status_code, r.url, r.json(), r.error,
                         [(h.status_code, h.url, len(h.history)) for h in r.history]))
    """


def test_every_hop_is_sent_and_recorded_and_the_last_is_returned(run_once):
    hub, _, module = run_once(CHAIN, chain, follow=True)
    assert [s[1] for s in hub.sent] == ["/chain/3", "/chain/2", "/chain/1", "/chain/0"]
    # Hops go by their full path on the origin.
    assert hub.full_paths == [False, True, True, True]
    assert hub.requests == [(0, None, "")] * 4
    assert hub.errors == []
    assert module.SEEN == [(200, "http://t/chain/0", {"path": "/chain/0"}, None, [
        (302, "http://t/chain/3", 0), (302, "http://t/chain/2", 1), (302, "http://t/chain/1", 2),
    ])]


def test_the_call_overrides_the_scenario_default(run_once):
    source = CHAIN.replace('client.get("/chain/3")',
                           'client.get("/chain/3", follow_redirects=False)')
    hub, _, module = run_once(source, chain, follow=True)
    assert [s[1] for s in hub.sent] == ["/chain/3"]
    assert module.SEEN[0][0] == 302 and module.SEEN[0][4] == []
    source = CHAIN.replace("@scenario(follow_redirects=True)", "@scenario")
    hub, _, module = run_once(source, chain)  # not followed: a 302 is a result
    assert [s[1] for s in hub.sent] == ["/chain/3"]
    source = source.replace('client.get("/chain/3")',
                            'client.get("/chain/3", follow_redirects=True)')
    hub, _, module = run_once(source, chain)
    assert len(hub.sent) == 4 and module.SEEN[0][0] == 200


def test_the_hop_limit_fails_the_call_as_a_redirect_error(run_once):
    source = CHAIN.replace("/chain/3", "/chain/5")
    hub, path, module = run_once(source, chain, follow=True, max_redirects=2)
    assert [s[1] for s in hub.sent] == ["/chain/5", "/chain/4", "/chain/3"]
    message = too_many(2)
    assert message == ("too many redirects: more than max_redirects=2; "
                       "the last redirect was not followed")
    assert hub.requests == [(0, None, ""), (0, None, ""), (0, "redirect", message)]
    ((status, url, _, error, history),) = module.SEEN
    assert (status, url, error, len(history)) == (302, "http://t/chain/3", message, 2)


def test_hop_limit_zero_follows_none(run_once):
    hub, _, module = run_once(CHAIN, chain, follow=True, max_redirects=0)
    assert [s[1] for s in hub.sent] == ["/chain/3"]
    assert hub.requests == [(0, "redirect", too_many(0))]


def test_a_redirect_to_another_origin_is_not_followed(run_once):
    def away(method, path, headers):
        return 302, [("Location", "http://elsewhere/x")], b""

    source = CHAIN.replace('SEEN.append((r.status_code, r.url, r.json()',
                           'SEEN.append((r.status_code, r.url, r.ok')
    hub, _, module = run_once(source, away, follow=True)
    assert [s[1] for s in hub.sent] == ["/chain/3"]
    message = ("redirect to another origin not followed: http://elsewhere:80 is not "
               "http://t:80 (a run sends only to its --target)")
    assert hub.requests == [(0, "redirect", message)]
    assert module.SEEN == [(302, "http://t/chain/3", False, message, [])]


def test_hops_leave_the_base_path_when_the_location_does(run_once):
    def answers(method, path, headers):
        if path == "/a":
            return 302, [("Location", "b")], b""  # relative: /v1/b
        if path == "/v1/b":
            return 302, [("Location", "/login?next=%2Fv1")], b""
        return 200, [], b"{}"

    source = CHAIN.replace("/chain/3", "/a")
    hub, _, module = run_once(source, answers, target="http://t/v1", follow=True)
    assert [s[1] for s in hub.sent] == ["/a", "/v1/b", "/login?next=%2Fv1"]
    assert hub.full_paths == [False, True, True]
    assert module.SEEN[0][1] == "http://t/login?next=%2Fv1"


def test_303_sends_a_get_and_307_the_same_post(run_once):
    def answers(method, path, headers):
        if path == "/see-other":
            return 303, [("Location", "/result")], b""
        if path == "/temporary":
            return 307, [("Location", "/again")], b""
        return 200, [], json.dumps({"method": method}).encode()

    source = """
        from loadpilot import VUser, scenario, task

        SEEN = []

        @scenario(follow_redirects=True)
        class S(VUser):
            @task
            def t(self, client):
                a = client.post("/see-other", json={"a": 1})
                b = client.post("/temporary", json={"b": 2})
                SEEN.append((a.json()["method"], b.json()["method"]))
        """
    hub, _, module = run_once(source, answers, follow=True)
    assert [(m, p, b) for m, p, _, b in hub.sent] == [
        ("POST", "/see-other", b'{"a": 1}'), ("GET", "/result", b""),
        ("POST", "/temporary", b'{"b": 2}'), ("POST", "/again", b'{"b": 2}')]
    assert hub.sent[1][2] == [] and hub.sent[3][2] == [("Content-Type", "application/json")]
    assert module.SEEN == [("GET", "POST")]


def test_cookies_set_by_a_redirect_go_with_the_next_hop(run_once):
    def answers(method, path, headers):
        if path == "/login":
            return 302, [("Set-Cookie", "sid=42; Path=/"), ("Location", "/home")], b""
        return 200, [], json.dumps({"cookie": headers.get("Cookie")}).encode()

    source = CHAIN.replace("/chain/3", "/login")
    hub, _, module = run_once(source, answers, follow=True)
    assert module.SEEN[0][2] == {"cookie": "sid=42"}


def test_a_check_judges_the_last_hop(run_once):
    source = """
        from loadpilot import VUser, scenario, task

        @scenario(follow_redirects=True)
        class S(VUser):
            @task
            def t(self, client):
                client.get("/chain/2")

            def check_t(self, status_code, body):
                assert status_code == 200 and body == {"path": "/chain/0"}
        """
    hub, _, _ = run_once(source, chain, follow=True)
    assert hub.requests == [(0, None, "")] * 3 and hub.errors == []


def test_async_calls_follow_their_redirects_side_by_side(run_once):
    source = """
        import asyncio
        from loadpilot import VUser, scenario, task

        SEEN = []

        @scenario
        class S(VUser):
            @task
            async def t(self, client):
                a, b = await asyncio.gather(client.get("/chain/2", follow_redirects=True),
                                            client.get("/chain/1", follow_redirects=True))
                (c,) = await client.batch([{"path": "/chain/1", "follow_redirects": True}])
                SEEN.append([(r.status_code, len(r.history)) for r in (a, b, c)])
        """
    hub, _, module = run_once(source, chain)
    assert len(hub.sent) == 3 + 2 + 2 and hub.errors == []
    assert module.SEEN == [[(200, 2), (200, 1), (200, 1)]]


def test_a_timeout_applies_to_each_hop(run_once):
    def answers(method, path, headers):
        if path == "/slow":
            return None  # never answers
        return 302, [("Location", "/slow")], b""

    source = """
        from loadpilot import VUser, scenario, task

        SEEN = []

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                r = client.get("/first", follow_redirects=True, timeout=0.05)
                SEEN.append((r.status_code, r.error, [h.status_code for h in r.history]))
        """
    hub, _, module = run_once(source, answers)
    assert hub.requests == [(0, None, ""), (0, "timeout", "no response within timeout=0.05s")]
    assert module.SEEN == [(0, "no response within timeout=0.05s", [302])]


# --- which tasks may run natively ------------------------------------------------


def test_tasks_that_follow_redirects_run_in_python(describe):
    (info,) = describe("""
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def off(self, client):
                client.get("/a", follow_redirects=False)

            @task
            def on(self, client):
                client.get("/a", follow_redirects=True)
        """)
    runtimes = {t["name"]: (t["runtime"], t["reason"]) for t in info["tasks"]}
    assert runtimes["off"][0] == "native"
    assert runtimes["on"] == (
        "python", "runs in Python: it passes follow_redirects=True (redirects are followed in "
                  "Python)")
    assert "follow_redirects" not in info["config"]

    (info,) = describe("""
        from loadpilot import VUser, scenario, task

        @scenario(follow_redirects=True, max_redirects=5)
        class S(VUser):
            @task
            def default(self, client):
                client.get("/a")

            @task
            def off(self, client):
                client.get("/a", follow_redirects=False)
        """)
    runtimes = {t["name"]: (t["runtime"], t["reason"]) for t in info["tasks"]}
    assert runtimes["default"] == (
        "python", "runs in Python: the scenario follows redirects "
                  "(@scenario(follow_redirects=True))")
    assert runtimes["off"][0] == "native"
    assert (info["config"]["follow_redirects"], info["config"]["max_redirects"]) == (True, 5)


def test_scenario_keeps_redirect_settings_as_written(describe):
    (info,) = describe("""
        from loadpilot import VUser, scenario, task

        @scenario(follow_redirects="yes", max_redirects=-1)
        class S(VUser):
            @task
            def t(self, client):
                client.get("/a")
        """)
    # The engine refuses them, naming the fields (engine/tests/loader_test.cc).
    assert (info["config"]["follow_redirects"], info["config"]["max_redirects"]) == ("yes", -1)
    cls = sys.modules[_describe.MODULE_NAME].S
    assert scenario_config(cls).follow_redirects == "yes"
