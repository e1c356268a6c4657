"""Requests in flight for the Python VUser runtime (_runtime.py).

A :class:`RequestPump` sends a LoadClient call through the engine's hub
(a :class:`~loadpilot._hub.Dispatcher`), keeps it until its response or
its timeout, follows redirects, records what the hub leaves to Python, and
turns a finished request into the Response the waiting VUser gets: a plain
``def`` task's greenlet is resumed with it, an ``async def`` task's future
is resolved. ``Runtime`` owns one per run and hands it the hub's finished
requests (:meth:`RequestPump.completed`)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

import greenlet

from ._hub import Dispatcher
from ._redirects import (
    REDIRECT_STATUSES,
    Origin,
    RedirectRefused,
    origin_of,
    redirect_request,
    too_many,
)
from ._vuser import Call, VUserState, Waiter, keep_cookies
from .client import DroppedBodyResponse, Headers, Request, Response

__all__ = ["RequestPump"]

_new_response = object.__new__


class RequestPump:
    """The requests in flight of one run, on the runtime's thread.

    HUB sends and records; LOOP (the run's asyncio loop) runs the timeouts
    and the futures of async calls; MAIN is the loop's greenlet, to which a
    VUser's greenlet switches while its call is in flight. BASE_URL is the
    target (a call's path is appended); a call whose ``name=`` is in
    STATIC_NAMES (the class's literals) is counted in its row's sub-row for
    that name too. FOLLOW_REDIRECTS is the default of calls that do not say
    (docs/scenarios.md#redirects), MAX_REDIRECTS the hop limit of every
    call that follows them; hops stay on BASE_URL's origin."""

    __slots__ = (
        "hub",
        "loop",
        "main",
        "base_url",
        "static_names",
        "follow_redirects",
        "max_redirects",
        "origin",
        "named_rows",
        "pending",
        "websockets",
    )

    def __init__(
        self,
        hub: Dispatcher,
        loop: asyncio.AbstractEventLoop,
        main: Any,
        *,
        base_url: str,
        static_names: FrozenSet[str],
        follow_redirects: bool,
        max_redirects: int,
    ) -> None:
        self.hub = hub
        self.loop = loop
        self.main = main
        self.base_url = base_url
        self.static_names = static_names
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.origin: Optional[Origin]
        try:
            self.origin = origin_of(base_url)
        except ValueError:
            self.origin = None  # no redirect is followed (the plan checked the target)
        # (row, name) -> the hub's sub-row, asked once per pair.
        self.named_rows: Dict[Tuple[int, str], int] = {}
        # The calls in flight by the hub's request id.
        self.pending: Dict[int, Call] = {}
        # The run's WebSocket connections (_websocket.WebSocketPump), set by
        # the runtime: client.websocket() opens them.
        self.websockets: Any = None

    def in_flight(self) -> int:
        """How many requests wait for their response (or timeout)."""
        return len(self.pending)

    def close(self) -> None:
        """The run ended (its loop is closed, its VUsers' greenlets have
        ended): calls still in flight are forgotten, and nothing here keeps
        the run's greenlets alive."""
        self.pending.clear()
        self.main = None

    def _waiting_greenlet(self) -> Any:
        """The greenlet that will wait for a plain (synchronous) call."""
        me = greenlet.getcurrent()
        if me is self.main:
            raise RuntimeError(
                "a plain LoadClient call cannot run here; in an async task use "
                "`await client.get(...)`"
            )
        return me

    def call(self, vu: VUserState, requests: List[Request]) -> List[Response]:
        """Sends REQUESTS and suspends the calling greenlet until all answered."""
        waiter = Waiter(self._waiting_greenlet(), len(requests))
        for slot, request in enumerate(requests):
            self._send(vu, request, waiter, slot)
        return self.main.switch()

    def call_one(self, vu: VUserState, request: Request) -> Response:
        """call() for one request: the response comes straight back through
        the greenlet switch (slot -1), with no Waiter and no lists."""
        self._send(vu, request, self._waiting_greenlet().switch, -1)
        return self.main.switch()

    def call_async(self, vu: VUserState, request: Request) -> "asyncio.Future[Response]":
        """Sends REQUEST for an async task: the future resolves to its
        response; the iteration waits for it even if the body does not."""
        future = self.loop.create_future()

        def deliver(_slot: int, response: Response) -> None:
            if not future.done():
                future.set_result(response)

        self._send(vu, request, deliver, 0)
        it = vu.current
        if it is not None:  # awaited with the iteration (Runtime._settle)
            if it.futures is None:
                it.futures = [future]
            else:
                it.futures.append(future)
        return future

    def _send(
        self,
        vu: VUserState,
        request: Request,
        deliver: Any,
        slot: int,
        hop: Optional[Tuple[Call, str, List[Response]]] = None,
    ) -> None:
        """Sends REQUEST; DELIVER(SLOT, response) (or DELIVER(response) for
        slot -1) gets its response. HOP is set for the next hop of a call
        that follows redirects: (the call it continues, the URL it goes to,
        the redirect responses so far); it is sent by its full path on the
        target's origin, in the same row, measured from now."""
        if hop is None:
            it = vu.current
            if it is not None:
                if it.first_sent:
                    base = -1  # now
                else:
                    it.first_sent = True
                    base = it.start_us  # latency of an iteration's first call counts lateness
                row = it.row
                deferred = it.deferred
            else:
                base = -1
                row = 0
                deferred = False
            named = -1
            name = request.name
            if name is not None and name in self.static_names:
                named = self.named_rows.get((row, name), -1)
                if named < 0:
                    named = self.named_rows[(row, name)] = self.hub.named_row(row, name)
            follow = request.follow_redirects
            if follow is None:
                follow = self.follow_redirects
            url = self.base_url + request.path
        else:
            previous, url, _ = hop
            it = previous.iteration
            row = previous.row
            named = previous.named  # every hop counts in the call's sub-row
            deferred = it is not None and it.deferred
            base = -1
            follow = True
        headers = request.headers
        jar = vu.cookies
        if request.cookies is not None:  # cookies= of this call win over the jar's
            jar = {**jar, **dict(request.cookies)}
        if jar and not any(k.lower() == "cookie" for k, _ in headers):
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            headers = headers + [("Cookie", cookie)]
        timeout = request.timeout
        timed = timeout is not None and timeout > 0
        # The hub records the request when it finishes, unless a check_ is
        # to judge it, a timeout here may answer first, or it may be a
        # redirect that is not followed (an error only Python knows of).
        hub_records = not (deferred or timed or follow)
        if not hub_records and base < 0:
            base = self.hub.now_us()
        rid = self.hub.send(
            request.method,
            request.path,
            headers,
            request.body,
            row,
            named,
            base,
            hub_records,
            request.max_body or 0,
            hop is not None,
        )
        if it is not None:  # after send(): one the engine refused never went out
            it.sent = True
        call = Call(it, row, named, base, deliver, slot, vu, url, hub_records)
        if follow:
            call.request = request
            call.history = [] if hop is None else hop[2]
        self.pending[rid] = call
        if timed:
            call.timer = self.loop.call_later(timeout, self._timed_out, rid, request)

    def _timed_out(self, rid: int, request: Request) -> None:
        call = self.pending.pop(rid, None)
        if call is None:
            return
        now = self.hub.now_us()
        message = f"no response within timeout={request.timeout:g}s"
        response = Response(
            0,
            url=call.url,
            elapsed_ms=(now - call.base_us) / 1000,
            error=message,
            history=call.history,
        )
        self._account(call, response, now - call.base_us, now - call.base_us, "timeout", message)
        if call.iteration is not None:
            call.iteration.note_failed(response)
        _deliver(call, response)

    def completed(self, event: Tuple[Any, ...]) -> None:
        """A request finished: EVENT is the hub's (1, rid, status, headers,
        body, kind, message, sent_us, done_us, set_cookie, dropped,
        http_version). HEADERS
        are the engine's packed string (see Headers._from_raw); SET_COOKIE
        tells whether a Set-Cookie header is among them; DROPPED is None, or
        (why, limit, size) when the body was too large to keep; HTTP_VERSION
        is "1.1" or "2"."""
        (_, rid, status, headers, body, kind, message, sent_us, done_us, set_cookie, dropped,
         http_version) = event
        call = self.pending.pop(rid, None)
        if call is None:  # timed out already
            return
        if call.timer is not None:
            call.timer.cancel()
        latency = done_us - call.base_us if call.base_us >= 0 else 0
        service = done_us - sent_us if sent_us >= 0 else latency
        hdrs = Headers._from_raw(headers)
        if dropped is None:
            response = _new_response(Response)  # Response(...) without keyword parsing
            response.content = body
        else:
            response = _new_response(DroppedBodyResponse)
            response._why = dropped
        response.status_code = status
        response.http_version = http_version
        response.headers = hdrs
        response.url = call.url
        response.elapsed_ms = service / 1000
        response.error = (message or kind) if kind else None
        history = call.history
        response.history = [] if history is None else history
        if kind is None and set_cookie and status < 400:
            keep_cookies(call.vuser.cookies, hdrs)
        if history is not None and kind is None and status in REDIRECT_STATUSES:
            location = hdrs.get("location")
            if location is not None:
                refused = self._follow(call, response, latency, service, location)
                if refused is None:
                    return  # the next hop is on its way
                kind = "redirect"
                message = response.error = refused
        if not call.recorded:  # else the hub has recorded it
            if kind is None and status >= 400:
                kind = "http_5xx" if status >= 500 else "http_4xx"
                message = f"HTTP {status}"
            if kind is None:
                message = ""
            self._account(call, response, latency, service, kind, message)
        if (kind is not None or status >= 400) and call.iteration is not None:
            call.iteration.note_failed(response)
        _deliver(call, response)

    def _follow(
        self, call: Call, response: Response, latency: int, service: int, location: str
    ) -> Optional[str]:
        """RESPONSE to CALL is a redirect to LOCATION: records it (a
        successful request of its own) and sends the next hop, then
        returns None; or returns why it is not followed (the hop limit,
        another origin, a bad Location), leaving it to be recorded as that
        error."""
        history = call.history
        assert history is not None and call.request is not None
        if len(history) >= self.max_redirects:
            return too_many(self.max_redirects)
        try:
            request, url = redirect_request(
                call.request, response.status_code, location, call.url, self.origin
            )
        except RedirectRefused as exc:
            return str(exc)
        try:
            self._send(
                call.vuser, request, call.deliver, call.slot, (call, url, history + [response])
            )
        except ValueError as exc:  # the engine refused to build it (it never should)
            return f"redirect not followed: {exc}"
        it = call.iteration
        if it is not None and it.deferred:
            # Not the iteration's last response: the check judges the last hop.
            it.records.append([call.row, latency, service, None, "", call.named])
        else:
            self.hub.record_request(call.row, call.named, latency, service, None, "")
        return None

    def _account(
        self, call: Call, response: Response, latency: int, service: int, kind: Any, message: str
    ) -> None:
        it = call.iteration
        if it is not None and it.deferred:
            it.records.append([call.row, latency, service, kind, message, call.named])
            it.last = (len(it.records) - 1, response)
        else:
            self.hub.record_request(call.row, call.named, latency, service, kind, message)


def _deliver(call: Call, response: Response) -> None:
    """Hands RESPONSE to whoever waits for CALL: a greenlet's switch (slot
    -1) or a callback taking the slot too."""
    if call.slot < 0:
        call.deliver(response)
    else:
        call.deliver(call.slot, response)
