"""LoadClient: the HTTP client a task receives.

A task calls ``client.get(...)``, ``client.post(...)`` and friends. The client
only turns the call into a :class:`Request` (_encode.py: query string, body
encoding, headers) and hands it to a *transport*; the transport decides what
happens.

Two kinds of transport exist. The engine's Python VUser runtime
(_runtime.py) sends every call for real and returns a :class:`Response`; in an
``async def`` task its client returns awaitables instead. While a scenario is
loaded, :class:`RecordingTransport` records the one request of a task that is
proven to send a fixed request (so the engine can send it natively) and
answers with a :class:`RecordedResponse`, a harmless placeholder (status 0,
empty body, ``json()`` returns ``{}``, ``ok`` is true and
``raise_for_status()`` does nothing).
"""

from __future__ import annotations

import codecs
import json as _json
from typing import Any, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple

from . import _grpc
from ._encode import _BATCH_KEYS, CALL_KEYWORDS, Request, _refuse_unknown, build_request

__all__ = [
    "BodyTooLarge",
    "CALL_KEYWORDS",
    "Headers",
    "HTTPError",
    "LoadClient",
    "RecordedResponse",
    "RecordingTransport",
    "Request",
    "Response",
    "Transport",
    "build_request",
]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping that keeps repeated headers.

    ``headers["content-type"]`` returns the first value; :meth:`get_all`
    returns every value of a repeated header.
    """

    def __init__(self, items: Sequence[Tuple[str, str]] = ()) -> None:
        self._items: List[Tuple[str, str]] = [(str(k), str(v)) for k, v in items]

    @classmethod
    def _from_raw(cls, raw: str) -> "Headers":
        """Headers from the engine's packed form, ``name\\0value\\n`` per
        header, split only when first read: most responses' headers never
        are, and a load test makes many responses."""
        headers = cls.__new__(cls)
        headers._raw = raw
        return headers

    def __getattr__(self, name: str) -> Any:
        # Only reached while a packed instance has not been split yet.
        if name == "_items":
            raw = self.__dict__.get("_raw")
            if raw is not None:
                items = []
                for line in raw.split("\n")[:-1]:
                    key, _, value = line.partition("\0")
                    items.append((key, value))
                self._items = items
                return items
        raise AttributeError(name)

    def __getitem__(self, key: str) -> str:
        wanted = key.lower()
        for k, v in self._items:
            if k.lower() == wanted:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for k, _ in self._items:
            if k.lower() not in seen:
                seen.add(k.lower())
                yield k

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._items})

    def get_all(self, key: str) -> List[str]:
        wanted = key.lower()
        return [v for k, v in self._items if k.lower() == wanted]

    def items_list(self) -> List[Tuple[str, str]]:
        """Every (name, value) pair in order, repeats included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class HTTPError(Exception):
    """Raised by :meth:`Response.raise_for_status` for 4xx and 5xx answers."""

    def __init__(self, message: str, response: "Response") -> None:
        super().__init__(message)
        self.response = response


# The engine keeps a response body for Python code up to this many bytes
# unless a call passes max_body= (engine/http/response_parser.h,
# kDefaultKeptBody), and all bodies being received at once up to 8 times it.
DEFAULT_MAX_BODY = 16 * 1024 * 1024


