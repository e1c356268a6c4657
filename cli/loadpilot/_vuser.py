"""Per-VUser state for the Python VUser runtime (_runtime.py): what an
iteration has done, calls in flight, the clients a VUser's tasks receive,
and its cookie jar."""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import textwrap
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .client import Headers, LoadClient, Request, Response

if TYPE_CHECKING:
    from ._requests import RequestPump

__all__ = [
    "AsyncTransport",
    "Call",
    "Iteration",
    "SyncTransport",
    "VUserState",
    "Waiter",
    "keep_cookies",
    "static_labels",
]


class Iteration:
    """What one running task body (or on_start/on_stop) has done so far."""

    __slots__ = (
        "row", "start_us", "worker", "first_sent", "sent", "deferred", "records", "last",
        "futures", "failed",
    )

    def __init__(self, row: int, start_us: int, worker: int, deferred: bool) -> None:
        self.row = row
        self.start_us = start_us
        self.worker = worker
        self.first_sent = False
        # A request went out for it (RequestPump._send): it reached the
        # wire, which the engine's books check against its requests
        # (docs/output.md#iterations). first_sent is also set by a pause.
        self.sent = False
        # With a check_<task>, request records wait for the check, which
        # decides the fate of the last response.
        self.deferred = deferred
        self.records: List[list] = []
        self.last: Optional[Tuple[int, Response]] = None
        # Futures of the async client calls made so far (None until the
        # first): those the body did not await are waited for when it
        # returns, so that every request sent is counted and checked.
        self.futures: Optional[List["asyncio.Future[Response]"]] = None
        # The responses of this iteration counted as failed requests (None
        # until the first): raising one of them (raise_for_status()) is
        # that same failure, not a second error (Runtime._count_exception).
        self.failed: Optional[List[Response]] = None

    def note_failed(self, response: Response) -> None:
        if self.failed is None:
            self.failed = [response]
        else:
            self.failed.append(response)


class Call:
    __slots__ = (
        "iteration",
        "row",
        "named",
        "base_us",
        "deliver",
        "slot",
        "vuser",
        "url",
        "recorded",
        "timer",
        "request",
        "history",
    )

    def __init__(self, iteration, row, named, base_us, deliver, slot, vuser, url, recorded) -> None:
        self.iteration = iteration
        self.row = row
        self.named = named  # the row's sub-row for a literal name= (hub.named_row), -1: none
        self.base_us = base_us
        self.deliver = deliver
        self.slot = slot
        self.vuser = vuser
        self.url = url
        # True when the hub records the request itself (see RequestPump._send)
        self.recorded = recorded
        self.timer = None
        # A call that follows redirects: its request (the next hop is made
        # from it) and the redirect responses before it, oldest first.
        # None for a call that does not follow them.
        self.request: Optional[Request] = None
        self.history: Optional[List[Response]] = None


class Waiter:
    """A def-task greenlet waiting for `remaining` responses."""

    __slots__ = ("glet", "results", "remaining")

    def __init__(self, glet: Any, n: int) -> None:
        self.glet = glet
        self.results: List[Optional[Response]] = [None] * n
        self.remaining = n

    def __call__(self, slot: int, response: Response) -> None:
        self.results[slot] = response
        self.remaining -= 1
        if self.remaining == 0:
            self.glet.switch(self.results)


class VUserState:
    __slots__ = ("instance", "client", "aclient", "cookies", "started", "current", "glet")

    def __init__(self, pump: "RequestPump", instance: Any) -> None:
        self.instance = instance
        self.client = LoadClient(SyncTransport(pump, self))
        self.aclient = LoadClient(AsyncTransport(pump, self))
        self.cookies: Dict[str, str] = {}
        self.started = False
        self.current: Optional[Iteration] = None
        # The VUser's own greenlet, parked between iterations: a new one per
        # iteration would cost a fresh frame stack (an mmap) every time.
        self.glet: Any = None


class SyncTransport:
    __slots__ = ("_pump", "_vu", "send")

    def __init__(self, pump: "RequestPump", vuser: VUserState) -> None:
        self._pump = pump
        self._vu = vuser
        # send(request) -> Response. A partial, not a method: one Python
        # frame less on every call.
        self.send = functools.partial(pump.call_one, vuser)

    def send_batch(self, requests: List[Request]) -> List[Response]:
        return self._pump.call(self._vu, requests) if requests else []

    def websocket(self, path: str, **options: Any) -> Any:
        from ._websocket import open_sync

        return open_sync(self._pump, self._vu, path, **options)


class AsyncTransport:
    def __init__(self, pump: "RequestPump", vuser: VUserState) -> None:
        self._pump = pump
        self._vu = vuser

    def send(self, request: Request) -> "asyncio.Future[Response]":
        return self._pump.call_async(self._vu, request)

    def send_batch(self, requests: List[Request]) -> "asyncio.Future[List[Response]]":
        return asyncio.gather(*(self._pump.call_async(self._vu, r) for r in requests))

    def websocket(self, path: str, **options: Any) -> Any:
        from ._websocket import open_async

        return open_async(self._pump, self._vu, path, **options)


def keep_cookies(jar: Dict[str, str], headers: Headers) -> None:
    """A small browser-like cookie jar: name=value pairs from Set-Cookie,
    removed again by Max-Age=0 (domain and path are not distinguished)."""
    for value in headers.get_all("set-cookie"):
        first, _, attributes = value.partition(";")
        name, eq, val = first.strip().partition("=")
        if not eq or not name:
            continue
        expired = any(
            a.strip().lower().startswith("max-age=") and a.strip()[8:].strip().lstrip("-").isdigit()
            and int(a.strip()[8:]) <= 0
            for a in attributes.split(";")
        )
        if expired:
            jar.pop(name, None)
        else:
            jar[name] = val.strip()


def static_labels(cls: type) -> List[str]:
    """String literals given as a call's ``name=`` (or a batch item's
    ``"name"``) anywhere in the class: a call with one of these names is
    also counted in a sub-row of its task (docs/scenarios.md#metrics)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return []
    found: Dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    if isinstance(kw.value.value, str):
                        found[kw.value.value] = None
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "name"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found[value.value] = None
    return list(found)
