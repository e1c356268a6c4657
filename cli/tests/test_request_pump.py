"""RequestPump (_requests.py) on its own: a fake Dispatcher stands for the
engine's hub (the real one is exercised end to end in
engine/tests/e2e/test_vusers.py), a real asyncio loop runs the timeouts,
and each VUser call runs in a greenlet of its own whose parent is the
test's, as the runtime runs them."""

import asyncio
from dataclasses import dataclass
from typing import Any, List, Tuple

import greenlet
import pytest

from loadpilot._redirects import too_many
from loadpilot._requests import RequestPump
from loadpilot._vuser import Iteration, VUserState
from loadpilot.client import BodyTooLarge, Request, Response


@dataclass
class Sent:
    method: str
    path: str
    headers: List[Tuple[str, str]]
    body: bytes
    row: int
    named: int
    base_us: int
    record: bool
    max_body: int
    full_path: bool


class FakeDispatcher:
    """Keeps what it is asked to send and record; its clock stands still
    until a test moves it."""

    def __init__(self) -> None:
        self.clock = 10_000
        self.sent: List[Sent] = []
        self.records: List[Tuple[Any, ...]] = []
        self.named_asked: List[Tuple[int, str]] = []

    def now_us(self) -> int:
        return self.clock

    def send(self, method, path, headers, body, row, named, base_us, record, max_body, full_path):
        self.sent.append(
            Sent(method, path, list(headers), body, row, named, base_us, record, max_body,
                 full_path)
        )
        return len(self.sent)  # ids 1, 2, ...

    def named_row(self, row, name):
        self.named_asked.append((row, name))
        return 40 + len(self.named_asked)

    def record_request(self, row, named, latency_us, service_us, kind, message):
        self.records.append((row, named, latency_us, service_us, kind, message))


def done(rid, status=200, headers=(), body=b"", kind=None, message="", sent_us=-1, done_us=0,
         dropped=None):
    """The hub's event for a finished request (VUserRuntime::Hub::poll)."""
    packed = "".join(f"{k}\0{v}\n" for k, v in headers)
    set_cookie = any(k.lower() == "set-cookie" for k, _ in headers)
    return (1, rid, status, packed, body, kind, message, sent_us, done_us, set_cookie, dropped,
            "1.1")


BASE_URL = "http://t:8080/api"


@pytest.fixture
def hub():
    return FakeDispatcher()


@pytest.fixture
def make_pump(hub, loop):
    def make(follow_redirects=False, max_redirects=10, static_names=()):
        return RequestPump(
            hub,
            loop,
            greenlet.getcurrent(),
            base_url=BASE_URL,
            static_names=frozenset(static_names),
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
        )

    return make


class VUserCall:
    """Runs CALL(vuser) in a VUser's greenlet until it waits for the pump;
    `result` holds what it returned once it is resumed and ends."""

    def __init__(self, pump, call, iteration=None):
        self.vu = VUserState(pump, object())
        self.vu.current = iteration
        self.result: Any = None
        self.ended = False

        def body():
            self.result = call(self.vu)
            self.ended = True

        self.glet = greenlet.greenlet(body)
        self.glet.switch()


def test_a_call_goes_to_the_hub_and_its_response_resumes_the_vuser(make_pump, hub):
    pump = make_pump()
    it = Iteration(2, 500, 0, False)
    request = Request("GET", "/items?id=1", [("X-A", "1")])
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, request), it)
    assert not vu.ended and pump.in_flight() == 1
    # The first call of an iteration is measured from its intended start
    # (lateness counts); the hub records it, as nothing here must judge it.
    assert hub.sent == [Sent("GET", "/items?id=1", [("X-A", "1")], b"", 2, -1, 500, True, 0, False)]
    assert it.first_sent

    pump.completed(done(1, 200, [("Content-Type", "text/plain")], b"ok", sent_us=1_200,
                        done_us=1_700))
    assert vu.ended and pump.in_flight() == 0
    response = vu.result
    assert type(response) is Response
    assert (response.status_code, response.text, response.error) == (200, "ok", None)
    assert response.headers["content-type"] == "text/plain"
    assert response.url == BASE_URL + "/items?id=1"
    assert response.elapsed_ms == 0.5  # the service time, from when it was sent
    assert response.history == []
    assert hub.records == []  # the hub's to record

    # A later call of the same iteration is measured from when it is made.
    VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/again")), it)
    assert hub.sent[1].base_us == -1


