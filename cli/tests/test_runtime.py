"""The VUser runtime's scheduling, driven by an in-process hub that answers
requests itself (the engine's real hub is exercised end to end in
engine/tests/e2e/test_vusers.py)."""

import json
import os
import select
import threading
import time

import pytest

from loadpilot import _describe
from loadpilot._runtime import Runtime
from loadpilot._vuser import keep_cookies, static_labels
from loadpilot.client import Headers


class FakeHub:
    """Queues events like the engine's hub; answers every request with
    `respond(method, path, headers) -> (status, headers, body)`."""

    workers = 2

    def __init__(self, respond):
        self.respond = respond
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.lock = threading.Lock()
        self.events = []
        self.sent = []
        self.bases = []  # send()'s base_us of each request sent
        self.full_paths = []  # send()'s full_path of each request sent
        self.requests = []
        self.named = []  # (sub-row, kind) of requests counted in a sub-row too
        self.named_keys = {}  # (row, name) -> sub-row
        self.errors = []
        self.iterations = []
        self.wire_iterations = []
        self.started = self.dropped = 0
        self.done_per_worker = {}
        self.users_done = []
        self.finished_flag = threading.Event()
        self.stop_message = None
        self.next_id = 1
        self.t0 = time.monotonic()

    def push(self, event):
        with self.lock:
            self.events.append(event)
        os.write(self.write_fd, b"x")

    def fileno(self):
        return self.read_fd

    def poll(self):
        try:
            os.read(self.read_fd, 65536)
        except BlockingIOError:
            pass
        with self.lock:
            events, self.events = self.events, []
        return events

    def run_io(self, timeout, inner_fd):
        # Its answers come through the pipe, which asyncio's epoll watches.
        with self.lock:
            if self.events:
                timeout = 0
        readable, _, _ = select.select([inner_fd], [], [], None if timeout < 0 else timeout)
        return bool(readable)

    def ready(self):
        with self.lock:
            return bool(self.events)

    def close_io(self):
        pass

    def now_us(self):
        return int((time.monotonic() - self.t0) * 1e6)

    def named_row(self, row, name):
        return self.named_keys.setdefault((row, name), len(self.named_keys))

    def send(self, method, path, headers, body, row, named, base_us, record, max_body=0,
             full_path=False):
        rid = self.next_id
        self.next_id += 1
        self.sent.append((method, path, list(headers), body))
        self.bases.append(base_us)
        self.full_paths.append(full_path)
        answer = self.respond(method, path, dict(headers))
        if answer is not None:  # None: the server never answers
            status, hdrs, content = answer
            now = self.now_us()
            if record:  # the engine's hub records what Python leaves to it
                if status >= 400:
                    kind = "http_5xx" if status >= 500 else "http_4xx"
                    self.requests.append((row, kind, f"HTTP {status}"))
                else:
                    self.requests.append((row, None, ""))
                if named >= 0:
                    self.named.append((named, self.requests[-1][1]))
            # Headers packed as the engine packs them, with its Set-Cookie flag.
            packed = "".join(f"{k}\0{v}\n" for k, v in hdrs)
            set_cookie = any(k.lower() == "set-cookie" for k, _ in hdrs)
            # A body over the cap is discarded, as the engine's client does.
            cap = max_body or 16 * 1024 * 1024
            dropped = None
            if len(content) > cap:
                dropped, content = ("cap", cap, len(content)), b""
            self.push(
                (1, rid, status, packed, content, None, "", now, now, set_cookie, dropped, "1.1")
            )
        return rid

    def record_request(self, row, named, latency, service, kind, message):
        self.requests.append((row, kind, message))
        if named >= 0:
            self.named.append((named, kind))

    def record_iteration(self, row, start_us, wire):
        self.iterations.append(row)
        if wire:
            self.wire_iterations.append(row)

    def record_error(self, row, kind, message):
        self.errors.append((row, kind, message))

    def record_started(self, intended_us):
        self.started += 1

    def record_dropped(self):
        self.dropped += 1

    def flush(self):
        pass

    def iteration_done(self, worker, user):
        self.done_per_worker[worker] = self.done_per_worker.get(worker, 0) + 1
        if user >= 0:
            self.users_done.append(user)

    def end_iteration(self, row, start_us, worker, user, wire):
        self.record_iteration(row, start_us, wire)
        self.iteration_done(worker, user)

    def finished(self):
        self.finished_flag.set()

    def stop_run(self, message):
        self.stop_message = message


