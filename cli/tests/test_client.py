import asyncio
import json

import pytest

from loadpilot import HTTPError, LoadClient, Response
from loadpilot.client import Headers, RecordedResponse, RecordingTransport


@pytest.fixture
def recorder():
    transport = RecordingTransport()
    return transport, LoadClient(transport)


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_each_verb(recorder, verb):
    transport, client = recorder
    getattr(client, verb)("/x")
    assert transport.requests[0].method == verb.upper()
    assert transport.requests[0].path == "/x"


def test_request_uppercases_method_and_keeps_name_and_timeout(recorder):
    transport, client = recorder
    client.request("get", "/a", name="listing", timeout=2.5)
    r = transport.requests[0]
    assert (r.method, r.name, r.timeout, r.body) == ("GET", "listing", 2.5, b"")


def test_params_are_urlencoded(recorder):
    transport, client = recorder
    client.get("/search", params={"q": "a b&c", "page": 2, "tag": ["x", "y"]})
    client.get("/search?lang=en", params=[("q", "é")])
    client.get("/raw", params="a=1")
    client.get("/none", params={})
    paths = [r.path for r in transport.requests]
    assert paths == [
        "/search?q=a+b%26c&page=2&tag=x&tag=y",
        "/search?lang=en&q=%C3%A9",
        "/raw?a=1",
        "/none",
    ]


def test_json_body_sets_content_type(recorder):
    transport, client = recorder
    client.post("/items", json={"name": "pen", "tags": [1, 2]})
    r = transport.requests[0]
    assert json.loads(r.body) == {"name": "pen", "tags": [1, 2]}
    assert r.body == b'{"name": "pen", "tags": [1, 2]}'
    assert r.headers == [("Content-Type", "application/json")]


def test_json_keeps_a_given_content_type(recorder):
    transport, client = recorder
    client.post("/items", json=[1], headers={"content-type": "application/vnd.x+json"})
    assert transport.requests[0].headers == [("content-type", "application/vnd.x+json")]


def test_json_none_means_no_body(recorder):
    transport, client = recorder
    client.post("/items", json=None)
    assert transport.requests[0].body == b""
    assert transport.requests[0].headers == []


def test_form_data(recorder):
    transport, client = recorder
    client.post("/login", data={"user": "ann", "pw": "s3cr=t"})
    r = transport.requests[0]
    assert r.body == b"user=ann&pw=s3cr%3Dt"
    assert r.headers == [("Content-Type", "application/x-www-form-urlencoded")]


def test_raw_data(recorder):
    transport, client = recorder
    client.put("/doc", data="plain text", headers=[("Content-Type", "text/plain")])
    client.put("/doc", data=b"bytes")
    assert [r.body for r in transport.requests] == [b"plain text", b"bytes"]
    assert transport.requests[0].headers == [("Content-Type", "text/plain")]
    assert transport.requests[1].headers == []


def test_json_and_data_together_is_an_error(recorder):
    _, client = recorder
    with pytest.raises(TypeError, match="pass one request body, not json= and data="):
        client.post("/x", json={}, data="a")


def test_binary_body_is_refused_while_recording(recorder):
    _, client = recorder
    with pytest.raises(ValueError, match="not UTF-8"):
        client.post("/x", data=b"\xff\xfe")


def test_header_values_become_strings(recorder):
    transport, client = recorder
    client.get("/", headers={"X-Count": 3})
    assert transport.requests[0].headers == [("X-Count", "3")]


def test_recorded_response_is_harmless(recorder):
    _, client = recorder
    r = client.get("/thing", params={"id": 1})
    assert isinstance(r, RecordedResponse)
    assert r.status_code == 0
    assert r.ok
    assert r.text == "" and r.content == b""
    assert r.json() == {}
    assert r.elapsed_ms == 0.0
    assert r.url == "/thing?id=1"
    assert len(r.headers) == 0
    r.raise_for_status()


def test_response_is_awaitable(recorder):
    _, client = recorder

    async def body():
        return await client.get("/a")

    assert asyncio.run(body()).status_code == 0