def test_a_checked_iteration_keeps_its_records_for_the_check(make_pump, hub):
    pump = make_pump()
    it = Iteration(1, 500, 0, True)
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, Request("POST", "/buy", body=b"{}")), it)
    sent = hub.sent[0]
    assert (sent.record, sent.base_us) == (False, 500)

    pump.completed(done(1, 503, sent_us=900, done_us=1_500))
    response = vu.result
    assert response.status_code == 503 and response.error is None
    # Waiting for check_<task>: not recorded yet, and counted failed.
    assert hub.records == []
    assert it.records == [[1, 1_000, 600, "http_5xx", "HTTP 503", -1]]
    assert it.last == (0, response)
    assert it.failed == [response]


def test_a_plain_call_from_the_loops_own_greenlet_is_refused(make_pump, hub):
    pump = make_pump()
    vu = VUserState(pump, object())
    with pytest.raises(RuntimeError, match=r"await client\.get"):
        pump.call_one(vu, Request("GET", "/x"))
    assert hub.sent == [] and pump.in_flight() == 0


def test_a_timeout_answers_first_and_the_late_response_is_ignored(make_pump, hub, loop):
    pump = make_pump()
    ended = loop.create_future()

    def call(vu):
        response = pump.call_one(vu, Request("GET", "/slow", timeout=0.01))
        ended.set_result(None)
        return response

    vu = VUserCall(pump, call)
    sent = hub.sent[0]
    # A timed call is recorded here, measured from when it was made.
    assert (sent.record, sent.base_us) == (False, 10_000)
    hub.clock = 25_000
    loop.run_until_complete(ended)
    response = vu.result
    message = "no response within timeout=0.01s"
    assert (response.status_code, response.error, response.elapsed_ms) == (0, message, 15.0)
    assert hub.records == [(0, -1, 15_000, 15_000, "timeout", message)]

    pump.completed(done(1, 200, sent_us=10_000, done_us=30_000))
    assert len(hub.records) == 1 and pump.in_flight() == 0


def test_a_response_within_its_timeout_is_recorded_once(make_pump, hub, loop):
    pump = make_pump()
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/fast", timeout=0.01)))
    pump.completed(done(1, 404, sent_us=10_200, done_us=12_000))
    assert vu.result.status_code == 404
    assert hub.records == [(0, -1, 2_000, 1_800, "http_4xx", "HTTP 404")]
    # The loop running past its timeout records nothing more.
    loop.run_until_complete(asyncio.sleep(0.03))
    assert len(hub.records) == 1


def test_async_calls_resolve_their_futures_and_join_the_iteration(make_pump, hub, loop):
    pump = make_pump()
    it = Iteration(0, 500, 0, False)
    vu = VUserState(pump, object())
    vu.current = it
    first = pump.call_async(vu, Request("GET", "/a"))
    second = pump.call_async(vu, Request("GET", "/b"))
    # The iteration waits for them even if its body does not (Runtime._settle).
    assert it.futures == [first, second]
    assert [s.base_us for s in hub.sent] == [500, -1]
    pump.completed(done(2, 201, done_us=900))
    assert second.done() and not first.done()
    assert second.result().status_code == 201
    pump.completed(done(1, 200, done_us=900))
    assert first.result().url == BASE_URL + "/a"


def test_a_batch_returns_its_responses_in_call_order(make_pump, hub):
    pump = make_pump()
    batch = [Request("GET", "/one"), Request("GET", "/two")]
    vu = VUserCall(pump, lambda vu: pump.call(vu, batch))
    assert [s.path for s in hub.sent] == ["/one", "/two"]
    pump.completed(done(2, 202))
    assert not vu.ended  # still waiting for the first
    pump.completed(done(1, 200))
    assert [(r.status_code, r.url) for r in vu.result] == [
        (200, BASE_URL + "/one"),
        (202, BASE_URL + "/two"),
    ]


def test_a_literal_name_counts_in_its_sub_row_asked_for_once(make_pump, hub):
    pump = make_pump(static_names={"item"})
    it = Iteration(3, 0, 0, False)
    for name in ("item", "item", "dynamic-42", None):
        VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/i", name=name)), it)
    assert hub.named_asked == [(3, "item")]
    assert [s.named for s in hub.sent] == [41, 41, -1, -1]


