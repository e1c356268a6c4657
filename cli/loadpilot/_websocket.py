"""WebSocket connections for the Python VUser runtime (docs/protocols.md#websocket).

A task opens one with ``client.websocket(path)``; the connection itself is
the engine's (engine/scenario/websocket_hub.h, Boost.Beast on the Python
thread's event loop). A :class:`WebSocketPump` (one per run) turns a call
into an operation of the engine's hub, waits for its event, and measures:

* the open (TCP connect, TLS, upgrade) is a request of the task, also
  counted in the task's sub-row ``"<name> connect"`` (``"ws connect"``
  without ``name=``);
* a ``recv`` that follows one or more ``send`` calls is a round trip, a
  request of the task (and of its ``name=`` sub-row), from the first of
  those sends to the message's arrival;
* failures are requests that failed, by kind: ``connect`` (the upgrade was
  refused or the connection could not be made), ``timeout``, ``reset`` (the
  peer closed), ``protocol`` (bad framing, a message over ``max_message``).

Messages, bytes and closes by code are counted by the engine as they
happen."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import greenlet

__all__ = [
    "AsyncWebSocket",
    "WebSocket",
    "WebSocketClosed",
    "WebSocketError",
    "WebSocketPump",
    "WebSocketTimeout",
]

# Operation codes of the engine's events (WebSocketHub::Op).
_OPEN, _SEND, _RECV, _CLOSE = 0, 1, 2, 3
DEFAULT_RECV_TIMEOUT = 30.0
NORMAL_CLOSE = 1000
# Handed to a recv still waiting when its task closes the connection.
_LOCAL_CLOSE = (4, 0, _RECV, "closed", "", b"", False, 0, 0, 0)


class WebSocketError(Exception):
    """A WebSocket operation failed. ``kind`` is the error kind it is
    counted under (``connect``, ``timeout``, ``reset``, ``protocol``), or
    None when it was not counted as an error (a normal close by the peer).
    ``code`` is the HTTP status of a refused upgrade, or the close code."""

    def __init__(self, message: str, kind: Optional[str] = None, code: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        # Already counted as a failed request: the runtime does not count
        # the exception again when the task lets it through.
        self._loadpilot_counted = kind is not None


class WebSocketClosed(WebSocketError):
    """The connection is closed (by the peer, or after an error)."""


class WebSocketTimeout(WebSocketError, TimeoutError):
    """No message came within ``recv``'s timeout, or the open took too long."""


_Message = Union[str, bytes]


class _Socket:
    """One connection's state on the Python side."""

    __slots__ = (
        "sid", "row", "named", "connect_named", "url", "open", "error", "reading", "inbox",
        "waiter", "timer", "sent_us", "closing",
    )

    def __init__(self, sid: int, url: str) -> None:
        self.sid = sid
        self.url = url
        self.row = 0
        self.named = -1  # the sub-row of round trips (name=), -1: none
        self.connect_named = -1
        self.open = False
        self.error: Optional[WebSocketError] = None  # the connection ended with this
        self.reading = False  # a receive is pending in the engine
        self.inbox: Optional[Tuple[Any, ...]] = None  # its event, when nobody waited
        self.waiter: Any = None  # gets the next event of this socket (or a timeout)
        self.timer: Any = None
        # When the first send since the last received message went out (us
        # since the run's start): a round trip is measured from it.
        self.sent_us: Optional[int] = None
        self.closing = False  # close() was called


