"""HTTP/2 peers that misbehave (docs/protocols.md#errors): a server that
resets some streams, and one that sends GOAWAY and closes every connection
after a few requests. Each run ends on time with errors by kind, and our
count of requests equals what the peer saw. The peer is written with
Debian's python3-h2 (skipped without it)."""
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from conftest import run_json

h2 = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402


class Peer:
    """h2c with prior knowledge on a loopback port; one thread per
    connection. Paths starting /reset get RST_STREAM(INTERNAL_ERROR), the
    rest 200 "ok". GOAWAY_AFTER: after that many answers a connection sends
    GOAWAY naming the last stream it answered, then closes."""

    def __init__(self, goaway_after=0):
        self.goaway_after = goaway_after
        self.lock = threading.Lock()
        self.answered = 0
        self.reset = 0
        self.goaways = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        served = 0
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for event in conn.receive_data(data):
                    if not isinstance(event, h2.events.RequestReceived):
                        continue
                    path = dict(event.headers)[":path"]
                    if path.startswith("/reset"):
                        conn.reset_stream(event.stream_id, error_code=2)
                        with self.lock:
                            self.reset += 1
                    else:
                        conn.send_headers(event.stream_id, [(":status", "200"),
                                                            ("content-length", "2")])
                        conn.send_data(event.stream_id, b"ok", end_stream=True)
                        with self.lock:
                            self.answered += 1
                    served += 1
                    if self.goaway_after and served == self.goaway_after:
                        conn.close_connection(last_stream_id=event.stream_id)
                        sock.sendall(conn.data_to_send())
                        with self.lock:
                            self.goaways += 1
                        return
                sock.sendall(conn.data_to_send())
        except OSError:
            return
        finally:
            sock.close()

    def close(self):
        self.listener.close()


@contextmanager
def peer(**kw):
    p = Peer(**kw)
    try:
        yield p
    finally:
        p.close()


SCENARIO = """
from loadpilot import scenario, task

@scenario(rps=100, duration="2s", ramp_up=0, http_version="2")
class Hostile:
    @task(weight=3)
    def fine(self, client):
        client.get("/ok")

    @task
    def doomed(self, client):
        client.get("/reset")
"""


def test_rst_stream_fails_those_requests_as_stream_reset(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(SCENARIO)
    with peer() as p:
        started = time.monotonic()
        proc, r = run_json(path, p.url, tmp_path, "--max-connections", "2", "--timeout", "5s")
        elapsed = time.monotonic() - started
    assert elapsed < 30
    assert r["requests"] == 200 == p.answered + p.reset
    assert r["errors_by_kind"]["stream_reset"] == p.reset == r["errors"]
    doomed = [t for t in r["tasks"] if t["name"] == "doomed"][0]
    assert doomed["errors"] == doomed["requests"] == p.reset
    assert any(e["message"] == "stream reset by server (INTERNAL_ERROR)" for e in r["top_errors"])
    assert r["iterations"]["started"] == r["iterations"]["finished"] == 200


def test_goaway_mid_run_moves_to_new_connections(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(SCENARIO.replace('client.get("/reset")', 'client.get("/also-ok")'))
    with peer(goaway_after=25) as p:
        started = time.monotonic()
        proc, r = run_json(path, p.url, tmp_path, "--max-connections", "2", "--timeout", "5s")
        elapsed = time.monotonic() - started
    assert elapsed < 30
    assert p.goaways >= 4
    # Streams above a GOAWAY's last id were not processed: sent again on a
    # new connection. Only one refused twice fails (stream_reset), so every
    # request is either answered by the peer or counted as that error.
    refused = r["errors_by_kind"]["stream_reset"]
    assert r["errors"] == refused
    assert r["requests"] == 200 == p.answered + refused
    assert r["iterations"]["started"] == 200
