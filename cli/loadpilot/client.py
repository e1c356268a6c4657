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

import base64
import codecs
import json as _json
import mimetypes
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple, Union
from urllib.parse import urlencode

__all__ = [
    "BodyTooLarge",
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
CookieInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]


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
    max_body: Optional[int] = None  # bytes of body to keep; None: DEFAULT_MAX_BODY
    # cookies= of this call: sent with the VUser's jar (winning over its
    # entries of the same name), not kept in it
    cookies: Optional[List[Tuple[str, str]]] = None


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


# The keywords of a client call (build_request's), in the order of the docs.
CALL_KEYWORDS = (
    "params",
    "headers",
    "json",
    "data",
    "content",
    "files",
    "cookies",
    "auth",
    "timeout",
    "follow_redirects",
    "name",
    "max_body",
)


def _refuse_unknown(method: str, kwargs: Mapping[str, Any]) -> None:
    """Raises Python's own TypeError for a keyword call, named after the
    client method the scenario called rather than build_request."""
    for key in kwargs:
        if key not in _CALL_KEYWORDS:
            raise TypeError(f"client.{method}() got an unexpected keyword argument {key!r}")


_CALL_KEYWORDS = frozenset(CALL_KEYWORDS)
_BATCH_KEYS = _CALL_KEYWORDS | {"method", "path"}


