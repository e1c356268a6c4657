"""Encoding a client call into a Request: the keywords of LoadClient's
methods (docs/scenarios.md#loadclient), the query string and the bodies
(JSON, form, raw, multipart), basic auth, per-call cookies, and the checks
that refuse what would break a request's framing."""

from __future__ import annotations

import base64
import json as _json
import mimetypes
import os
import re
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

__all__ = ["CALL_KEYWORDS", "Request", "build_request"]

HeaderInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]
ParamsInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, None]
DataInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, bytes, None]
CookieInput = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]


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
    # follow_redirects= of this call; None: the scenario's default
    # (docs/scenarios.md#redirects)
    follow_redirects: Optional[bool] = None


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
    password)`` a basic Authorization header. ``follow_redirects`` is
    kept on the Request for the runtime, which follows the redirects
    (docs/scenarios.md#redirects).

    Raises ValueError for what would change the request's framing: a CR or
    LF (or NUL) in the path or a header, a space in the path, a method or
    header name that is not a token."""
    _check_call(method, path, timeout, max_body, follow_redirects)
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
            return Request(method, path, [], b"", name, timeout, max_body, None, follow_redirects)
        header_list = _header_pairs(headers)
        _check_headers(header_list)
        return Request(
            method, path, header_list, b"", name, timeout, max_body, None, follow_redirects
        )
    _refuse_two_bodies(json, data, content, files)
    header_list = _header_pairs(headers)
    url = _with_query(path, params)
    body = _encode_body(header_list, json, data, content, files)
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
        follow_redirects=follow_redirects,
    )


def _check_call(
    method: Any,
    path: Any,
    timeout: Any,
    max_body: Any,
    follow_redirects: Any,
) -> None:
    """Refuses a method or path that is not a string, and a timeout=,
    max_body= or follow_redirects= of the wrong type or range."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {type(path).__name__}")
    if max_body is not None:
        _check_max_body(max_body)
    if timeout is not None:
        _check_timeout(timeout)
    if follow_redirects is not None and not isinstance(follow_redirects, bool):
        raise TypeError(
            f"follow_redirects= must be True or False, "
            f"got {type(follow_redirects).__name__} {follow_redirects!r}"
        )


def _refuse_two_bodies(json: Any, data: DataInput, content: Any, files: Any) -> None:
    """Refuses a call that passes more than one body (data= with files= is
    one: the form's fields)."""
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


def _with_query(path: str, params: ParamsInput) -> str:
    """PATH with PARAMS (a mapping, pairs or a ready query string) appended
    as its query string."""
    if not params:
        return path
    query = params if isinstance(params, str) else urlencode(_pairs(params), doseq=True)
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _encode_body(
    header_list: List[Tuple[str, str]],
    json: Any,
    data: DataInput,
    content: Union[str, bytes, None],
    files: Any,
) -> bytes:
    """The body of the one body keyword passed (b"" for none), adding its
    Content-Type to HEADER_LIST unless the call set one."""
    if json is not None:
        body = _json.dumps(json).encode("utf-8")
        _default_header(header_list, "Content-Type", "application/json")
        return body
    if content is not None:
        if isinstance(content, str):
            return content.encode("utf-8")
        if isinstance(content, (bytes, bytearray, memoryview)):
            return bytes(content)
        raise TypeError(f"content= must be str or bytes, got {type(content).__name__}")
    if files is not None:
        body, content_type = _multipart(data, files)
        _default_header(header_list, "Content-Type", content_type)
        return body
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if data is not None:
        body = urlencode(_pairs(data), doseq=True).encode("ascii")
        _default_header(header_list, "Content-Type", "application/x-www-form-urlencoded")
        return body
    return b""


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


def _file_field(
    key: str, value: Any
) -> Tuple[Optional[str], bytes, str, List[Tuple[str, str]]]:
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