class WebSocketPump:
    """The WebSocket connections of one run, on the runtime's thread.

    HUB is the engine's hub (its ``websockets`` and its recording calls),
    LOOP the run's asyncio loop, MAIN the loop's greenlet; STATIC_NAMES and
    NAMED_ROWS are the RequestPump's (a literal ``name=`` gets a sub-row,
    asked once)."""

    def __init__(
        self,
        hub: Any,
        loop: asyncio.AbstractEventLoop,
        main: Any,
        base_url: str,
        static_names: Any,
        named_rows: Dict[Tuple[int, str], int],
    ) -> None:
        self.hub = hub
        self.engine = getattr(hub, "websockets", None)  # absent from test stand-ins
        self.loop = loop
        self.main = main
        self.base_url = base_url
        self.static_names = static_names
        self.named_rows = named_rows
        self.sockets: Dict[int, _Socket] = {}
        # Set when the run ends and its parked iterations are being ended:
        # the engine has dropped every connection, so a close (from a `with`
        # block's exit, say) must not wait for an answer that cannot come;
        # a greenlet that waited then would stay suspended for good.
        self.ending = False

    def end_run(self) -> None:
        """The run is over: closes no longer wait, and nothing may suspend."""
        self.ending = True

    def shutdown(self) -> None:
        """The run ended (the engine has ended every connection)."""
        self.sockets.clear()
        self.main = None

    # --- events from the engine -------------------------------------------

    def completed(self, event: Tuple[Any, ...]) -> None:
        """(4, socket, op, kind, message, data, binary, code, started_us, done_us)."""
        sock = self.sockets.get(event[1])
        if sock is None:
            return  # aborted: nobody waits
        op = event[2]
        if op == _SEND:  # a send failed: the next call on it reports it
            if sock.error is None:
                sock.error = _error(event, sock.url)
            sock.open = False
            if sock.waiter is None:
                return
        if op == _RECV:
            sock.reading = False
            if sock.waiter is None:
                sock.inbox = event
                return
        if op == _CLOSE:
            self.sockets.pop(sock.sid, None)
        self._wake(sock, event)

    def _wake(self, sock: _Socket, event: Any) -> None:
        waiter, sock.waiter = sock.waiter, None
        if sock.timer is not None:
            sock.timer.cancel()
            sock.timer = None
        if waiter is not None:
            waiter(event)

    # --- waiting ----------------------------------------------------------

    def _wait(self, sock: _Socket, is_async: bool) -> Any:
        """Sync: suspends this greenlet until the socket's next event and
        returns it. Async: returns a future of it."""
        if is_async:
            future = self.loop.create_future()

            def deliver(event: Any) -> None:
                if not future.done():
                    future.set_result(event)

            sock.waiter = deliver
            return future
        if self.ending:
            raise greenlet.GreenletExit()
        me = greenlet.getcurrent()
        if me is self.main:
            raise RuntimeError(
                "a plain WebSocket call cannot run here; in an async task use "
                "`async with client.websocket(...)` and `await ws.recv()`"
            )
        sock.waiter = me.switch
        return self.main.switch()

    # --- measuring --------------------------------------------------------

    def _base(self, vu: Any) -> Tuple[int, int]:
        """(row, latency base) of a call made now, as RequestPump does: an
        iteration's first call counts from its intended start."""
        it = vu.current
        if it is None:
            return 0, self.hub.now_us()
        if it.first_sent:
            return it.row, self.hub.now_us()
        it.first_sent = True
        return it.row, it.start_us

    def _named(self, row: int, name: Optional[str], literal: bool = True) -> int:
        if name is None or (literal and name not in self.static_names):
            return -1
        named = self.named_rows.get((row, name), -1)
        if named < 0:
            named = self.named_rows[(row, name)] = self.hub.named_row(row, name)
        return named

    def _record(self, vu: Any, row: int, named: int, latency: int, kind: Any, message: str) -> None:
        it = vu.current
        if it is not None:
            it.sent = True  # recorded before the iteration ends (the run's books)
        self.hub.record_request(row, named, latency, latency, kind, message)

    # --- operations (called by WebSocket / AsyncWebSocket) ------------------

    def open(
        self,
        vu: Any,
        path: str,
        headers: Sequence[Tuple[str, str]],
        name: Optional[str],
        timeout: Optional[float],
        max_message: Optional[int],
        is_async: bool,
    ) -> Any:
        row, base = self._base(vu)
        url = _ws_url(self.base_url, path)
        sid = self.engine.open(path, list(headers), int(max_message or 0), float(timeout or 0))
        sock = _Socket(sid, url)
        sock.row = row
        sock.named = self._named(row, name)
        sock.connect_named = self._named(
            row, f"{name} connect" if sock.named >= 0 else "ws connect", literal=False
        )
        self.sockets[sid] = sock

        def opened(event: Tuple[Any, ...]) -> _Socket:
            kind, message, status, done_us = event[3], event[4], event[7], event[9]
            self._record(vu, row, sock.connect_named, done_us - base, kind, message or "")
            if kind is not None:
                self.sockets.pop(sid, None)
                self.engine.abort(sid)
                raise _error(event, url)
            sock.open = True
            return sock

        if is_async:
            return _then(self._wait(sock, True), opened)
        return opened(self._wait(sock, False))

    def send(self, vu: Any, sock: _Socket, data: _Message) -> None:
        if sock.error is not None:
            raise sock.error
        if not sock.open:
            raise WebSocketClosed(f"send on a closed WebSocket ({sock.url})")
        if isinstance(data, str):
            payload, binary = data.encode("utf-8"), False
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload, binary = bytes(data), True
        else:
            raise TypeError(f"ws.send() takes str or bytes, not {type(data).__name__}")
        if sock.sent_us is None:
            sock.row, sock.sent_us = self._base(vu)
        self.engine.send(sock.sid, payload, binary)

    def recv(
        self, vu: Any, sock: _Socket, timeout: Optional[float], name: Optional[str], is_async: bool
    ) -> Any:
        if sock.waiter is not None:
            raise RuntimeError(f"another recv already waits on this WebSocket ({sock.url})")
        if sock.error is not None:  # reported (and counted) once, when it happened
            raise sock.error
        if sock.inbox is None:
            if not sock.open:
                raise WebSocketClosed(f"recv on a closed WebSocket ({sock.url})")
            if not sock.reading:
                sock.reading = True
                self.engine.recv(sock.sid)
        it = vu.current
        row = it.row if it is not None else sock.row
        named = self._named(row, name) if name is not None else sock.named
        limit = DEFAULT_RECV_TIMEOUT if timeout is None else float(timeout)

        def received(event: Tuple[Any, ...]) -> _Message:
            return self._received(vu, sock, row, named, event, limit)

        if sock.inbox is not None:  # came while nobody waited
            event, sock.inbox = sock.inbox, None
            if is_async:
                future = self.loop.create_future()
                future.set_result(event)
                return _then(future, received)
            return received(event)
        if limit > 0:
            sock.timer = self.loop.call_later(limit, self._timed_out, sock)
        if is_async:
            return _then(self._wait(sock, True), received)
        return received(self._wait(sock, False))

    def _timed_out(self, sock: _Socket) -> None:
        sock.timer = None
        self._wake(sock, None)  # the engine's receive stays pending for the next recv

    def _received(
        self, vu: Any, sock: _Socket, row: int, named: int, event: Any, limit: float
    ) -> _Message:
        sent_us = sock.sent_us
        if event is _LOCAL_CLOSE:
            sock.sent_us = None
            raise WebSocketClosed(f"the WebSocket was closed while recv waited ({sock.url})")
        if event is None:
            message = f"no WebSocket message within timeout={limit:g}s ({sock.url})"
            if sent_us is not None:
                sock.sent_us = None
                self._record(vu, row, named, self.hub.now_us() - sent_us, "timeout", message)
            else:
                self._record_error(vu, row, "timeout", message)
            raise WebSocketTimeout(message, "timeout")
        kind, code = event[3], event[7]
        if kind is not None:
            error = _error(event, sock.url)
            sock.error = error
            sock.open = False
            normal = kind == "reset" and code == NORMAL_CLOSE
            if sent_us is not None:
                sock.sent_us = None
                self._record(vu, row, named, event[9] - sent_us, kind, event[4])
            elif normal:
                error.kind, error._loadpilot_counted = None, False
            else:
                self._record_error(vu, row, kind, event[4])
            raise error
        if sent_us is not None:  # a round trip
            sock.sent_us = None
            self._record(vu, row, named, event[9] - sent_us, None, "")
        data = event[5]
        return data if event[6] else data.decode("utf-8", "replace")

    def _record_error(self, vu: Any, row: int, kind: str, message: str) -> None:
        self.hub.record_error(row, kind, message)

    def close(self, vu: Any, sock: _Socket, code: int, is_async: bool) -> Any:
        if self.ending:
            self.abort(sock)
        if sock.sid not in self.sockets or sock.closing:
            return _done(None, is_async, self.loop)
        sock.closing = True
        self.engine.close(sock.sid, int(code))
        sock.open = False

        def closed(event: Tuple[Any, ...]) -> None:
            if event is not None and event[3] is not None:  # the peer never answered
                it = vu.current
                self.hub.record_error(it.row if it is not None else sock.row, event[3], event[4])

        if sock.waiter is not None:  # a recv still waits (async): it ends as closed
            self._wake(sock, _LOCAL_CLOSE)
        if is_async:
            return _then(self._wait(sock, True), closed)
        return closed(self._wait(sock, False))

    def abort(self, sock: _Socket) -> None:
        if self.sockets.pop(sock.sid, None) is not None:
            self.engine.abort(sock.sid)
        sock.open = False


