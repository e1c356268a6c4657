"""client.grpc() on the Python side (_grpc.py): the request it builds and
how a GrpcResponse reads the answer, with a stand-in for the engine's
Method (the engine's side: engine/tests/grpc_*_test.cc and
engine/tests/e2e/test_grpc.py)."""
import asyncio
import json

import pytest

from loadpilot import GrpcResponse, LoadClient, _grpc
from loadpilot.client import Headers, Response


class FakeMethod:
    path = "/demo.Shop/GetItem"

    def encode(self, text):
        request = json.loads(text)
        if "bad" in request:
            raise ValueError("request.bad: message demo.GetItemRequest has no field 'bad'")
        return b"\0\0\0\0\2" + b"ok"

    def decode(self, body):
        assert body == b"\0\0\0\0\1x"
        return '{"id": 7, "name": "item-7"}'


class Transport:
    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    def send(self, request):
        self.sent.append(request)
        return self.answer


@pytest.fixture(autouse=True)
def method(monkeypatch):
    monkeypatch.setattr(_grpc, "method_of", lambda proto, name: FakeMethod())


def response(status_code=200, headers=(), content=b"", error=None):
    return Response(status_code, headers=Headers(list(headers)), content=content, error=error)


def test_a_call_is_a_post_with_grpcs_headers_and_framed_body():
    t = Transport(response(headers=[("content-type", "application/grpc"),
                                    ("grpc-status", "0")], content=b"\0\0\0\0\1x"))
    r = LoadClient(t).grpc("demo.Shop/GetItem", {"id": 7}, proto="shop.proto",
                           headers={"authorization": "Bearer t"}, name="item", timeout=2)
    sent = t.sent[0]
    assert (sent.method, sent.path, sent.name, sent.timeout) == (
        "POST", "/demo.Shop/GetItem", "item", 2)
    assert sent.headers == [("content-type", "application/grpc"), ("te", "trailers"),
                            ("grpc-timeout", "2000m"), ("authorization", "Bearer t")]
    assert sent.body == b"\0\0\0\0\2ok"
    assert sent.follow_redirects is False
    assert isinstance(r, GrpcResponse)
    assert (r.ok, r.status, r.status_name, r.error) == (True, 0, "OK", None)
    assert r.message == {"id": 7, "name": "item-7"}


def test_a_field_error_names_the_method_and_nothing_is_sent():
    t = Transport(None)
    with pytest.raises(ValueError, match=r"client.grpc\('demo.Shop/GetItem'\): request.bad"):
        LoadClient(t).grpc("demo.Shop/GetItem", {"bad": 1}, proto="shop.proto")
    with pytest.raises(TypeError, match="must be a dict"):
        LoadClient(t).grpc("demo.Shop/GetItem", [1], proto="shop.proto")
    assert t.sent == []


def test_the_status_comes_from_the_trailers_after_the_headers():
    # Trailers are packed after the headers: the last grpc-status wins.
    r = GrpcResponse(response(headers=[("content-type", "application/grpc"),
                                       ("grpc-status", "5"),
                                       ("grpc-message", "item%207%20not%20found")],
                              error="gRPC NOT_FOUND (5) /demo.Shop/GetItem"), FakeMethod())
    assert (r.ok, r.status, r.status_name, r.details) == (False, 5, "NOT_FOUND",
                                                           "item 7 not found")
    assert r.message == {}
    assert r.error == "gRPC NOT_FOUND (5) /demo.Shop/GetItem"


@pytest.mark.parametrize("status_code,error,want", [
    (0, "no response within 100 ms", 4),      # DEADLINE_EXCEEDED
    (0, "connection refused", 14),            # UNAVAILABLE
    (404, "HTTP 404", 12),                    # UNIMPLEMENTED
    (503, "HTTP 503", 14),
    (500, "HTTP 500", 2),                     # UNKNOWN
    (200, "gRPC response without grpc-status", 2),
])
def test_without_a_status_the_code_is_what_grpc_clients_use(status_code, error, want):
    r = GrpcResponse(response(status_code, error=error), FakeMethod())
    assert r.status == want
    assert not r.ok
    assert r.message == {}


def test_in_an_async_task_the_call_is_awaitable():
    async def main():
        future = asyncio.get_running_loop().create_future()
        t = Transport(future)
        pending = LoadClient(t).grpc("demo.Shop/GetItem", {"id": 7}, proto="shop.proto")
        future.set_result(response(headers=[("grpc-status", "0")], content=b"\0\0\0\0\1x"))
        first = await pending
        future2 = asyncio.get_running_loop().create_future()
        t.answer = future2
        both = asyncio.gather(LoadClient(t).grpc("demo.Shop/GetItem", {"id": 7},
                                                 proto="shop.proto"))
        future2.set_result(response(headers=[("grpc-status", "5")]))
        return first, (await both)[0]

    first, second = asyncio.run(main())
    assert first.ok and first.message["name"] == "item-7"
    assert second.status == 5


def test_outside_the_engine_a_call_says_so(monkeypatch):
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="runs only in the engine"):
        LoadClient(Transport(None)).grpc("demo.Shop/GetItem", {}, proto="shop.proto")
