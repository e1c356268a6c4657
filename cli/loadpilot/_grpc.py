"""gRPC unary calls from tasks: ``client.grpc(...)`` (docs/protocols.md#grpc).

A call is an HTTP/2 request like any other of the task: ``POST
/package.Service/Method`` with ``content-type: application/grpc``, ``te:
trailers`` and the request message behind gRPC's 5-byte prefix, sent on
the engine's HTTP/2 connections with the run's pacing and latency. The
engine reads its .proto (``_loadpilot_grpc``, engine/grpc/proto.h), builds
the message from the task's dict through protobuf's JSON mapping, and
judges the answer by its grpc-status. Here the call is built and its
answer read; the scenario file's literal calls are checked when it is
loaded (:func:`problems`), so a .proto that does not parse, a method it
does not have or a literal field the message does not have stop the run
before anything is sent.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import unquote

try:
    import _loadpilot_grpc as _native  # type: ignore[import-not-found]
except ImportError:  # outside the engine (the package's own tests)
    _native = None

__all__ = ["GrpcResponse", "STATUS_NAMES", "build_call", "answer", "problems", "loaded_files"]

STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 2, 4, 12, 13, 14

# gRPC's own mapping of an HTTP status that came instead of a gRPC answer
# (grpc/doc/http-grpc-status-mapping.md); any other is UNKNOWN.
_FROM_HTTP = {400: INTERNAL, 401: 16, 403: 7, 404: UNIMPLEMENTED, 429: UNAVAILABLE,
              502: UNAVAILABLE, 503: UNAVAILABLE, 504: UNAVAILABLE}

# The scenario file (absolute, as the command line named it): a proto= path
# is relative to its folder. Set by _describe.describe().
_scenario: Optional[Tuple[str, str]] = None
# (proto, method) as a call wrote them -> the engine's Method.
_methods: Dict[Tuple[str, str], Any] = {}
# The .proto files parsed in this process, imports included (the bundle of
# a distributed run carries them: _describe.local_files).
_files: Dict[str, None] = {}


def set_scenario(abspath: str, path: str) -> None:
    global _scenario
    _scenario = (abspath, path)
    _methods.clear()


def _resolve(proto: str) -> Tuple[str, str]:
    """(path on disk, path as messages show it) of PROTO."""
    if os.path.isabs(proto) or _scenario is None:
        return proto, proto
    abspath, shown = _scenario
    return (
        os.path.join(os.path.dirname(abspath), proto),
        os.path.normpath(os.path.join(os.path.dirname(shown), proto)),
    )


def method_of(proto: str, name: str) -> Any:
    """The engine's Method NAME ("package.Service/Method") of PROTO;
    ValueError saying what is wrong."""
    key = (proto, name)
    found = _methods.get(key)
    if found is None:
        if _native is None:
            raise RuntimeError("client.grpc() runs only in the engine")
        if not isinstance(proto, str) or not proto:
            raise TypeError("client.grpc() needs proto= (the .proto file's path)")
        if not isinstance(name, str):
            raise TypeError(f"client.grpc(): the method must be a str, not {type(name).__name__}")
        found = _methods[key] = _load(proto).method(name)
    return found


def _load(proto: str) -> Any:
    """The engine's parsed PROTO (parsed once per process)."""
    path, shown = _resolve(proto)
    file = _native.load(path, shown)
    for f in file.files:
        _files[f] = None
    return file


def build_call(
    method: str,
    request: Optional[Mapping[str, Any]],
    proto: str,
    headers: Any,
    name: Optional[str],
    timeout: Optional[float],
) -> Tuple[Any, Any]:
    """(the Request to send, the engine's Method) of one call."""
    from ._encode import Request  # the client module imports this one

    m = method_of(proto, method)
    if request is None:
        request = {}
    if not isinstance(request, Mapping):
        raise TypeError(
            f"client.grpc({method!r}): the request must be a dict, not {type(request).__name__}"
        )
    try:
        body = m.encode(json.dumps(request))
    except ValueError as exc:
        raise ValueError(f"client.grpc({method!r}): {exc}") from None
    except TypeError as exc:  # json.dumps: a value JSON cannot hold
        raise TypeError(f"client.grpc({method!r}): {exc}") from None
    fields: List[Tuple[str, str]] = [("content-type", "application/grpc"), ("te", "trailers")]
    if timeout is not None:
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError("client.grpc(): timeout must be a positive number of seconds")
        # The server learns the deadline too (gRPC's grpc-timeout, in ms).
        fields.append(("grpc-timeout", f"{max(1, int(timeout * 1000))}m"))
    for key, value in _header_items(headers):
        fields.append((str(key), str(value)))
    return (
        Request(
            "POST",
            m.path,
            headers=fields,
            body=body,
            name=name,
            timeout=timeout,
            follow_redirects=False,
        ),
        m,
    )


