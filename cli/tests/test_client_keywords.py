"""The httpx-style keywords of client calls: how each is encoded, and how a
keyword that does not exist is reported."""

import base64
import email.parser
import email.policy
import io

import pytest

from loadpilot import LoadClient
from loadpilot.client import CALL_KEYWORDS, build_request


class Collect:
    """A transport that keeps each request (any body, binary too)."""

    def __init__(self):
        self.requests = []

    def send(self, request):
        self.requests.append(request)
        return None

    def send_batch(self, requests):
        self.requests.extend(requests)
        return [None] * len(requests)


@pytest.fixture
def client():
    transport = Collect()
    c = LoadClient(transport)
    c.sent = transport.requests
    return c


def parts(request):
    """The multipart body of REQUEST as [(name, filename, content type, bytes)]."""
    content_type = dict(request.headers)["Content-Type"]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
    assert message.is_multipart()
    return [(p.get_param("name", header="content-disposition"), p.get_filename(),
             p.get_content_type(), p.get_payload(decode=True)) for p in message.iter_parts()]


def test_every_documented_keyword_is_accepted_by_every_verb(client):
    for verb in ("get", "post", "put", "patch", "delete", "head", "options"):
        getattr(client, verb)("/x", params={"a": 1}, headers={"X": "1"}, content=b"raw",
                              cookies={"c": "1"}, auth=("u", "p"), timeout=1.5,
                              follow_redirects=False, name="n", max_body=10)
    assert len(client.sent) == 7
    assert set(CALL_KEYWORDS) == {"params", "headers", "json", "data", "content", "files",
                                  "cookies", "auth", "timeout", "follow_redirects", "name",
                                  "max_body"}


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_unknown_keyword_names_the_client_method(client, verb):
    with pytest.raises(TypeError) as info:
        getattr(client, verb)("/x", verify=False)
    assert str(info.value) == f"client.{verb}() got an unexpected keyword argument 'verify'"
    with pytest.raises(TypeError, match=r"^client\.request\(\) got an unexpected keyword "
                                        r"argument 'allow_redirects'$"):
        client.request("GET", "/x", allow_redirects=True)
    with pytest.raises(TypeError, match=r"batch item 0: unknown key\(s\) \['verify'\]"):
        client.batch([{"path": "/x", "verify": False}])


def test_other_type_errors_are_kept(client):
    with pytest.raises(TypeError, match="content= must be str or bytes"):
        client.post("/x", content=12)
    with pytest.raises(TypeError, match="pass one request body, not json= and content="):
        client.post("/x", json={}, content=b"x")


def test_content_is_sent_as_is(client):
    client.post("/x", content=b"\x00\xff binary")
    client.put("/y", content="text é")
    assert client.sent[0].body == b"\x00\xff binary" and client.sent[0].headers == []
    assert client.sent[1].body == "text é".encode()


def test_auth_is_basic_and_replaces_an_authorization_header(client):
    client.get("/x", auth=("alice", "s3cret:é"), headers={"authorization": "old", "A": "b"})
    headers = client.sent[0].headers
    expected = "Basic " + base64.b64encode("alice:s3cret:é".encode()).decode()
    assert headers == [("A", "b"), ("Authorization", expected)]
    with pytest.raises(TypeError, match=r"auth= takes a \(username, password\) pair"):
        client.get("/x", auth="token")


def test_cookies_travel_with_the_request_and_are_checked(client):
    client.get("/x", cookies={"session": "abc", "theme": "dark"})
    assert client.sent[0].cookies == [("session", "abc"), ("theme", "dark")]
    assert client.sent[0].headers == []  # the Cookie header is made when sent, with the jar
    with pytest.raises(ValueError, match="cookie 'a' value 'x;y' contains"):
        client.get("/x", cookies={"a": "x;y"})
    with pytest.raises(ValueError, match="cookie name 'a b' is not a token"):
        client.get("/x", cookies={"a b": "x"})


def test_timeout_must_be_seconds(client):
    client.get("/x", timeout=0)
    for bad in ("5", -1, float("nan"), True):
        with pytest.raises(ValueError, match="timeout must be a number of seconds"):
            client.get("/x", timeout=bad)


def test_follow_redirects_is_kept_for_the_runtime(client):
    # The runtime follows the redirects (tests/test_redirects.py).
    client.get("/x", follow_redirects=False)
    client.post("/x", json={}, follow_redirects=True)
    client.get("/x")
    assert [r.follow_redirects for r in client.sent] == [False, True, None]
    with pytest.raises(TypeError, match=r"^follow_redirects= must be True or False, got int 1$"):
        client.get("/x", follow_redirects=1)


def test_files_make_a_multipart_body_with_the_form_fields(client, tmp_path):
    upload = tmp_path / "report.csv"
    upload.write_bytes(b"a,b\n1,2\n")
    with open(upload, "rb") as f:
        for _ in range(2):  # a file object is read from its start on every call
            client.post("/upload", data={"kind": "csv", "tags": ["x", "y"]},
                        files={"report": f, "raw": b"\x00\x01",
                               "named": ("notes.txt", "hello", "text/x-notes"),
                               "pic": ("a.png", b"\x89PNG")})
    first, second = client.sent
    assert parts(first) == parts(second) == [
        ("kind", None, "text/plain", b"csv"),
        ("tags", None, "text/plain", b"x"),
        ("tags", None, "text/plain", b"y"),
        ("report", "report.csv", "text/csv", b"a,b\n1,2\n"),
        ("raw", "upload", "application/octet-stream", b"\x00\x01"),
        ("named", "notes.txt", "text/x-notes", b"hello"),
        ("pic", "a.png", "image/png", b"\x89PNG"),
    ]
    # A fresh boundary per request.
    assert first.headers != second.headers
    assert dict(first.headers)["Content-Type"].startswith("multipart/form-data; boundary=")


def test_files_field_names_are_quoted():
    request = build_request("POST", "/u", files={'a"b\r\n': ('c"d.txt', io.BytesIO(b"x"))})
    assert b'name="a%22b%0D%0A"; filename="c%22d.txt"' in request.body


def test_files_refuse_what_they_cannot_send(client):
    with pytest.raises(TypeError, match=r"tuple must be \(filename, content"):
        client.post("/u", files={"f": ("only-name",)})
    with pytest.raises(TypeError, match="content must be bytes, str or a file object"):
        client.post("/u", files={"f": 42})
    with pytest.raises(TypeError, match="with files=, data= must be a dict"):
        client.post("/u", data="raw", files={"f": b"x"})