def test_packed_headers_are_split_on_first_use():
    h = Headers._from_raw("Content-Type\0text/plain; charset=latin-1\nSet-Cookie\0a=1\n"
                          "set-cookie\0b=2: x\n")
    assert "_items" not in h.__dict__
    assert h["content-type"] == "text/plain; charset=latin-1"
    assert h.get_all("Set-Cookie") == ["a=1", "b=2: x"]
    assert len(h) == 2 and list(h) == ["Content-Type", "Set-Cookie"]
    assert h.items_list()[0] == ("Content-Type", "text/plain; charset=latin-1")
    assert Response(200, headers=h, content=b"\xe9").text == "\xe9"
    empty = Headers._from_raw("")
    assert len(empty) == 0 and empty.get("x") is None
    with pytest.raises(AttributeError):
        empty.missing


def test_real_response_behaviour():
    headers = Headers([("Content-Type", "application/json; charset=utf-8"), ("Set-Cookie", "a"),
                       ("set-cookie", "b")])
    r = Response(404, headers=headers, content=b'{"e": "\xc3\xa9"}', url="/x", elapsed_ms=1.5)
    assert not r.ok
    assert r.json() == {"e": "é"}
    assert r.text == '{"e": "é"}'
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get_all("SET-COOKIE") == ["a", "b"]
    assert list(r.headers) == ["Content-Type", "Set-Cookie"]
    with pytest.raises(HTTPError, match="404 Client Error") as info:
        r.raise_for_status()
    assert info.value.response is r
    Response(204).raise_for_status()


@pytest.mark.parametrize("body", [
    b'{"ok":true}\n', b"[1, 2]", b' {"a": 1}', b'\xef\xbb\xbf{"a": 1}', b'{"a": 1} x',
    b'{"a":', b"", b"null", b'"s"', '{"é": "ü"}'.encode(), '{"a": 1}'.encode("utf-16"),
    b'{"a": NaN}', b'{"a": "\x01"}', b"[1] \n\t", b"\xff{", b"{}{}",
])
def test_response_json_matches_json_loads(body):
    # Response.json() takes a shortcut for plain UTF-8 objects and arrays;
    # values and errors must be exactly json.loads'.
    def outcome(parse):
        try:
            return "value", parse(body)
        except Exception as exc:  # noqa: BLE001 - the comparison is the test
            return type(exc).__name__, str(exc)

    assert outcome(lambda b: Response(200, content=b).json()) == outcome(json.loads)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c: c.get("/a\r\nX: 1"), "request path '/a\\r\\nX: 1' contains CR"),
        (lambda c: c.get("/a\nb"), "request path '/a\\nb' contains LF"),
        (lambda c: c.get("/a b"), "request path '/a b' contains a space"),
        (lambda c: c.get("/a", params={"q": 1}, headers={"X": "1\n2"}),
         "request header 'X' value '1\\n2' contains CR, LF or NUL"),
        (lambda c: c.get("/a", headers={"X\r\nY": "1"}), "request header name 'X\\r\\nY' is not a token"),
        (lambda c: c.get("/a", headers={"": "1"}), "request header name '' is not a token"),
        (lambda c: c.request("GET /x HTTP/1.1\r\n", "/"), "request method 'GET /X HTTP/1.1\\r\\n'"),
        (lambda c: c.post("/a", json={}, headers=[("X-Ok", "v\r")]), "request header 'X-Ok' value"),
        (lambda c: c.batch([{"path": "/ok"}, {"path": "/b\r"}]), "request path '/b\\r'"),
    ],
)
def test_framing_characters_are_refused(recorder, call, field):
    transport, client = recorder
    with pytest.raises(ValueError) as e:
        call(client)
    assert field in str(e.value)
    assert transport.requests == []


def test_unusual_but_valid_requests_pass(recorder):
    transport, client = recorder
    client.get("/caf\u00e9?q=%20", headers={"X-Tab": "a\tb", "X-Utf8": "\u00e9"})
    client.request("PROPFIND", "/dav")
    assert [r.method for r in transport.requests] == ["GET", "PROPFIND"]


def test_max_body_is_checked_and_recorded(recorder):
    transport, client = recorder
    client.get("/a", max_body=5_000_000)
    client.post("/b", json={"a": 1}, max_body=10)
    assert [r.max_body for r in transport.requests] == [5_000_000, 10]
    for bad in (0, -1, 1.5, "1MB", True):
        with pytest.raises(ValueError, match="max_body must be a positive number of bytes"):
            client.get("/a", max_body=bad)