def ok_json(method, path, headers):
    return 200, [("Content-Type", "application/json")], json.dumps({"path": path}).encode()


@pytest.fixture
def runtime_for(write_scenario):
    made = []

    def make(source, max_vusers=10, respond=ok_json, closed=False):
        path = write_scenario(source)
        (info,) = json.loads(_describe.describe_file(str(path)))
        tasks = [(t["name"], t["runtime"]) for t in info["tasks"]]
        rt = Runtime(info["name"], str(path), "http://t", tasks, max_vusers, False, closed)
        hub = FakeHub(respond)
        thread = threading.Thread(target=rt.run, args=(hub,), daemon=True)
        thread.start()
        made.append((hub, thread))
        return rt, hub, path

    yield make
    for hub, thread in made:
        hub.push((3,))
        thread.join(5)


def finish(hub):
    hub.push((2, hub.now_us() + 2_000_000))
    assert hub.finished_flag.wait(5)


def wait_for(predicate):
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.005)


SESSION = """
    from loadpilot import VUser, scenario, task

    @scenario(max_vusers=2)
    class S(VUser):
        def on_start(self, client):
            self.me = client.post("/login").json()["path"]

        def on_stop(self, client):
            client.post("/logout")

        @task
        def t(self, client):
            client.get("/item", name="item")

        def check_t(self, status_code, body):
            assert body["path"] == "/item", body
    """


def test_vusers_log_in_once_and_out_once(runtime_for):
    rt, hub, _ = runtime_for(SESSION, max_vusers=3)
    assert rt.extra_labels == ["on_start", "on_stop"]
    for n in range(1, 21):
        hub.push((0, 0, hub.now_us(), 1))
        wait_for(lambda: hub.done_per_worker.get(1) == n)
    finish(hub)
    paths = [s[1] for s in hub.sent]
    # Arrivals one after another: one VUser, reused, serves them all.
    assert paths.count("/login") == paths.count("/logout") == 1
    assert paths.count("/item") == 20
    assert hub.errors == [] and hub.dropped == 0 and hub.started == 20
    # name="item": counted in the task's row, and in its sub-row (0, "item").
    assert [r for r in hub.requests if r[0] == 0] == [(0, None, "")] * 20
    assert hub.named_keys == {(0, "item"): 0}
    assert hub.named == [(0, None)] * 20
    assert hub.iterations == [0] * 20


def test_failed_on_start_is_counted_and_skips_the_task(runtime_for):
    def not_json(method, path, headers):
        return 500, [], b"not json"

    rt, hub, path = runtime_for(SESSION, max_vusers=1, respond=not_json)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    # on_start's json() on "not json" fails: counted, the task did not run.
    assert len(hub.errors) == 1
    row, kind, message = hub.errors[0]
    assert (row, kind) == (1, "exception")
    assert message.startswith(f"{path}:6: JSONDecodeError: ")
    assert [s[1] for s in hub.sent] == ["/login"]
    # The arrival ends in on_start's row, having sent its request.
    assert hub.iterations == hub.wire_iterations == [1]


def test_check_replaces_the_status_rule(runtime_for):
    calls = {"n": 0}

    def answers(method, path, headers):
        calls["n"] += 1
        if path == "/item":
            return 503, [], b"down"
        return ok_json(method, path, headers)

    rt, hub, path = runtime_for(SESSION, respond=answers)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    (item,) = [r for r in hub.requests if r[0] == 0]  # the task row; also sub-row "item"
    assert hub.named == [(0, "check_failed")]
    assert item[1] == "check_failed"
    # The check and its task, then where it failed.
    assert item[2] == ("check_t (task t) "
                       f"{path}:16: TypeError: string indices must be integers, not 'str'")


