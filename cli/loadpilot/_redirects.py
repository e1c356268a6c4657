"""Following redirects (docs/scenarios.md#redirects): which responses are
redirects, the request that follows one, and the origin check that keeps
every hop on the run's target.

The Python VUser runtime (_requests.py) sends each hop through the engine
like any other call, so every hop is counted and measured; this module only
decides what the next hop is, or why there is none."""

from __future__ import annotations

from typing import Optional, Tuple
from urllib.parse import quote, urljoin, urlsplit

from ._encode import Request

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "Origin",
    "RedirectRefused",
    "origin_of",
    "redirect_request",
    "show_origin",
    "too_many",
]

# As httpx: a response with one of these statuses and a Location header is
# a redirect; any other 3xx (300, 304, ...) is an answer like any other.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# @scenario(max_redirects=...) left out: httpx's default.
DEFAULT_MAX_REDIRECTS = 20

# (scheme, host, port): two URLs are the same origin when these are equal.
Origin = Tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers that describe a request body: dropped with the body when a
# redirect turns the request into a GET.
_BODY_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
        "transfer-encoding",
    }
)
# Characters a Location's path and query keep as they are; anything else
# (a space, a non-ASCII character, a quote) is percent-encoded, as a
# browser does before sending it.
_PATH_SAFE = "/%!$&'()*+,;=:@~"
_QUERY_SAFE = _PATH_SAFE + "?"


class RedirectRefused(Exception):
    """A redirect that is not followed; str() is the error recorded for it
    (kind ``redirect``). Messages name no per-request detail (a path, an
    id), so that they group in the summary."""


def origin_of(url: str) -> Origin:
    """URL's (scheme, host, port), the port filled in from the scheme.
    Raises ValueError for a URL that has no valid port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port  # raises ValueError for a bad one
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def show_origin(origin: Origin) -> str:
    """scheme://host:port, or "scheme:" for a URL that is not http(s) with
    a host."""
    scheme, host, port = origin
    if scheme not in _DEFAULT_PORTS or not host:
        return f"{scheme}:"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def too_many(max_redirects: int) -> str:
    """The error of a redirect past the hop limit."""
    return (
        f"too many redirects: more than max_redirects={max_redirects}; "
        "the last redirect was not followed"
    )


def redirect_request(
    request: Request, status: int, location: str, url: str, origin: Optional[Origin]
) -> Tuple[Request, str]:
    """The request that follows REQUEST's STATUS response, sent to URL,
    whose Location header is LOCATION; and the absolute URL it goes to.

    LOCATION is resolved against URL (a relative reference, an absolute
    path or an absolute URL); its fragment is dropped. A 303 turns any
    method but HEAD into a GET, and a 301 or 302 turns a POST into a GET,
    as browsers do: the body goes, with the headers that describe it. A
    307 or 308 keeps the method and the body. The other headers, the
    call's cookies=, name=, timeout= and max_body= go with every hop.

    Raises RedirectRefused when the Location is not a valid URL or points
    to another origin than ORIGIN (the run's target): LoadPilot sends
    nothing anywhere else."""
    try:
        resolved = urljoin(url, location.strip())
        parts = urlsplit(resolved)
        there = origin_of(resolved)
    except ValueError:
        raise RedirectRefused(
            f"redirect not followed: its Location is not a valid URL (status {status})"
        ) from None
    if origin is None or there != origin:
        target = show_origin(origin) if origin is not None else "the run's target"
        raise RedirectRefused(
            f"redirect to another origin not followed: {show_origin(there)} is not "
            f"{target} (a run sends only to its --target)"
        )
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)

    method, body, headers = request.method, request.body, request.headers
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", b""
        headers = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
    follow = Request(
        method,
        path,
        headers,
        body,
        request.name,
        request.timeout,
        request.max_body,
        request.cookies,
        True,
    )
    return follow, f"{parts.scheme}://{parts.netloc}{path}"