def build_request(
    method: str,
    path: str,
    *,
    params: ParamsInput = None,
    headers: HeaderInput = None,
    json: Any = None,
    data: DataInput = None,
    content: Union[str, bytes, None] = None,
    files: Any = None,
    cookies: CookieInput = None,
    auth: Any = None,
    timeout: Optional[float] = None,
    follow_redirects: Optional[bool] = None,
    name: Optional[str] = None,
    max_body: Optional[int] = None,
) -> Request:
    """Encodes a call the way httpx does: ``params`` become the query
    string, ``json=`` a JSON body, ``data=`` a form (or, as with requests,
    a raw ``str``/``bytes`` body), ``content=`` a raw body, ``files=`` a
    multipart/form-data body (with ``data=``'s fields), ``auth=(user,
    password)`` a basic Authorization header.

    Raises ValueError for what would change the request's framing: a CR or
    LF (or NUL) in the path or a header, a space in the path, a method or
    header name that is not a token."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {type(path).__name__}")
    if max_body is not None:
        _check_max_body(max_body)
    if timeout is not None:
        _check_timeout(timeout)
    if follow_redirects:
        raise NotImplementedError(
            "follow_redirects=True is not supported: LoadPilot does not follow redirects "
            "(a 3xx response is a result like any other); request the Location yourself"
        )
    if (
        params is None
        and json is None
        and data is None
        and content is None
        and files is None
        and cookies is None
        and auth is None
    ):
        # The common call (a path, perhaps headers): nothing to encode.
        method = method if method.isupper() else method.upper()
        if method not in _good_tokens or " " in path or not path.isprintable():
            _check_request(method, path, [])
        if headers is None:
            return Request(method, path, [], b"", name, timeout, max_body)
        header_list = _header_pairs(headers)
        _check_headers(header_list)
        return Request(method, path, header_list, b"", name, timeout, max_body)
    # json=None means "no JSON body", as in requests and httpx.
    bodies = [k for k, v in (("json", json), ("content", content)) if v is not None]
    if data is not None and files is None:
        bodies.append("data")
    if files is not None:
        bodies.append("files")
    if len(bodies) > 1:
        raise TypeError(
            f"pass one request body, not {' and '.join(k + '=' for k in bodies)} "
            "(data= goes with files= as the form's fields)"
        )

    header_list = _header_pairs(headers)
    url = path
    if params:
        query = params if isinstance(params, str) else urlencode(_pairs(params), doseq=True)
        url = f"{url}{'&' if '?' in url else '?'}{query}"

    body = b""
    if json is not None:
        body = _json.dumps(json).encode("utf-8")
        _default_header(header_list, "Content-Type", "application/json")
    elif content is not None:
        if isinstance(content, str):
            body = content.encode("utf-8")
        elif isinstance(content, (bytes, bytearray, memoryview)):
            body = bytes(content)
        else:
            raise TypeError(f"content= must be str or bytes, got {type(content).__name__}")
    elif files is not None:
        body, content_type = _multipart(data, files)
        _default_header(header_list, "Content-Type", content_type)
    elif isinstance(data, bytes):
        body = data
    elif isinstance(data, str):
        body = data.encode("utf-8")
    elif data is not None:
        body = urlencode(_pairs(data), doseq=True).encode("ascii")
        _default_header(header_list, "Content-Type", "application/x-www-form-urlencoded")

    if auth is not None:
        header_list = [(k, v) for k, v in header_list if k.lower() != "authorization"]
        header_list.append(("Authorization", _basic_auth(auth)))

    cookie_list = None
    if cookies is not None:
        cookie_list = _cookie_pairs(cookies)

    method = method.upper()
    _check_request(method, url, header_list)
    return Request(
        method=method,
        path=url,
        headers=header_list,
        body=body,
        name=name,
        timeout=timeout,
        max_body=max_body,
        cookies=cookie_list,
    )


def _check_timeout(timeout: Any) -> None:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not timeout >= 0
        or timeout == float("inf")
    ):
        raise ValueError(f"timeout must be a number of seconds (0 or more), got {timeout!r}")


def _basic_auth(auth: Any) -> str:
    if not (isinstance(auth, (tuple, list)) and len(auth) == 2):
        raise TypeError(
            f"auth= takes a (username, password) pair for basic authentication, "
            f"got {type(auth).__name__} {auth!r}"
        )
    user, password = (v.encode("utf-8") if isinstance(v, str) else v for v in auth)
    if not isinstance(user, bytes) or not isinstance(password, bytes):
        raise TypeError("auth= username and password must be str or bytes")
    return "Basic " + base64.b64encode(user + b":" + password).decode("ascii")


def _cookie_pairs(cookies: CookieInput) -> List[Tuple[str, str]]:
    if not isinstance(cookies, (Mapping, list, tuple)):
        raise TypeError(f"cookies= must be a dict of name: value, got {type(cookies).__name__}")
    pairs = [(str(k), str(v)) for k, v in _pairs(cookies)]  # type: ignore[arg-type]
    for key, value in pairs:
        if not _token(key):
            raise ValueError(f"cookie name {key!r} is not a token ({_TOKEN_CHARS})")
        if any(ch in value for ch in "\r\n\0;"):
            raise ValueError(f"cookie {key!r} value {value!r} contains CR, LF, NUL or ';'")
    return pairs


def _multipart(data: Any, files: Any) -> Tuple[bytes, str]:
    """A multipart/form-data body of DATA's fields, then FILES, as httpx
    encodes them, and its Content-Type. A file is bytes, str, a file
    object (read from its start), or a tuple (filename, content[,
    content_type[, headers]])."""
    if data is not None and not isinstance(data, (Mapping, list, tuple)):
        raise TypeError("with files=, data= must be a dict of form fields")
    if not isinstance(files, (Mapping, list, tuple)):
        raise TypeError(f"files= must be a dict of field: file, got {type(files).__name__}")
    boundary = os.urandom(16).hex()
    out = bytearray()
    for key, value in _pairs(data) if data is not None else []:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            payload = item if isinstance(item, bytes) else str(item).encode("utf-8")
            out += f"--{boundary}\r\n".encode()
            out += f'Content-Disposition: form-data; name="{_quote(key)}"\r\n\r\n'.encode()
            out += payload + b"\r\n"
    for key, value in _pairs(files):
        filename, payload, content_type, extra = _file_field(key, value)
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{_quote(key)}"'
        if filename is not None:
            disposition += f'; filename="{_quote(filename)}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        for hk, hv in extra:
            out += f"{hk}: {hv}\r\n".encode()
        out += f"Content-Type: {content_type}\r\n\r\n".encode()
        out += payload + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _file_field(key: str, value: Any) -> Tuple[Optional[str], bytes, str, List[Tuple[str, str]]]:
    """(filename, content, content type, extra part headers) of one file."""
    content_type: Optional[str] = None
    extra: List[Tuple[str, str]] = []
    if isinstance(value, tuple):
        if not 2 <= len(value) <= 4:
            raise TypeError(
                f"files={{{key!r}: ...}} tuple must be (filename, content[, content_type"
                f"[, headers]]), got {len(value)} items"
            )
        filename = value[0]
        if len(value) > 2:
            content_type = value[2]
        if len(value) > 3:
            extra = _header_pairs(value[3])
        value = value[1]
    else:
        name = getattr(value, "name", None)
        filename = os.path.basename(name) if isinstance(name, str) else "upload"
    if isinstance(value, str):
        payload = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        payload = bytes(value)
    elif hasattr(value, "read"):
        # Read from the start each time: a file opened once (in on_start,
        # say) is uploaded whole on every iteration.
        if hasattr(value, "seek"):
            try:
                value.seek(0)
            except (OSError, ValueError):
                pass
        read = value.read()
        payload = read.encode("utf-8") if isinstance(read, str) else bytes(read)
    else:
        raise TypeError(
            f"files={{{key!r}: ...}} content must be bytes, str or a file object, "
            f"got {type(value).__name__}"
        )
    if content_type is None:
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        content_type = guessed or "application/octet-stream"
    _check_headers([("Content-Type", content_type), *extra])
    return filename, payload, content_type, extra


def _quote(text: str) -> str:
    """A form field or file name inside quotes (the HTML form encoding)."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace(
        "\n", "%0A"
    )


