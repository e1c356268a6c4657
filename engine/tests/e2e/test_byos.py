"""Scenarios written for the original LoadPilot, Locust or httpx habits run
unchanged (docs/scenarios.md#coming-from-the-original-loadpilot-locust-and-k6),
against `loadpilot demo-api` on loopback, with request counts checked against
its /stats; where the server must show what a request carried, a small
recording server on loopback."""
import base64
import email.parser
import email.policy

from conftest import Recorder, run_json, run_loadpilot, task_row


def test_scenario_class_without_vuser_base_and_positional_arguments(
        demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        import random
        from loadpilot import scenario, task

        class Helpers:
            def auth(self):
                return {"Authorization": "Bearer " + self.token}

        @scenario(20, "1s", ramp_up=0, mode="constant")
        class Plain(Helpers):
            def on_start(self, client):
                r = client.post("/auth/login", json={"user": "u", "pass": "p"})
                self.token = r.json()["access_token"]

            def on_stop(self, client):
                client.post("/auth/logout", headers=self.auth())

            @task(weight=3)
            def product(self, client):
                client.get(f"/api/products/{random.randint(1, 9)}", headers=self.auth(),
                           name="product")

            @task
            def user(self, client):
                client.get("/api/user", headers=self.auth())

            def check_user(self, status_code, body):
                assert body["id"] == 1
        """)
    proc, r = run_json(path, demo_api.url, tmp_path, "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    routes = demo_api.stats()["routes"]
    # rps 20 for 1 s, given by position: 20 iterations.
    assert r["iterations"]["started"] == 20, r["iterations"]
    product, user = task_row(r, "product"), task_row(r, "user")
    assert product["requests"] == routes["GET /api/products/{id}"] > 0
    assert user["requests"] == routes["GET /api/user"] > 0
    assert product["requests"] + user["requests"] == 20
    logins = routes["POST /auth/login"]
    assert logins >= 1 and routes["POST /auth/logout"] == logins
    assert task_row(r, "on_start")["requests"] == logins
    assert r["requests"] == demo_api.stats()["total"]


def test_scenario_with_three_positional_arguments_names_the_line(demo_api, scenario_file):
    path = scenario_file("""
        from loadpilot import scenario, task

        @scenario(20, "5s", "1s")
        class Three:
            @task
            def health(self, client):
                client.get("/health")
        """)
    proc = run_loadpilot("run", path, "--target", demo_api.url)
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:4: TypeError: @scenario() takes at most 2 positional arguments " \
           "(rps, duration) but 3 were given" in proc.stderr
    assert demo_api.stats()["total"] == 0


def test_async_calls_not_awaited_are_counted_and_checked(make_demo_api, scenario_file, tmp_path):
    api = make_demo_api("--latency-ms", "100")
    path = scenario_file("""
        from loadpilot import scenario, task

        @scenario(rps=24, duration="1s", ramp_up=0, mode="constant")
        class NoAwait:
            async def on_start(self, client):
                client.post("/auth/login", json={"user": "u", "pass": "p"})

            @task
            async def checked(self, client):
                client.get("/api/products/3")

            def check_checked(self, status_code, body):
                assert body["name"] == "Milk Frother", body

            @task
            async def failing(self, client):
                client.get("/api/user")

            def check_failing(self, status_code, body):
                assert status_code == 201, f"status was {status_code}"

            @task
            async def fire(self, client):
                client.get("/health")
                client.batch([{"path": "/api/orders"}, {"path": "/api/products"}])

            @task
            async def raises(self, client):
                client.get("/api/products/4")
                raise RuntimeError("after sending")
        """)
    proc, r = run_json(path, api.url, tmp_path, "--seed", "11")
    routes = api.stats()["routes"]
    checked, failing, fire, raises = (task_row(r, n)
                                      for n in ("checked", "failing", "fire", "raises"))
    assert checked["iterations"] + failing["iterations"] + fire["iterations"] \
        + raises["iterations"] == 24
    assert min(checked["iterations"], failing["iterations"], fire["iterations"],
               raises["iterations"]) > 0
    # Every request sent is counted, in its task's row.
    assert r["requests"] == api.stats()["total"]
    assert checked["requests"] == checked["iterations"]
    assert failing["requests"] == routes["GET /api/user"] == failing["iterations"]
    assert fire["requests"] == 3 * fire["iterations"] == 3 * routes["GET /health"]
    assert raises["requests"] == raises["iterations"]
    assert task_row(r, "on_start")["requests"] == routes["POST /auth/login"] >= 1
    # The checks ran on those responses: one passes, one fails every time.
    assert checked["errors"] == 0
    messages = {(e["kind"], e["message"]): e["count"] for e in r["top_errors"]}
    assert messages[("check_failed", f"check_failing (task failing) {path}:21: "
                                     "AssertionError: status was 200")] == \
        failing["iterations"]
    assert messages[("exception", f"{path}:31: RuntimeError: after sending")] == \
        raises["iterations"]
    assert r["errors_by_kind"]["check_failed"] == failing["iterations"]
    # The iteration lasts until its responses are in (100 ms each here).
    assert fire["iteration"]["min_ms"] >= 90, fire["iteration"]


KEYWORDS = """
    from loadpilot import scenario, task

    @scenario(5, "1s", ramp_up=0, mode="constant")
    class Keywords:
        @task
        def every_keyword(self, client):
            client.get("/api/products", params={"page": 2}, cookies={"pref": "dark"},
                       timeout=5)
            client.post("/api/orders", json={"item": 1})
            client.post("/auth/login", data={"user": "u", "pass": "p"})
            client.put("/api/orders", content=b"\\x00\\xffraw",
                       headers={"Content-Type": "application/octet-stream"})
            client.post("/api/orders", data={"k": "v"},
                        files={"f": ("a.bin", b"\\x00\\x01\\x02"), "g": "text"})
            client.get("/api/user", auth=("alice", "pw"), follow_redirects=False)
"""


def test_httpx_keywords_reach_the_server_encoded(recording_server, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(KEYWORDS), recording_server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert r["errors"] == 0, r["top_errors"]
    seen = Recorder.seen
    assert r["requests"] == len(seen) == 6 * 5
    # One iteration's six requests, in order (each VUser runs them one by one).
    by_kind = {}
    for method, path, headers, body in seen:
        by_kind.setdefault((method, path.split("?")[0], headers.get("Content-Type")), []).append(
            (path, headers, body))
    (products,) = {p for p, _, _ in by_kind[("GET", "/api/products", None)]}
    assert products == "/api/products?page=2"
    assert all(h.get("Cookie") == "pref=dark" for _, h, _ in by_kind[("GET", "/api/products", None)])
    assert {b for _, _, b in by_kind[("POST", "/api/orders", "application/json")]} == \
        {b'{"item": 1}'}
    assert {b for _, _, b in by_kind[("POST", "/auth/login",
                                      "application/x-www-form-urlencoded")]} == \
        {b"user=u&pass=p"}
    assert {b for _, _, b in by_kind[("PUT", "/api/orders", "application/octet-stream")]} == \
        {b"\x00\xffraw"}
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert {h.get("Authorization") for _, h, _ in by_kind[("GET", "/api/user", None)]} == {basic}
    uploads = [(h, b) for m, p, h, b in seen if m == "POST" and
               h.get("Content-Type", "").startswith("multipart/form-data; boundary=")]
    assert len(uploads) == 5
    for headers, body in uploads:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body)
        assert [(p.get_param("name", header="content-disposition"), p.get_filename(),
                 p.get_payload(decode=True)) for p in message.iter_parts()] == \
            [("k", None, b"v"), ("f", "a.bin", b"\x00\x01\x02"), ("g", "upload", b"text")]


def test_httpx_keywords_are_counted_by_demo_api(demo_api, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(KEYWORDS), demo_api.url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    routes = demo_api.stats()["routes"]
    assert routes["GET /api/products"] == routes["GET /api/user"] == 5
    assert routes["POST /api/orders"] == 10 and routes["POST /auth/login"] == 5
    assert r["requests"] == demo_api.stats()["total"] == 30


def test_unknown_keyword_is_reported_at_the_scenario_line(demo_api, scenario_file, tmp_path):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5, duration="1s", ramp_up=0, mode="constant")
        class Typo(VUser):
            @task
            def product(self, client):
                client.get("/api/products/1")
                client.get("/api/products/2", verify=False)
        """)
    proc, r = run_json(path, demo_api.url, tmp_path)
    messages = {(e["kind"], e["message"]): e["count"] for e in r["top_errors"]}
    assert messages == {("exception", f"{path}:9: TypeError: client.get() got an unexpected "
                                      "keyword argument 'verify'"): 5}
    # The call before the typo went out and is counted; the bad one never left.
    assert demo_api.stats()["routes"]["GET /api/products/{id}"] == 5
    assert r["requests"] == demo_api.stats()["total"] == 5