def test_pool_limit_drops_arrivals_while_busy(runtime_for):
    source = """
        import asyncio
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            async def t(self, client):
                await asyncio.sleep(0.2)
                a, b = await client.batch([{"path": "/a"}, {"path": "/b"}])
                assert (a.json()["path"], b.json()["path"]) == ("/a", "/b")
        """
    rt, hub, _ = runtime_for(source, max_vusers=2)
    for _ in range(5):
        hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 5)
    finish(hub)
    assert hub.started == 2 and hub.dropped == 3
    assert hub.errors == []
    assert sorted(s[1] for s in hub.sent) == ["/a", "/a", "/b", "/b"]


def test_closed_model_runs_each_user_on_its_own_vuser(runtime_for):
    # Arrivals name their user: user 7's iterations always run on user 7's
    # VUser, whichever worker hands them over, and each user logs in once.
    source = """
        import itertools
        from loadpilot import VUser, scenario, task, constant

        numbers = itertools.count()

        @scenario(users=3, wait=constant(0.1))
        class S(VUser):
            def on_start(self, client):
                self.me = next(numbers)
                self.seen = []
                client.post("/login")

            @task
            def t(self, client):
                self.seen.append(1)
                client.get(f"/item/{self.me}/{len(self.seen)}")
        """
    rt, hub, _ = runtime_for(source, max_vusers=3, closed=True)
    for round_ in range(3):
        for user in (7, 11, 15):
            hub.push((0, 0, hub.now_us(), user % 2, user))
        wait_for(lambda: len(hub.users_done) == 3 * (round_ + 1))
    finish(hub)
    assert hub.started == 9 and hub.dropped == 0
    assert sorted(hub.users_done) == sorted([7, 11, 15] * 3)
    assert [m for m, *_ in hub.sent].count("POST") == 3
    items = sorted(p for m, p, *_ in hub.sent if m == "GET")
    # Three VUsers, each with three iterations of its own.
    assert items == sorted(f"/item/{me}/{n}" for me in range(3) for n in (1, 2, 3))
    # (rt.vusers may already be emptied by the finish: by_user is the record.)
    assert len(rt.by_user) == 3


def test_cookie_jar():
    jar = {}
    keep_cookies(jar, Headers([("Set-Cookie", "a=1; Path=/"), ("set-cookie", "b=2")]))
    assert jar == {"a": "1", "b": "2"}
    keep_cookies(jar, Headers([("Set-Cookie", "a=; Max-Age=0"), ("Set-Cookie", "junk")]))
    assert jar == {"b": "2"}


def test_static_labels(write_scenario):
    path = write_scenario("""
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                client.get("/a", name="first")
                client.batch([{"path": "/b", "name": "second"}])
                client.get("/c", name=f"computed{1}")
        """)
    _describe.describe_file(str(path))
    import sys
    cls = sys.modules[_describe.MODULE_NAME].S
    assert static_labels(cls) == ["first", "second"]


def test_per_call_timeout_answers_with_an_error_response(runtime_for):
    source = """
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                r = client.get("/slow", timeout=0.05)
                assert r.status_code == 0 and not r.ok
                r.raise_for_status()
        """
    rt, hub, path = runtime_for(source, respond=lambda *a: None)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    assert hub.requests == [(0, "timeout", "no response within timeout=0.05s")]
    # raise_for_status() of the timed-out response is that same failure.
    assert hub.errors == []


BIG = """
    from loadpilot import BodyTooLarge, VUser, scenario, task

    @scenario
    class S(VUser):
        @task
        def t(self, client):
            r = client.get("/big", max_body=100)
            assert r.status_code == 200 and r.ok
            try:
                r.content
            except BodyTooLarge as e:
                self.seen = (str(e), e.size, e.limit)
            r.json()

        def check_t(self, status_code, body):
            return True
    """


def test_body_over_max_body_raises_when_read(runtime_for):
    def big(method, path, headers):
        return 200, [], b"x" * 1000

    rt, hub, path = runtime_for(BIG, respond=big)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    # The request itself is not an error; reading its body is, with a fix.
    (row, kind, message), = hub.errors
    assert kind == "exception"
    assert message.startswith(f"{path}:13: BodyTooLarge: response body of http://t/big "
                              "(1000 bytes) is larger than the 100-byte cap")
    assert "pass max_body=1048576 (bytes)" in message


