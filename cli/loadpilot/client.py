"""LoadClient: the HTTP client a task receives.

A task calls ``client.get(...)``, ``client.post(...)`` and friends. The client
only turns the call into a :class:`Request` (query string, body encoding,
headers) and hands it to a *transport*; the transport decides what happens.

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
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple, Union
from urllib.parse import urlencode

__all__ = [
    "Headers",
    "HTTPError",
    "LoadClient",
    "RecordedResponse",
    "RecordingTransport",
    "Request",
    "Response",
    "Transport",
]

HeaderInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]
ParamsInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, None]
DataInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, bytes, None]


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


@dataclass(slots=True)
class Request:
    """One HTTP request, fully encoded.

    ``path`` is relative to the run's target and includes the query string.
    """

    method: str
    path: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    name: Optional[str] = None  # label for statistics; defaults to the task name
    timeout: Optional[float] = None  # seconds; None: the engine's default


class Response:
    """What a client call returns.

    The VUser runtime (_runtime.py) creates these without calling __init__,
    setting the same six attributes: keep the two in step.
    """

    def __init__(
        self,
        status_code: int,
        *,
        headers: Optional[Headers] = None,
        content: bytes = b"",
        url: str = "",
        elapsed_ms: float = 0.0,
        error: Optional[str] = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers if headers is not None else Headers()
        self.content = content
        self.url = url
        self.elapsed_ms = elapsed_ms
        # Set when no response arrived (connect, timeout, reset, protocol);
        # status_code is then 0.
        self.error = error

    @property
    def ok(self) -> bool:
        """False for 4xx and 5xx (the ``requests`` rule) and when no response
        arrived at all."""
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

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: HeaderInput = None,
        params: ParamsInput = None,
        json: Any = None,
        data: DataInput = None,
        timeout: Optional[float] = None,
        name: Optional[str] = None,
    ) -> Response:
        return self._transport.send(
            build_request(
                method,
                path,
                headers=headers,
                params=params,
                json=json,
                data=data,
                timeout=timeout,
                name=name,
            )
        )

    def batch(self, requests: Sequence[Mapping[str, Any]]) -> List[Response]:
        """Sends several requests at once; returns their responses in the
        order given. Each item is a dict with ``method`` (default GET),
        ``path`` and optionally ``headers``, ``params``, ``json``, ``data``,
        ``timeout``, ``name``. Awaitable in an ``async def`` task."""
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

    def get(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("GET", path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("POST", path, **kwargs))

    def put(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("PUT", path, **kwargs))

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("PATCH", path, **kwargs))

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("DELETE", path, **kwargs))

    def head(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("HEAD", path, **kwargs))

    def options(self, path: str, **kwargs: Any) -> Response:
        return self._transport.send(build_request("OPTIONS", path, **kwargs))


_BATCH_KEYS = frozenset({"method", "path", "headers", "params", "json", "data", "timeout", "name"})


def build_request(
    method: str,
    path: str,
    *,
    headers: HeaderInput = None,
    params: ParamsInput = None,
    json: Any = None,
    data: DataInput = None,
    timeout: Optional[float] = None,
    name: Optional[str] = None,
) -> Request:
    """Encodes a call the way ``requests`` does: ``params`` become the query
    string, ``json=`` a JSON body, ``data=`` a form or raw body."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {type(path).__name__}")
    if params is None and json is None and data is None:
        # The common call (a path, perhaps headers): nothing to encode.
        return Request(
            method if method.isupper() else method.upper(),
            path,
            [] if headers is None else _header_pairs(headers),
            b"",
            name,
            timeout,
        )
    # json=None means "no JSON body", as in requests.
    has_json = json is not None
    if has_json and data is not None:
        raise TypeError("pass either json= or data=, not both")

    header_list = _header_pairs(headers)
    url = path
    if params:
        query = params if isinstance(params, str) else urlencode(_pairs(params), doseq=True)
        url = f"{url}{'&' if '?' in url else '?'}{query}"

    body = b""
    if has_json:
        body = _json.dumps(json).encode("utf-8")
        _default_header(header_list, "Content-Type", "application/json")
    elif isinstance(data, bytes):
        body = data
    elif isinstance(data, str):
        body = data.encode("utf-8")
    elif data is not None:
        body = urlencode(_pairs(data), doseq=True).encode("ascii")
        _default_header(header_list, "Content-Type", "application/x-www-form-urlencoded")

    return Request(
        method=method.upper(),
        path=url,
        headers=header_list,
        body=body,
        name=name,
        timeout=timeout,
    )


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


def _pairs(value: Union[Mapping[str, Any], Sequence[Tuple[str, Any]]]) -> List[Tuple[str, Any]]:
    if isinstance(value, Mapping):
        return list(value.items())
    return [(k, v) for k, v in value]


def _header_pairs(headers: HeaderInput) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if type(headers) is dict:  # the usual form, without the generic walk
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in _pairs(headers)]


def _default_header(headers: List[Tuple[str, str]], key: str, value: str) -> None:
    if not any(k.lower() == key.lower() for k, _ in headers):
        headers.append((key, value))


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            try:
                return codecs.lookup(v.strip('"')).name
            except LookupError:
                break
    return "utf-8"
