"""WebSocketPump (_websocket.py) on its own: a fake hub and a fake engine
stand for VUserRuntime::Hub and its WebSocketHub (the real ones run end to
end in engine/tests/e2e/test_websocket.py); each VUser call runs in a
greenlet whose parent is the test's, as the runtime runs them."""

import asyncio
from types import SimpleNamespace
from typing import Any, List, Tuple

import greenlet
import pytest

from loadpilot._vuser import Iteration
from loadpilot._websocket import (
    WebSocket,
    WebSocketClosed,
    WebSocketPump,
    WebSocketTimeout,
    _OPEN,
    _RECV,
    _SEND,
)


class FakeEngine:
    """Keeps the operations asked of it; the test answers them."""

    def __init__(self) -> None:
        self.ops: List[Tuple[Any, ...]] = []

    def open(self, path, headers, max_message, timeout):
        self.ops.append(("open", path, headers, max_message, timeout))
        return 7

    def send(self, sid, data, binary):
        self.ops.append(("send", sid, data, binary))

    def recv(self, sid):
        self.ops.append(("recv", sid))

    def close(self, sid, code):
        self.ops.append(("close", sid, code))

    def abort(self, sid):
        self.ops.append(("abort", sid))


class FakeHub:
    def __init__(self) -> None:
        self.websockets = FakeEngine()
        self.clock = 1_000
        self.records: List[Tuple[Any, ...]] = []
        self.errors: List[Tuple[Any, ...]] = []

    def now_us(self):
        return self.clock

    def named_row(self, row, name):
        return {"chat": 41, "chat connect": 42, "ws connect": 43}[name]

    def record_request(self, row, named, latency_us, service_us, kind, message):
        self.records.append((row, named, latency_us, kind, message))

    def record_error(self, row, kind, message):
        self.errors.append((row, kind, message))


def event(op, kind=None, message="", data=b"", binary=False, code=0, started=0, done=0):
    return (4, 7, op, kind, message, data, binary, code, started, done)


@pytest.fixture
def hub():
    return FakeHub()


@pytest.fixture
def pump(hub, loop):
    return WebSocketPump(hub, loop, greenlet.getcurrent(), "http://t:1", frozenset({"chat"}), {})


class Task:
    """Runs BODY(vu) in a VUser greenlet until it waits."""

    def __init__(self, pump, body, iteration):
        self.vu = SimpleNamespace(current=iteration)  # what the pump reads of a VUser
        self.result: Any = None
        self.error: Any = None

        def run():
            try:
                self.result = body(self.vu)
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                self.error = exc

        greenlet.greenlet(run).switch()


def opened(pump, hub, iteration, name="chat"):
    """An open WebSocket (its open answered at 1500 us)."""
    holder = {}

    def body(vu):
        holder["ws"] = WebSocket(pump, vu, pump.open(vu, "/ws", [], name, None, None, False))

    Task(pump, body, iteration)
    pump.completed(event(_OPEN, code=101, started=1_000, done=1_500))
    return holder["ws"]


def test_open_is_a_request_from_the_intended_start_in_its_connect_row(pump, hub):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    assert hub.websockets.ops[0] == ("open", "/ws", [], 0, 0.0)
    assert hub.records == [(3, 42, 1_100, None, "")]  # from 400 (intended) to 1500
    assert it.sent and ws.url == "ws://t:1/ws"


def test_a_round_trip_runs_from_the_first_send_to_the_answer(pump, hub):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    hub.clock = 2_000
    task = Task(pump, lambda vu: (ws.send("a"), ws.send(b"b"), ws.recv(timeout=5))[2], it)
    assert hub.websockets.ops[1:] == [("send", 7, b"a", False), ("send", 7, b"b", True),
                                      ("recv", 7)]
    pump.completed(event(_RECV, data=b"a", done=2_700))
    assert task.result == "a"
    assert hub.records[-1] == (3, 41, 700, None, "")  # one round trip, from the first send
    # A message nobody asked for: counted by the engine, no request here.
    task = Task(pump, lambda vu: ws.recv(timeout=5), it)
    pump.completed(event(_RECV, data=b"\x01", binary=True, done=3_000))
    assert task.result == b"\x01" and len(hub.records) == 2