class BodyTooLarge(Exception):
    """Raised on reading ``content``, ``text`` or ``json()`` of a response
    whose body was too large to keep. The request itself succeeded: its
    body was read to the end, measured and discarded. ``size`` is the
    body's length in bytes, ``limit`` the limit it passed."""

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class Response:
    """What a client call returns.

    The VUser runtime (_requests.py) creates these without calling
    __init__, setting the same attributes: keep the two in step.
    """

    # "1.1" or "2": the HTTP the response came over (docs/protocols.md).
    http_version = "1.1"

    def __init__(
        self,
        status_code: int,
        *,
        headers: Optional[Headers] = None,
        content: bytes = b"",
        url: str = "",
        elapsed_ms: float = 0.0,
        error: Optional[str] = None,
        history: Optional[List["Response"]] = None,
        http_version: str = "1.1",
    ) -> None:
        self.status_code = status_code
        self.http_version = http_version
        self.headers = headers if headers is not None else Headers()
        self.content = content
        self.url = url
        self.elapsed_ms = elapsed_ms
        # Set when no response arrived (connect, timeout, reset, protocol);
        # status_code is then 0. Also set on a redirect that was not
        # followed (too many, or to another origin), which keeps its status.
        self.error = error
        # The redirect responses that led here, oldest first (as httpx's
        # Response.history); empty unless redirects were followed.
        self.history: List[Response] = list(history) if history else []

    @property
    def ok(self) -> bool:
        """False for 4xx and 5xx (the ``requests`` rule), when no response
        arrived at all, and for a redirect that was not followed."""
        return self.error is None and not 400 <= self.status_code < 600

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers.get("Content-Type", "")), "replace")

    def json(self) -> Any:
        return _loads(self.content)

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise HTTPError(f"{self.error} for url: {self.url}", self)
        if 400 <= self.status_code < 600:
            kind = "Client" if self.status_code < 500 else "Server"
            raise HTTPError(f"{self.status_code} {kind} Error for url: {self.url}", self)

    def __await__(self) -> Iterator[Any]:
        # Awaiting a response that is already complete yields it at once, so
        # code written for async tasks also works with a synchronous client.
        return self
        yield  # pragma: no cover - makes this a generator

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class DroppedBodyResponse(Response):
    """A response whose body was read and discarded for being over a limit
    (see BodyTooLarge). Status, headers and timing are real; reading the
    body raises. The VUser runtime creates these without __init__, setting
    Response's attributes except ``content``, plus ``_why``."""

    _why: Tuple[str, int, int]  # ("cap" or "total", limit, body bytes received)

    @property  # type: ignore[override]
    def content(self) -> bytes:
        why, limit, size = self._why
        if why == "cap":
            raise BodyTooLarge(
                f"response body of {self.url} ({size} bytes) is larger than the {limit}-byte "
                f"cap on a kept body, so it was read and discarded; to keep it, pass "
                f"max_body={_suggest(size)} (bytes) to the client call",
                size,
                limit,
            )
        raise BodyTooLarge(
            f"response body of {self.url} ({size} bytes) was read and discarded: "
            f"the response bodies being received at once reached the client's limit of "
            f"{limit} bytes; keep fewer large responses in flight at once, or pass a "
            f"max_body= larger than {limit} to the call so that this one may use it alone",
            size,
            limit,
        )

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}], body discarded>"


def _suggest(size: int) -> int:
    """A round number of MiB above SIZE."""
    mib = 1024 * 1024
    return (size // mib + 1) * mib


class RecordedResponse(Response):
    """Placeholder answer of the recording transport.

    Status 0, no headers, empty body; ``ok`` is true, ``raise_for_status()``
    does nothing and ``json()`` returns ``{}``, so typical code after a call
    (``r.raise_for_status()``, ``r.json().get(...)``) runs without error.
    """

    def json(self) -> Any:
        return {}


class Transport(Protocol):
    """Carries out requests. Implementations: RecordingTransport and the
    engine's Python VUser runtime (loadpilot._runtime)."""

    def send(self, request: Request) -> Any: ...

    def send_batch(self, requests: List[Request]) -> Any: ...


class RecordingTransport:
    """Remembers every request and answers with a RecordedResponse."""

    def __init__(self) -> None:
        self.requests: List[Request] = []

    def send(self, request: Request) -> Response:
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                "request body is not UTF-8 text; binary bodies are not supported yet"
            ) from None
        self.requests.append(request)
        return RecordedResponse(0, url=request.path)

    def send_batch(self, requests: List[Request]) -> List[Response]:
        return [self.send(r) for r in requests]