def test_check_of_a_discarded_body_fails_with_the_reason(runtime_for):
    source = BIG.replace("r.json()", "pass")
    rt, hub, path = runtime_for(source, respond=lambda m, p, h: (200, [], b"x" * 1000))
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    (_, kind, message), = hub.requests
    assert kind == "check_failed"
    assert "BodyTooLarge" in message and "max_body=" in message


def test_line_break_in_a_header_is_refused_with_file_and_line(runtime_for):
    source = """
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                token = "abc\\r\\nX-Admin: 1"
                client.get("/x", headers={"Authorization": token})
        """
    rt, hub, path = runtime_for(source)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    assert hub.sent == []  # never sent, not even stripped
    assert hub.iterations == [0] and hub.wire_iterations == []  # it never reached the wire
    (_, kind, message), = hub.errors
    assert kind == "exception"
    assert message == (f"{path}:8: ValueError: request header 'Authorization' value "
                       "'abc\\r\\nX-Admin: 1' contains CR, LF or NUL, which is not allowed")


def test_the_hub_is_told_which_iterations_reached_the_wire(runtime_for):
    # The engine checks requests >= iterations that sent one, per task
    # (docs/output.md#iterations): an iteration that only computes or
    # sleeps reached no wire; one that sent, sync or async, did.
    source = """
        import time
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def fetch(self, client):
                client.get("/a")
                client.get("/b")

            @task
            def compute(self, client):
                sum(range(100))

            @task
            def nap(self, client):
                time.sleep(0.001)

            @task
            async def later(self, client):
                await client.get("/c")
        """
    rt, hub, _ = runtime_for(source)
    for task in range(4):
        hub.push((0, task, hub.now_us(), 0))
    wait_for(lambda: len(hub.iterations) == 4)
    finish(hub)
    assert sorted(hub.iterations) == [0, 1, 2, 3]
    assert sorted(hub.wire_iterations) == [0, 3]
    assert hub.errors == []


def test_async_calls_not_awaited_are_waited_for_counted_and_checked(runtime_for):
    source = """
        from loadpilot import scenario, task

        @scenario
        class S:
            async def on_start(self, client):
                client.post("/login")

            @task
            async def t(self, client):
                client.get("/first")
                client.get("/item")

            def check_t(self, status_code, body):
                assert body["path"] == "/first", body["path"]
        """
    rt, hub, path = runtime_for(source, max_vusers=1)
    for n in range(1, 4):
        hub.push((0, 0, hub.now_us(), 0))
        wait_for(lambda: hub.done_per_worker.get(0) == n)
    finish(hub)
    assert [s[1] for s in hub.sent] == ["/login"] + ["/first", "/item"] * 3
    on_start_row = 1
    assert [r for r in hub.requests if r[0] == on_start_row] == [(on_start_row, None, "")]
    # The check saw the last response of each iteration, after the body returned.
    task_rows = [r for r in hub.requests if r[0] == 0]
    assert task_rows == [(0, None, ""), (0, "check_failed",
                                         f"check_t (task t) {path}:14: AssertionError: /item")] * 3
    assert hub.iterations == [0] * 3 and hub.errors == []


REFUSED_LOGIN = """
    from loadpilot import VUser, scenario, task

    @scenario(max_vusers=1)
    class S(VUser):
        def on_start(self, client):
            client.post("/login").raise_for_status()

        @task
        def t(self, client):
            client.get("/item").raise_for_status()
    """


def refuse(method, path, headers):
    return 401, [], b"no"


def test_raise_for_status_on_a_refused_login_is_one_error(runtime_for):
    # The 401 is already a failed request: raising it is the same failure,
    # not a second error of its own.
    rt, hub, path = runtime_for(REFUSED_LOGIN, respond=refuse)
    for n in range(1, 4):
        hub.push((0, 0, hub.now_us(), 0))
        wait_for(lambda: hub.done_per_worker.get(0) == n)
    finish(hub)
    assert hub.requests == [(1, "http_4xx", "HTTP 401")] * 3
    assert hub.errors == []
    assert hub.iterations == [1] * 3  # spent on the failed on_start
    assert [s[1] for s in hub.sent] == ["/login"] * 3


