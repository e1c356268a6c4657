"""The coordinator service's limits, with the real binary on loopback: the
token is checked on the headers before any body is read, memory stays
bounded under many large posts, slow connections do not starve the probes
or POST /stop, a bundle that cannot be unpacked is a 400 that leaves
nothing behind, and the API's HTTP details (docs/distributed.md#the-coordinator-service)."""
import json
import os
import socket
import threading
import time

import pytest

from conftest import asan_quarantine_mib
from test_coordinator_service import TOKEN, Service, run_request
from test_distributed import NATS_SERVER, Nats, constant_health

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                                reason="nats-server is not installed (scripts/install-deps.sh)")

MIB = 1024 * 1024


@pytest.fixture
def service():
    """A service with no agents: enough for everything refused before a run."""
    made = []

    def make(**kwargs):
        nats = Nats()
        s = Service(nats, 1, **kwargs)
        made.append((nats, s))
        return s
    yield make
    for nats, s in made:
        s.close()
        nats.stop()


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def answer_of(sock, timeout=10):
    """The bytes the server sends until it closes (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data.decode(errors="replace")


def whole_answer(sock, timeout=10):
    """One answer, head and Content-Length body, without waiting for the
    server to close."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), b"0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def test_unauthenticated_large_posts_are_refused_on_their_headers(service):
    s = service()
    before = memory_kib(s.proc.pid, "VmHWM")
    size = 16 * MIB
    body = b"x" * size
    answers = [None] * 32
    ready = threading.Barrier(len(answers))

    def post(i):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            ready.wait(timeout=30)
            c.sendall(f"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                      f"Authorization: Bearer wrong-token-{i}\r\n\r\n".encode())
            # The answer comes before a byte of the body is sent: the token
            # is checked on the headers.
            first = whole_answer(c)
            try:
                c.sendall(body)  # the server drops it unread, or has closed
            except OSError:
                pass
            answers[i] = first

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for a in answers:
        assert a is not None and a.startswith("HTTP/1.1 401"), a
        assert "API token" in a
    grown_mib = (memory_kib(s.proc.pid, "VmHWM") - before) / 1024
    print(f"VmHWM grew by {grown_mib:.1f} MiB")
    # 32 bodies of 16 MiB were sent; none was kept.
    assert grown_mib < 48 + asan_quarantine_mib(), grown_mib
    assert s.get("/healthz")[0] == 200


def test_concurrent_large_bodies_are_bounded_together(service):
    s = service()
    before = memory_kib(s.proc.pid, "VmHWM")
    size = 16 * MIB
    body = b"[" * size  # not JSON: refused once read
    answers = [None] * 8
    ready = threading.Barrier(len(answers))

    def post(i):
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
            ready.wait(timeout=30)
            c.sendall(f"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                      f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
            try:
                c.sendall(body)
            except OSError:
                pass  # refused on its head (503) and closed
            answers[i] = whole_answer(c, timeout=30)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    statuses = sorted(a.split(" ")[1] for a in answers)
    assert "400" in statuses and set(statuses) <= {"400", "503"}, answers
    for a in answers:
        if a.startswith("HTTP/1.1 503"):
            assert "Retry-After: 1" in a and "retry" in a, a
    grown_mib = (memory_kib(s.proc.pid, "VmHWM") - before) / 1024
    print(f"VmHWM grew by {grown_mib:.1f} MiB")
    # One body of 16 MiB at a time, with its parse.
    assert grown_mib < 100 + asan_quarantine_mib(), grown_mib


def test_slow_connections_do_not_starve_the_probes_or_stop(service):
    s = service()
    slow = []
    try:
        for _ in range(64):  # twice the handler cap
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(c)
        t0 = time.monotonic()
        assert s.get("/healthz") == (200, "ok\n")
        assert s.get("/readyz")[0] == 503  # answered: no agents
        status, text, conn = s.request("POST", "/stop", "", TOKEN)
        conn.close()
        assert status == 409 and "no run is active" in text, text
        assert time.monotonic() - t0 < 5
    finally:
        for c in slow:
            c.close()


def test_a_slow_head_is_answered_408_and_closed(service):
    s = service()
    with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
        c.sendall(b"GET /healthz HTTP/1.1\r\n")
        t0 = time.monotonic()
        answer = answer_of(c, timeout=30)
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "headers" in answer
    # The head deadline (5 s), not the body's (30 s).
    assert time.monotonic() - t0 < 15


@pytest.mark.parametrize("files,named", [
    ({"a": "x = 1\n", "a/b.py": "y = 2\n"}, "a/b.py"),
    ({("d" * 5000) + ".py": "z = 3\n"}, "ddddd"),
    ({"/".join(["p"] * 2100) + ".py": "z = 3\n"}, "p/p/p"),
])
def test_a_bundle_that_cannot_be_unpacked_is_a_400_naming_the_entry(
        service, scenario_file, tmp_path, files, named):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    s = service(env={**os.environ, "TMPDIR": str(tmp)})
    req = run_request(scenario_file(constant_health(20, "1s")), "http://127.0.0.1:9")
    all_files = dict(req["bundle"]["files"], **files)
    from test_coordinator_service import bundle
    req["bundle"] = bundle(all_files, req["bundle"]["main"])
    status, text, conn = s.request("POST", "/run", json.dumps(req), TOKEN)
    conn.close()
    assert status == 400, text
    body = json.loads(text)
    assert any("bundle" in e and named in e for e in body["errors"]), body
    assert all(len(e) < 400 for e in body["errors"]), body
    assert list(tmp.iterdir()) == []
    assert s.status()["state"] == "idle"


def test_the_api_speaks_plain_http(service):
    s = service()

    def raw(data):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(data)
            return answer_of(c)

    a = raw(b"POST /run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert a.startswith("HTTP/1.1 411") and "Content-Length" in a.split("\r\n\r\n", 1)[1], a
    a = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert a.startswith("HTTP/1.1 431") and "header" in a.split("\r\n\r\n", 1)[1], a
    # HEAD: the head of the GET answer, no body.
    a = raw(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, rest = a.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and "Content-Length: 3" in head and rest == "", a
    a = raw(b"HEAD /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
            b"\r\n\r\n")
    head, _, rest = a.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and rest == "", a
    # Absolute form (RFC 9112 3.2.2): routed by its path.
    a = raw(f"GET http://127.0.0.1:{s.port}/healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert a.startswith("HTTP/1.1 200") and a.endswith("ok\n"), a