_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match
_TOKEN_CHARS = "letters, digits and !#$%&'*+-.^_`|~"
# Methods and header names already found to be tokens: a set lookup instead
# of a match on every request (bounded: a scenario has a handful).
_good_tokens = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
_GOOD_TOKENS_MAX = 4096


def _token(value: str) -> bool:
    if value in _good_tokens:
        return True
    if not _is_token(value):
        return False
    if len(_good_tokens) < _GOOD_TOKENS_MAX:
        _good_tokens.add(value)
    return True


def _check_request(method: str, path: str, headers: List[Tuple[str, str]]) -> None:
    """Refuses what would change the request's framing if sent (the engine
    refuses it too; here the error carries the task's file and line)."""
    if method not in _good_tokens and not _token(method):
        raise ValueError(f"request method {method!r} is not a token ({_TOKEN_CHARS})")
    # isprintable() is false for CR, LF, NUL and tab: a fast first look.
    if " " in path or not path.isprintable():
        for ch, what in (("\r", "CR"), ("\n", "LF"), ("\0", "NUL")):
            if ch in path:
                raise ValueError(f"request path {path!r} contains {what}, which is not allowed")
        if " " in path or "\t" in path:
            raise ValueError(
                f"request path {path!r} contains a space; percent-encode it (%20) "
                "or pass the query as params="
            )
    _check_headers(headers)


def _check_headers(headers: List[Tuple[str, str]]) -> None:
    for name, value in headers:
        if name not in _good_tokens and not _token(name):
            raise ValueError(f"request header name {name!r} is not a token ({_TOKEN_CHARS})")
        if not value.isprintable() and ("\r" in value or "\n" in value or "\0" in value):
            raise ValueError(
                f"request header {name!r} value {value!r} contains CR, LF or NUL, "
                "which is not allowed"
            )


def _check_max_body(max_body: Any) -> None:
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body <= 0:
        raise ValueError(f"max_body must be a positive number of bytes, got {max_body!r}")


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
