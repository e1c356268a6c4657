"""Following redirects (docs/scenarios.md#redirects) end to end: the real
`loadpilot` against `loadpilot demo-api`'s /redirect, /redirect/{n} and /echo
on loopback. Every hop is a request of its own, so the run's request count
must equal what demo-api's /stats saw."""
import json
import os
import re
import socket
from http.server import BaseHTTPRequestHandler

from conftest import run_json, run_loadpilot, serve_http, task_row

SOURCE_DIR = os.environ.get("LOADPILOT_SOURCE_DIR", ".")


def test_a_scenario_default_follows_a_chain_hop_by_hop(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(10, "1s", ramp_up=0, mode="constant", follow_redirects=True)
        class Chain(VUser):
            @task
            def chain(self, client):
                r = client.get("/redirect/3")
                assert r.status_code == 200 and r.json() == {"status": "ok"}, r.status_code
                assert r.url.endswith("/health") and r.error is None, (r.url, r.error)
                assert [h.status_code for h in r.history] == [302, 302, 302]
                assert [h.url.rsplit("/", 1)[1] for h in r.history] == ["3", "2", "1"]
                assert [len(h.history) for h in r.history] == [0, 1, 2]
        """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    stats = demo_api.stats()
    routes = stats["routes"]
    assert r["iterations"]["finished"] == 10
    # Three redirects and the answer: four requests an iteration, each counted
    # and measured in the task's row, and each seen by the server.
    assert routes["GET /redirect/{n}"] == 30 and routes["GET /health"] == 10
    assert r["requests"] == task_row(r, "chain")["requests"] == stats["total"] == 40
    assert r["latency"]["count"] == task_row(r, "chain")["latency"]["count"] == 40


def test_methods_and_bodies_change_as_browsers_change_them(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        def follow(client, method, status, to, **kwargs):
            return client.request(method, "/redirect", params={"status": status, "to": to},
                                  follow_redirects=True, **kwargs)

        @scenario(5, "1s", ramp_up=0, mode="constant")
        class Methods(VUser):
            @task
            def methods(self, client):
                a = follow(client, "POST", 303, "/echo", json={"a": 1})
                assert a.json() == {"method": "GET", "target": "/echo", "body": ""}, a.text
                b = follow(client, "POST", 307, "/echo?k=v", json={"b": 2})
                assert b.json() == {"method": "POST", "target": "/echo?k=v",
                                    "body": '{"b": 2}'}, b.text
                assert [h.status_code for h in b.history] == [307]
                c = follow(client, "POST", 302, "/echo", data={"c": "3"})
                assert c.json()["method"] == "GET" and c.json()["body"] == "", c.text
                d = follow(client, "PUT", 308, "/echo", content=b"raw")
                assert (d.json()["method"], d.json()["body"]) == ("PUT", "raw"), d.text
                e = follow(client, "DELETE", 303, "/echo")
                assert e.json()["method"] == "GET", e.text
        """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    routes = demo_api.stats()["routes"]
    assert routes["ANY /redirect"] == routes["ANY /echo"] == 5 * 5
    assert r["requests"] == task_row(r, "methods")["requests"] == 2 * 5 * 5


def test_the_hop_limit_fails_the_call_and_is_counted(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(5, "1s", ramp_up=0, mode="constant", follow_redirects=True, max_redirects=2)
        class Limit(VUser):
            @task
            def too_deep(self, client):
                r = client.get("/redirect/5")
                assert r.status_code == 302 and not r.ok, (r.status_code, r.error)
                assert len(r.history) == 2 and r.url.endswith("/redirect/3"), r.url
                assert r.error.startswith("too many redirects"), r.error
        """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    routes = demo_api.stats()["routes"]
    # max_redirects=2: the first request and two hops, then the third
    # redirect is not followed and that request fails.
    assert routes["GET /redirect/{n}"] == r["requests"] == 3 * 5
    assert routes["GET /health"] == 0
    assert r["errors"] == r["errors_by_kind"]["redirect"] == 5
    assert r["top_errors"] == [{
        "kind": "redirect", "count": 5, "first_seen_s": r["top_errors"][0]["first_seen_s"],
        "message": "too many redirects: more than max_redirects=2; "
                   "the last redirect was not followed"}]
    assert task_row(r, "too_deep")["errors"] == 5


def test_a_redirect_to_another_origin_is_never_followed(demo_api, scenario_file, tmp_path):
    # A listener of our own on loopback: a redirect to it must not reach it.
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    other.settimeout(0)
    port = demo_api.url.rsplit(":", 1)[1]
    other_port = other.getsockname()[1]
    elsewhere = [f"http://127.0.0.1:{other_port}/x",               # another port
                 f"https://127.0.0.1:{port}/health",               # another scheme
                 f"http://localhost:{port}/health"]                # another host name
    try:
        path = scenario_file(f"""
            from loadpilot import VUser, scenario, task

            @scenario(4, "1s", ramp_up=0, mode="constant")
            class Away(VUser):
                @task
                def away(self, client):
                    for to in {elsewhere!r}:
                        r = client.get("/redirect", params={{"to": to}}, follow_redirects=True)
                        assert r.status_code == 302 and r.history == [], r.status_code
                        assert r.error.startswith("redirect to another origin"), r.error
            """)
        proc, r = run_json(path, demo_api.url, tmp_path)
        try:
            conn, _ = other.accept()
            conn.close()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        other.close()
    # Every request failed (by design here): the run fails and says so.
    assert proc.returncode == 1, proc.stderr
    assert r["problems"][0].startswith("no request succeeded: all 12 attempts failed"), r
    assert not reached, "a redirect to another origin was followed"
    stats = demo_api.stats()
    assert stats["total"] == stats["routes"]["ANY /redirect"] == r["requests"] == 3 * 4
    assert r["errors"] == r["errors_by_kind"]["redirect"] == 3 * 4
    messages = {e["message"]: e["count"] for e in r["top_errors"]}
    origins = [f"http://127.0.0.1:{other_port}", f"https://127.0.0.1:{port}",
               f"http://localhost:{port}"]
    assert messages == {
        f"redirect to another origin not followed: {origin} is not http://127.0.0.1:{port} "
        "(a run sends only to its --target)": 4 for origin in origins}


def test_absolute_locations_and_a_target_with_a_base_path(demo_api, scenario_file, tmp_path):
    # The target is demo-api's /redirect: "/2" is /redirect/2, whose
    # relative Location stays under it, and /redirect/1's "/health" leaves it.
    path = scenario_file(f"""
        from loadpilot import VUser, scenario, task

        @scenario(4, "1s", ramp_up=0, mode="constant", follow_redirects=True)
        class Base(VUser):
            @task
            def base(self, client):
                r = client.get("/2")
                assert r.json() == {{"status": "ok"}}, r.text
                assert [h.url for h in r.history] == [
                    "{demo_api.url}/redirect/2", "{demo_api.url}/redirect/1"], r.history
                assert r.url == "{demo_api.url}/health", r.url
                r = client.get("", params={{"to": "{demo_api.url}/echo?absolute=1"}})
                assert r.json()["target"] == "/echo?absolute=1", r.text
        """)
    proc, r = run_json(path, demo_api.url + "/redirect", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    stats = demo_api.stats()
    routes = stats["routes"]
    assert routes["GET /redirect/{n}"] == 2 * 4 and routes["GET /health"] == 4
    assert routes["ANY /redirect"] == routes["ANY /echo"] == 4
    assert r["requests"] == stats["total"] == 5 * 4


def test_tasks_that_follow_redirects_run_in_python(scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(follow_redirects=True, max_redirects=3)
        class Plan(VUser):
            @task
            def follows(self, client):
                client.get("/redirect/2")

            @task
            def does_not(self, client):
                client.get("/health", follow_redirects=False)
        """)
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert (plan["follow_redirects"], plan["max_redirects"]) == (True, 3)
    tasks = {t["name"]: t for t in plan["tasks"]}
    assert tasks["follows"]["runtime"] == "python"
    assert "follows redirects" in tasks["follows"]["reason"]
    assert tasks["does_not"]["runtime"] == "native"


def test_bad_redirect_settings_are_refused_with_the_field(scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(follow_redirects="always", max_redirects=500)
        class Bad(VUser):
            @task
            def t(self, client):
                client.get("/health")
        """)
    proc = run_loadpilot("run", path, "--target", "http://127.0.0.1:1", "--dry-run")
    assert proc.returncode == 2
    assert 'follow_redirects: must be True or False (got "always")' in proc.stderr
    assert "max_redirects: must be a whole number from 0 to 100" in proc.stderr


def test_the_documented_example_runs(demo_api, scenario_file, tmp_path):
    with open(os.path.join(SOURCE_DIR, "docs", "scenarios.md")) as f:
        section = f.read().split("### Redirects", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    proc, r = run_json(scenario_file(example), demo_api.url, tmp_path,
                       "--rps", "20", "--duration", "1s", "--ramp-up", "0", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    stats = demo_api.stats()
    login, chain = task_row(r, "login"), task_row(r, "chain")
    assert login["iterations"] > 0 and chain["iterations"] > 0
    assert login["requests"] == 2 * login["iterations"]
    assert chain["requests"] == chain["iterations"]
    assert r["requests"] == stats["total"]
    assert stats["routes"]["ANY /echo"] == login["iterations"]


class Latin1Location(BaseHTTPRequestHandler):
    """/latin redirects with a Location that is not UTF-8 (a Latin-1 "é");
    any other path answers with itself."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/latin":
            self.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: /caf\xe9\r\n"
                             b"Content-Length: 0\r\n\r\n")
            return
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_location_that_is_not_utf8_is_read_as_latin1(scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(3, "1s", ramp_up=0, mode="constant")
        class Latin(VUser):
            @task
            def latin(self, client):
                r = client.get("/latin", follow_redirects=True)
                assert r.history[0].headers["Location"] == "/caf\u00e9", r.history
                assert (r.status_code, r.text) == (200, "/caf%C3%A9"), r.text
        """)
    with serve_http(Latin1Location) as url:
        proc, r = run_json(path, url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    assert r["requests"] == 2 * 3