class LoadClient:
    """The client passed to every task. Builds requests; a transport sends them."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Sends METHOD PATH; the keywords are those of docs/scenarios.md#loadclient."""
        try:
            request = build_request(method, path, **kwargs)
        except TypeError:
            _refuse_unknown("request", kwargs)
            raise
        return self._transport.send(request)

    def batch(self, requests: Sequence[Mapping[str, Any]]) -> List[Response]:
        """Sends several requests at once; returns their responses in the
        order given. Each item is a dict with ``method`` (default GET),
        ``path`` and optionally any keyword of a single call (``headers``,
        ``params``, ``json``, ...). Awaitable in an ``async def`` task."""
        built = []
        for i, item in enumerate(requests):
            if not isinstance(item, Mapping):
                raise TypeError(f"batch item {i} must be a dict, not {type(item).__name__}")
            unknown = set(item) - _BATCH_KEYS
            if unknown:
                raise TypeError(f"batch item {i}: unknown key(s) {sorted(unknown)}")
            if "path" not in item:
                raise TypeError(f"batch item {i}: 'path' is required")
            args = {k: v for k, v in item.items() if k not in ("method", "path")}
            built.append(build_request(item.get("method", "GET"), item["path"], **args))
        return self._transport.send_batch(built)

    def websocket(
        self,
        path: str,
        *,
        headers: Any = None,
        name: Optional[str] = None,
        timeout: Optional[float] = None,
        max_message: Optional[int] = None,
    ) -> Any:
        """Opens a WebSocket to PATH on the target (ws:// for http://, wss://
        for https://): in a plain def task it returns the open connection
        (``with client.websocket("/ws/chat") as ws:``), in an async task an
        awaitable one (``async with client.websocket(...) as ws:``).
        HEADERS go with the upgrade request; NAME counts the round trips in
        a sub-row of the task (and the open in "NAME connect"); TIMEOUT
        (seconds) limits the open and the close handshake (default: the
        run's --timeout, and 5 s for the close); MAX_MESSAGE is the largest
        message received, in bytes (default 16 MiB).
        See docs/protocols.md#websocket."""
        opener = getattr(self._transport, "websocket", None)
        if opener is None:
            raise RuntimeError("client.websocket() runs only in the VUser runtime")
        return opener(
            path, headers=headers, name=name, timeout=timeout, max_message=max_message
        )

    def grpc(
        self,
        method: str,
        request: Optional[Mapping[str, Any]] = None,
        *,
        proto: str,
        headers: Any = None,
        name: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Calls the unary gRPC METHOD ("package.Service/Method") with
        REQUEST (a dict in protobuf's JSON mapping) over the run's HTTP/2
        connections; PROTO is the .proto file declaring it, relative to the
        scenario file. HEADERS are sent as the call's metadata; NAME and
        TIMEOUT (seconds, also sent as grpc-timeout) as for HTTP calls.
        Returns a GrpcResponse (``.status``, ``.message``, ``.ok``); in an
        async task an awaitable of one. See docs/protocols.md#grpc."""
        call, found = _grpc.build_call(method, request, proto, headers, name, timeout)
        return _grpc.answer(self._transport.send(call), found)

    # Each verb builds its request inline (no shared helper frame: this is
    # the path of every request), and names itself in a keyword error.
    def get(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("GET", path, **kwargs)
        except TypeError:
            _refuse_unknown("get", kwargs)
            raise
        return self._transport.send(request)

    def post(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("POST", path, **kwargs)
        except TypeError:
            _refuse_unknown("post", kwargs)
            raise
        return self._transport.send(request)

    def put(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("PUT", path, **kwargs)
        except TypeError:
            _refuse_unknown("put", kwargs)
            raise
        return self._transport.send(request)

    def patch(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("PATCH", path, **kwargs)
        except TypeError:
            _refuse_unknown("patch", kwargs)
            raise
        return self._transport.send(request)

    def delete(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("DELETE", path, **kwargs)
        except TypeError:
            _refuse_unknown("delete", kwargs)
            raise
        return self._transport.send(request)

    def head(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("HEAD", path, **kwargs)
        except TypeError:
            _refuse_unknown("head", kwargs)
            raise
        return self._transport.send(request)

    def options(self, path: str, **kwargs: Any) -> Response:
        try:
            request = build_request("OPTIONS", path, **kwargs)
        except TypeError:
            _refuse_unknown("options", kwargs)
            raise
        return self._transport.send(request)


_scan_json = _json.JSONDecoder().scan_once  # the C scanner json.loads ends up in
_JSON_SPACE = " \t\n\r"


def _loads(content: bytes) -> Any:
    """``json.loads(content)``, minus its encoding detection and regular
    expression passes for the usual body: UTF-8 that starts with ``{`` or
    ``[``. Anything else, and every error, goes through json.loads itself,
    so results and error messages are the same."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _json.loads(content)
    if text[:1] in ("{", "["):
        try:
            value, end = _scan_json(text, 0)
        except (StopIteration, ValueError):
            return _json.loads(content)
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return value
    return _json.loads(content)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            try:
                return codecs.lookup(v.strip('"')).name
            except LookupError:
                break
    return "utf-8"