def _header_items(headers: Any) -> Iterator[Tuple[Any, Any]]:
    if headers is None:
        return iter(())
    if isinstance(headers, Mapping):
        return iter(headers.items())
    return iter(headers)


class GrpcResponse:
    """The answer to one ``client.grpc()`` call.

    ``status``: gRPC's status code (0 OK, 5 NOT_FOUND, ...), the server's
    grpc-status, or, when none came, the code gRPC clients use for what
    happened (4 DEADLINE_EXCEEDED for a timeout, 14 UNAVAILABLE for a
    failed connection, gRPC's mapping for an HTTP error status);
    ``status_name`` its name; ``details``: the server's grpc-message;
    ``message``: the response message as a dict (names as in the .proto,
    every field present; ``{}`` when the call did not succeed); ``ok``:
    status OK and nothing wrong; ``error``: what went wrong, else None;
    ``response``: the HTTP/2 response it came in (headers, trailers
    after them, timing)."""

    __slots__ = ("response", "status", "details", "_method", "_message")

    def __init__(self, response: Any, method: Any) -> None:
        self.response = response
        self._method = method
        self._message: Optional[Dict[str, Any]] = None
        self.details = ""
        codes = response.headers.get_all("grpc-status")
        if codes and codes[-1].isdigit():
            self.status = int(codes[-1])
            messages = response.headers.get_all("grpc-message")
            self.details = unquote(messages[-1]) if messages else ""
        elif response.status_code == 0:
            error = response.error or ""
            self.status = DEADLINE_EXCEEDED if "within" in error else UNAVAILABLE
        elif response.status_code != 200:
            self.status = _FROM_HTTP.get(response.status_code, UNKNOWN)
        else:
            self.status = UNKNOWN

    @property
    def ok(self) -> bool:
        return self.status == 0 and self.response.error is None

    @property
    def status_name(self) -> str:
        if 0 <= self.status < len(STATUS_NAMES):
            return STATUS_NAMES[self.status]
        return f"CODE_{self.status}"

    @property
    def error(self) -> Optional[str]:
        return self.response.error

    @property
    def elapsed_ms(self) -> float:
        return float(self.response.elapsed_ms)

    @property
    def message(self) -> Dict[str, Any]:
        if self._message is None:
            if self.ok:
                self._message = json.loads(self._method.decode(self.response.content))
            else:
                self._message = {}
        return self._message

    def __repr__(self) -> str:
        return f"<GrpcResponse [{self.status_name}]>"


class _Pending:
    """What ``client.grpc()`` returns in an ``async def`` task: awaiting it
    gives the GrpcResponse (also through ``asyncio.gather``)."""

    __slots__ = ("_future", "_method")

    def __init__(self, future: Any, method: Any) -> None:
        self._future = future
        self._method = method

    def __await__(self) -> Any:
        response = yield from self._future.__await__()
        return GrpcResponse(response, self._method)


def answer(sent: Any, method: Any) -> Union[GrpcResponse, _Pending]:
    """The call's answer: a GrpcResponse when SENT is the response (a plain
    task), an awaitable of one when it is a future (an async task)."""
    if hasattr(sent, "status_code"):
        return GrpcResponse(sent, method)
    return _Pending(sent, method)


def loaded_files() -> List[str]:
    return list(_files)


# --- the checks at load time ------------------------------------------------


def problems(cls: type, path: str) -> List[str]:
    """The literal ``client.grpc(METHOD, REQUEST, proto=PROTO)`` calls in
    CLS's source, checked now: the .proto parses, it has METHOD, and a
    literal REQUEST has only fields the message has. One "FILE:LINE: why"
    per wrong call; calls whose arguments are not literals are checked when
    they are made."""
    if _native is None:
        return []
    try:
        lines, first = inspect.getsourcelines(cls)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return []
    found: List[str] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "grpc"
        ):
            continue
        proto = next((k.value for k in node.keywords if k.arg == "proto"), None)
        if not (isinstance(proto, ast.Constant) and isinstance(proto.value, str)):
            continue
        where = f"{path}:{first + node.lineno - 1}"
        wanted = node.args[0] if node.args else None
        if not (isinstance(wanted, ast.Constant) and isinstance(wanted.value, str)):
            # The method is known only at the call; the file is parsed now
            # (and travels with a distributed run's bundle).
            try:
                _load(proto.value)
            except ValueError as exc:
                found.append(f"{where}: client.grpc(): {exc}")
            continue
        try:
            method = method_of(proto.value, wanted.value)
        except ValueError as exc:
            found.append(f"{where}: client.grpc(): {exc}")
            continue
        request = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "request"), None)
        if request is None:
            continue
        try:
            value = ast.literal_eval(request)
        except (ValueError, SyntaxError, TypeError):
            continue  # not a literal: checked at the call
        try:
            method.encode(json.dumps(value))
        except (ValueError, TypeError) as exc:
            found.append(f"{where}: client.grpc({wanted.value!r}): {exc}")
    return found