def _headers(headers: Any) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    out = []
    for item in items:
        key, value = item
        out.append((str(key), str(value)))
    return out


def open_sync(
    pump: Any, vu: Any, path: str, headers: Any, name: Optional[str], timeout: Optional[float],
    max_message: Optional[int],
) -> "WebSocket":
    """client.websocket() of a plain def task: opens, waiting for the upgrade."""
    ws = pump.websockets
    sock = ws.open(vu, _path(path), _headers(headers), name, timeout, max_message, False)
    return WebSocket(ws, vu, sock)


def open_async(
    pump: Any, vu: Any, path: str, headers: Any, name: Optional[str], timeout: Optional[float],
    max_message: Optional[int],
) -> "AsyncWebSocket":
    """client.websocket() of an async task: the open starts now; await the
    result (or `async with` it)."""
    ws = pump.websockets
    opening = ws.open(vu, _path(path), _headers(headers), name, timeout, max_message, True)
    return AsyncWebSocket(ws, vu, opening)


def _path(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"client.websocket() path must be a str, not {type(path).__name__}")
    return path if path.startswith("/") else "/" + path


class WebSocket:
    """A connection opened by ``client.websocket(path)`` in a plain ``def``
    task. Use it as a context manager (closed on exit), or call
    :meth:`close`."""

    def __init__(self, pump: WebSocketPump, vu: Any, sock: _Socket) -> None:
        self._pump = pump
        self._vu = vu
        self._sock = sock

    @property
    def url(self) -> str:
        return self._sock.url

    def send(self, data: _Message) -> None:
        """Sends a text (str) or binary (bytes) message; returns at once."""
        self._pump.send(self._vu, self._sock, data)

    def recv(self, timeout: Optional[float] = None, *, name: Optional[str] = None) -> _Message:
        """The next message: str for text, bytes for binary. Raises
        WebSocketTimeout after TIMEOUT seconds (default 30) and
        WebSocketClosed when the connection ended."""
        return self._pump.recv(self._vu, self._sock, timeout, name, False)

    def close(self, code: int = NORMAL_CLOSE) -> None:
        """Closes with CODE and waits for the peer's answer (bounded by the
        connection's timeout)."""
        self._pump.close(self._vu, self._sock, code, False)

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *exc: Any) -> None:
        if greenlet.getcurrent() is self._pump.main:
            self._pump.abort(self._sock)
        else:
            self.close()

    def __del__(self) -> None:
        pump = getattr(self, "_pump", None)
        if pump is not None and pump.main is not None:
            pump.abort(self._sock)