def test_cookies_set_by_a_response_go_with_the_next_calls(make_pump, hub):
    pump = make_pump()
    first = VUserCall(pump, lambda vu: pump.call_one(vu, Request("POST", "/login")))
    pump.completed(done(1, 200, [("Set-Cookie", "sid=abc; Path=/")]))
    assert first.vu.cookies == {"sid": "abc"}

    def two_calls(vu):
        pump.call_one(vu, Request("GET", "/me"))
        return pump.call_one(vu, Request("GET", "/me", cookies=[("sid", "mine")]))

    first.vu.current = None
    again = greenlet.greenlet(two_calls)
    again.switch(first.vu)
    pump.completed(done(2, 200))
    # cookies= of one call win over the jar's, and are not kept in it.
    assert hub.sent[1].headers == [("Cookie", "sid=abc")]
    assert hub.sent[2].headers == [("Cookie", "sid=mine")]
    assert first.vu.cookies == {"sid": "abc"}


def test_a_redirect_is_followed_on_the_origin_each_hop_recorded(make_pump, hub):
    pump = make_pump(follow_redirects=True, static_names={"moved"})
    it = Iteration(1, 100, 0, False)
    call = Request("GET", "/old", name="moved")
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, call), it)
    assert hub.sent[0].record is False  # a redirect is Python's to judge
    pump.completed(done(1, 302, [("Location", "/api/new?x=1")], sent_us=200, done_us=400))
    assert not vu.ended
    # The hop went out by its full path on the origin, in the same row and
    # sub-row...
    hop = hub.sent[1]
    assert (hop.path, hop.row, hop.named, hop.full_path, hop.base_us) == (
        "/api/new?x=1", 1, 41, True, 10_000
    )
    # ...and the redirect is a successful request of its own.
    assert hub.records == [(1, 41, 300, 200, None, "")]

    pump.completed(done(2, 200, body=b"here", sent_us=10_100, done_us=10_600))
    response = vu.result
    assert (response.status_code, response.text) == (200, "here")
    assert response.url == "http://t:8080/api/new?x=1"
    assert [r.status_code for r in response.history] == [302]
    assert hub.records[1] == (1, 41, 600, 500, None, "")


def test_a_redirect_past_the_hop_limit_is_an_error(make_pump, hub):
    pump = make_pump(follow_redirects=True, max_redirects=1)
    it = Iteration(0, 0, 0, False)
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/a")), it)
    pump.completed(done(1, 302, [("Location", "/b")], done_us=100))
    pump.completed(done(2, 302, [("Location", "/c")], done_us=200))
    assert len(hub.sent) == 2
    response = vu.result
    assert response.status_code == 302 and response.error == too_many(1)
    assert hub.records[-1][4:] == ("redirect", too_many(1))
    assert it.failed == [response]


def test_a_redirect_to_another_origin_is_not_followed(make_pump, hub):
    pump = make_pump()
    call = Request("GET", "/a", follow_redirects=True)
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, call))
    pump.completed(done(1, 301, [("Location", "http://elsewhere/a")]))
    assert len(hub.sent) == 1
    assert vu.result.error.startswith("redirect to another origin not followed")
    assert hub.records[0][4] == "redirect"


def test_a_discarded_body_gives_a_response_that_says_why(make_pump, hub):
    pump = make_pump()
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/big", max_body=10)))
    assert hub.sent[0].max_body == 10
    pump.completed(done(1, 200, dropped=("cap", 10, 99)))
    assert vu.result.status_code == 200
    with pytest.raises(BodyTooLarge, match=r"\(99 bytes\) is larger than the 10-byte cap"):
        vu.result.content


def test_close_forgets_the_calls_in_flight(make_pump, hub, loop):
    pump = make_pump()
    vu = VUserState(pump, object())
    future = pump.call_async(vu, Request("GET", "/never"))
    assert pump.in_flight() == 1
    pump.close()
    assert pump.in_flight() == 0 and pump.main is None
    pump.completed(done(1, 200))  # too late: nobody waits any more
    assert not future.done() and hub.records == []



def test_without_a_valid_origin_no_redirect_is_followed(hub, loop):
    pump = RequestPump(hub, loop, greenlet.getcurrent(), base_url="http://t:99999",
                       static_names=frozenset(), follow_redirects=True, max_redirects=10)
    vu = VUserCall(pump, lambda vu: pump.call_one(vu, Request("GET", "/a")))
    pump.completed(done(1, 302, [("Location", "http://t:8080/b")]))
    assert len(hub.sent) == 1
    assert vu.result.error.endswith("is not the run's target (a run sends only to its --target)")