def test_a_recv_timeout_is_counted_once_and_the_read_stays_pending(pump, hub, loop):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    hub.clock = 2_000
    task = Task(pump, lambda vu: (ws.send("a"), ws.recv(timeout=0.01))[1], it)
    hub.clock = 12_000
    loop.run_until_complete(asyncio.sleep(0.05))
    assert isinstance(task.error, WebSocketTimeout) and task.error._loadpilot_counted
    assert hub.records[-1][3:] == ("timeout", "no WebSocket message within timeout=0.01s "
                                              "(ws://t:1/ws)")
    assert hub.records[-1][2] == 10_000
    # The late answer waits for the next recv, which takes it without a
    # second read and without counting a round trip.
    pump.completed(event(_RECV, data=b"late", done=12_500))
    task = Task(pump, lambda vu: ws.recv(timeout=5), it)
    assert task.result == "late"
    assert [op for op in hub.websockets.ops if op[0] == "recv"] == [("recv", 7)]
    assert len(hub.records) == 2


def test_a_peer_close_fails_the_round_trip_and_later_calls_alike(pump, hub):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    task = Task(pump, lambda vu: (ws.send("a"), ws.recv())[1], it)
    pump.completed(event(_RECV, "reset", "WebSocket closed by peer (code 1001)", code=1001,
                         done=2_000))
    assert isinstance(task.error, WebSocketClosed) and task.error.code == 1001
    assert hub.records[-1][3] == "reset"
    again = Task(pump, lambda vu: ws.recv(), it)
    assert again.error is task.error and len(hub.records) == 2  # not counted again
    with pytest.raises(WebSocketClosed):
        ws.send("b")


def test_a_normal_close_with_nothing_asked_is_no_error(pump, hub):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    task = Task(pump, lambda vu: ws.recv(), it)
    pump.completed(event(_RECV, "reset", "WebSocket closed by peer (code 1000)", code=1000))
    assert isinstance(task.error, WebSocketClosed) and task.error.kind is None
    assert len(hub.records) == 1 and hub.errors == []


def test_a_failed_send_is_reported_by_the_next_call(pump, hub):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    Task(pump, lambda vu: ws.send("a"), it)
    pump.completed(event(_SEND, "reset", "WebSocket connection closed by peer without a "
                                         "close frame", code=1006))
    task = Task(pump, lambda vu: ws.recv(), it)
    assert isinstance(task.error, WebSocketClosed)
    assert ("recv", 7) not in hub.websockets.ops


def test_a_refused_open_raises_and_frees_the_engine_side(pump, hub):
    it = Iteration(3, 400, 0, False)
    task = Task(pump, lambda vu: pump.open(vu, "/ws", [], None, None, None, False), it)
    pump.completed(event(_OPEN, "connect", "WebSocket upgrade refused: HTTP 403 ws://t:1/ws",
                         code=403, done=1_200))
    assert task.error.kind == "connect" and task.error.code == 403
    assert hub.records == [(3, 43, 800, "connect",
                            "WebSocket upgrade refused: HTTP 403 ws://t:1/ws")]
    assert hub.websockets.ops[-1] == ("abort", 7)


def test_a_second_close_or_a_second_waiting_recv_cannot_strand_the_first(pump, hub, loop):
    it = Iteration(3, 400, 0, False)
    ws = opened(pump, hub, it)
    first = pump.recv(SimpleNamespace(current=it), ws._sock, 5, None, True)
    with pytest.raises(RuntimeError, match="another recv already waits"):
        pump.recv(SimpleNamespace(current=it), ws._sock, 5, None, True)
    closing = pump.close(SimpleNamespace(current=it), ws._sock, 1000, True)
    again = pump.close(SimpleNamespace(current=it), ws._sock, 1000, True)
    assert [op for op in hub.websockets.ops if op[0] == "close"] == [("close", 7, 1000)]
    pump.completed(event(3, code=1000))
    loop.run_until_complete(asyncio.wait([closing, again]))
    assert closing.result() is None and again.result() is None
    with pytest.raises(WebSocketClosed, match="closed while recv waited"):
        loop.run_until_complete(first)