class AsyncWebSocket:
    """A connection of an ``async def`` task: ``async with
    client.websocket(path) as ws`` (or ``ws = await client.websocket(path)``),
    then ``ws.send(...)``, ``await ws.recv()``, ``await ws.close()``."""

    def __init__(self, pump: WebSocketPump, vu: Any, opening: Any) -> None:
        self._pump = pump
        self._vu = vu
        self._opening = opening
        self._sock: Optional[_Socket] = None

    async def _open(self) -> "AsyncWebSocket":
        if self._sock is None:
            self._sock = await self._opening
        return self

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> "AsyncWebSocket":
        return await self._open()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return self._ready().url

    def _ready(self) -> _Socket:
        if self._sock is None:
            raise RuntimeError("await the WebSocket (or use `async with`) before using it")
        return self._sock

    def send(self, data: _Message) -> None:
        self._pump.send(self._vu, self._ready(), data)

    async def recv(self, timeout: Optional[float] = None, *, name: Optional[str] = None) -> _Message:
        return await self._pump.recv(self._vu, self._ready(), timeout, name, True)

    async def close(self, code: int = NORMAL_CLOSE) -> None:
        if self._sock is not None:
            await self._pump.close(self._vu, self._sock, code, True)


# --- helpers ------------------------------------------------------------------


def _ws_url(base_url: str, path: str) -> str:
    if base_url.startswith("https://"):
        base = "wss://" + base_url[len("https://"):]
    elif base_url.startswith("http://"):
        base = "ws://" + base_url[len("http://"):]
    else:
        base = base_url
    return base + path


def _error(event: Tuple[Any, ...], url: str) -> WebSocketError:
    kind, message, code = event[3], event[4] or "WebSocket error", event[7]
    if kind == "timeout":
        return WebSocketTimeout(message, kind, code)
    if kind == "reset":
        return WebSocketClosed(message, kind, code)
    return WebSocketError(message, kind, code)


def _then(future: "asyncio.Future[Any]", then: Any) -> "asyncio.Future[Any]":
    """A future of THEN(result of FUTURE); THEN's exception becomes its."""

    async def chain() -> Any:
        return then(await future)

    return future.get_loop().create_task(chain())


def _done(value: Any, is_async: bool, loop: asyncio.AbstractEventLoop) -> Any:
    if not is_async:
        return value
    future = loop.create_future()
    future.set_result(value)
    return future