def test_raise_for_status_in_a_task_is_one_error(runtime_for):
    def answers(method, path, headers):
        return (503, [], b"down") if path == "/item" else ok_json(method, path, headers)

    source = REFUSED_LOGIN.replace(
        "client.get(\"/item\").raise_for_status()",
        "client.get(\"/item\").raise_for_status()\n\n"
        "        def check_t(self, status_code, body):\n"
        "            assert status_code == 200")
    for text in (REFUSED_LOGIN, source):
        rt, hub, path = runtime_for(text, respond=answers)
        hub.push((0, 0, hub.now_us(), 0))
        wait_for(lambda: hub.done_per_worker.get(0) == 1)
        finish(hub)
        assert [r for r in hub.requests if r[0] == 0] == [(0, "http_5xx", "HTTP 503")]
        assert hub.errors == []


def test_an_exception_after_a_failed_request_is_still_counted(runtime_for):
    # Only raising the failed response itself is the same failure.
    source = REFUSED_LOGIN.replace(
        "client.get(\"/item\").raise_for_status()",
        "client.get(\"/item\")\n            raise ValueError(\"after a 401\")").replace(
        "client.post(\"/login\").raise_for_status()", "pass")
    rt, hub, path = runtime_for(source, respond=refuse)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.done_per_worker.get(0) == 1)
    finish(hub)
    assert hub.requests == [(0, "http_4xx", "HTTP 401")]
    assert [e[:2] for e in hub.errors] == [(0, "exception")]


SLEEPS = """
    import time
    from time import sleep
    from loadpilot import VUser, scenario, task

    @scenario(max_vusers=2)
    class S(VUser):
        n = 0

        @task
        def t(self, client):
            S.n += 1
            me = S.n
            if me == 1:
                time.sleep(0.3)
            elif me == 2:
                sleep(0)
            client.get(f"/{me}")
    """


def test_time_sleep_in_a_task_pauses_only_its_vuser(runtime_for):
    rt, hub, path = runtime_for(SLEEPS)
    hub.push((0, 0, hub.now_us(), 0))
    hub.push((0, 0, hub.now_us(), 1))
    wait_for(lambda: len(hub.iterations) == 2)
    finish(hub)
    # The first VUser sleeps; the second runs meanwhile and sends first.
    assert [s[1] for s in hub.sent] == ["/2", "/1"]
    assert hub.errors == [] and hub.started == 2
    # A call after a pause is measured from when it is made (-1: now), not
    # from the iteration's start: the pause is not latency.
    assert hub.bases == [-1, -1]


def test_sys_exit_in_a_task_stops_the_run_naming_the_line(runtime_for):
    rt, hub, path = runtime_for("""
        import sys
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                client.get("/")
                sys.exit(3)
        """)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: hub.stop_message is not None)
    finish(hub)
    assert hub.stop_message.startswith(
        f"{path}:9: S.t called sys.exit(3), which would end the LoadPilot process")
    assert [e[:2] for e in hub.errors] == [(0, "exception")]


def test_os_exit_in_a_task_is_refused_and_stops_the_run(runtime_for, monkeypatch):
    import os

    from loadpilot import _guard
    monkeypatch.setattr(os, "_exit", os._exit)  # restored after the test
    monkeypatch.setattr(os, "abort", os.abort)
    _guard.install()
    rt, hub, path = runtime_for("""
        import os
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task
            def t(self, client):
                try:
                    os._exit(0)
                except Exception as e:
                    client.get("/" + type(e).__name__)
        """)
    hub.push((0, 0, hub.now_us(), 0))
    wait_for(lambda: len(hub.iterations) == 1)
    finish(hub)
    # Caught by the task: the run stops all the same.
    assert hub.stop_message.startswith(f"{path}:9: S.t called os._exit(0), which would end")
    assert [s[1] for s in hub.sent] == ["/ProcessExitRefused"]
