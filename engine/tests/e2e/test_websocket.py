"""WebSocket in Python tasks (docs/protocols.md#websocket): the real binary
against demo-api's /ws/echo and /ws/broadcast with exact counts, and
against hostile peers on loopback (ws_peer.py), each of which must end on
time with its errors by kind."""
import asyncio
import json
import os
import ssl
import struct
import subprocess
import time

import pytest

from conftest import BIN, SANITIZER, run_json, task_row

from ws_peer import Peer, frame, frame_head, handshake, read_frame, ws_stats

ECHO = """
from loadpilot import VUser, scenario, task


@scenario(rps=10, duration="1s", ramp_up="0s")
class Chat(VUser):
    @task
    def talk(self, client):
        with client.websocket("/ws/echo", name="echo") as ws:
            for i in range(3):
                ws.send(f"hello {i}")
                assert ws.recv(timeout=5) == f"hello {i}"
            ws.send(b"\\x00\\x01\\x02")
            assert ws.recv(timeout=5, name="binary") == b"\\x00\\x01\\x02"
"""


def named(row):
    return {n["name"]: n["requests"] for n in row["named_requests"]}


def test_echo_counts_exact(demo_api, scenario_file, tmp_path):
    proc, r = run_json(scenario_file(ECHO), demo_api.url, tmp_path, "--no-report")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    row = task_row(r, "talk")
    # 10 iterations: one open and four round trips each
    assert row["iterations"] == 10
    assert row["requests"] == 50 and row["errors"] == 0
    assert named(row) == {"echo": 30, "echo connect": 10, "binary": 10}
    ws = r["websocket"]
    assert ws == {"opened": 10, "messages_sent": 40, "messages_received": 40,
                  "bytes_sent": 10 * (3 * 7 + 3), "bytes_received": 10 * (3 * 7 + 3),
                  "closes": {"1000": 10}}
    assert "websocket   10 opened; messages sent 40" in proc.stdout
    # The server counted the same: every message sent reached it, every
    # echo it wrote was received, every close was the client's.
    assert ws_stats(demo_api.url) == {"accepted": 10, "received": 40, "sent": 40, "closed": 10}


def test_report_has_a_websocket_card(demo_api, scenario_file, tmp_path):
    from test_report import BROWSER, open_in_browser

    report = tmp_path / "report.html"
    proc, r = run_json(scenario_file(ECHO), demo_api.url, tmp_path, "--report", str(report))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    if not BROWSER:  # not opened under a sanitizer (test_report.BROWSER)
        return
    seen = open_in_browser(report, "websocket")
    assert seen["cards"]["WebSocket"] == [
        "10 opened", "40 messages sent (240 B), 40 received (240 B); closes 1000 \u00d710"]


BROADCAST = """
from loadpilot import VUser, scenario, task


@scenario(rps=5, duration="1s", ramp_up="0s")
class Room(VUser):
    @task
    async def shout(self, client):
        async with client.websocket("/ws/broadcast") as a:
            async with client.websocket("/ws/broadcast") as b:
                a.send("hi")
                assert await b.recv(timeout=5) == "hi"
                assert await a.recv(timeout=5, name="echoed") == "hi"
"""


def test_broadcast_async(demo_api, scenario_file, tmp_path):
    # One VUser at a time, so each broadcast reaches exactly its own two
    # connections.
    proc, r = run_json(scenario_file(BROADCAST), demo_api.url, tmp_path, "--max-vusers", "1",
                       "--rps", "max", "--duration", "1s")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    row = task_row(r, "shout")
    n = row["iterations"]
    assert n > 0 and row["errors"] == 0
    its = r["iterations"]
    assert its["started"] == its["finished"] + its["cut_off"], its
    # Per iteration: two opens, one round trip (b's message was pushed, not
    # asked for: no request). The closed loop keeps an iteration in flight
    # to the end; one cut off there (a slow sanitizer build) counted what
    # it sent, at most its three.
    extra = row["requests"] - 3 * n
    assert 0 <= extra <= 3 * its["cut_off"], (row, its)
    if its["cut_off"]:
        return
    assert named(row) == {"ws connect": 2 * n, "echoed": n}
    ws = r["websocket"]
    assert (ws["opened"], ws["messages_sent"], ws["messages_received"]) == (2 * n, n, 2 * n)
    assert ws["closes"] == {"1000": 2 * n}
    assert ws_stats(demo_api.url) == {"accepted": 2 * n, "received": n, "sent": 2 * n,
                                      "closed": 2 * n}


def run_against(peer_behaviour, body, scenario_file, tmp_path, rps=2, extra=()):
    peer = Peer(peer_behaviour)
    try:
        source = f"""
from loadpilot import VUser, scenario, task


@scenario(rps={rps}, duration="1s", ramp_up="0s")
class Hostile(VUser):
    @task
    def talk(self, client):
{body}
"""
        started = time.monotonic()
        proc, r = run_json(scenario_file(source), peer.url, tmp_path, *extra, timeout=60)
        return proc, r, time.monotonic() - started
    finally:
        peer.close()


def kinds(r):
    return {k: v for k, v in r["errors_by_kind"].items() if v}


def test_refused_upgrade_is_a_connect_error(scenario_file, tmp_path):
    async def refuse(reader, writer):
        await handshake(reader, writer, status=403)

    body = """        with client.websocket("/ws/chat") as ws:
            ws.send("never")
"""
    proc, r, _ = run_against(refuse, body, scenario_file, tmp_path)
    row = task_row(r, "talk")
    assert row["requests"] == 2 and row["errors"] == 2
    assert kinds(r) == {"connect": 2}  # counted once: not again as an exception
    assert "WebSocket upgrade refused: HTTP 403" in r["top_errors"][0]["message"]
    assert r["websocket"] is None  # nothing opened, sent or closed


async def answer_close(reader, writer):
    """Reads until the client's close, answers it."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 8:
            writer.write(frame(8, payload[:2]))
            await writer.drain()
            return


def test_peer_that_never_answers_a_recv(scenario_file, tmp_path):
    async def silent(reader, writer):
        if await handshake(reader, writer):
            await answer_close(reader, writer)

    body = """        with client.websocket("/ws/chat") as ws:
            ws.send("ping")
            ws.recv(timeout=0.5)
"""
    proc, r, took = run_against(silent, body, scenario_file, tmp_path)
    row = task_row(r, "talk")
    # Each iteration: an open (ok) and a round trip that timed out, counted
    # once (the WebSocketTimeout the task let through is not counted again).
    assert row["iterations"] == 2 and row["requests"] == 4
    assert kinds(r) == {"timeout": 2}
    assert "no WebSocket message within timeout=0.5s" in r["top_errors"][0]["message"]
    assert r["websocket"]["closes"] == {"1000": 2}
    assert took < 20


def test_a_recv_waiting_at_the_end_of_the_run_is_cut_off_on_time(scenario_file, tmp_path):
    async def silent(reader, writer):
        if await handshake(reader, writer):
            await answer_close(reader, writer)

    body = """        with client.websocket("/ws/chat") as ws:
            ws.send("ping")
            ws.recv(timeout=60)
"""
    proc, r, took = run_against(silent, body, scenario_file, tmp_path, extra=("--drain", "1s"))
    # The 1 s run and its 1 s drain, not recv's 60 s: the iterations still
    # waiting are cut off, their connections dropped.
    assert took < 15
    its = r["iterations"]
    assert (its["started"], its["finished"], its["cut_off"]) == (2, 0, 2)
    assert task_row(r, "talk")["requests"] == 2  # the opens
    assert r["websocket"]["opened"] == 2 and r["websocket"]["closes"] == {}


def test_peer_that_never_answers_the_close(scenario_file, tmp_path):
    async def deaf(reader, writer):
        if not await handshake(reader, writer):
            return
        while True:  # echoes messages, ignores the close frame, never closes
            opcode, payload = await read_frame(reader)
            if opcode in (1, 2):
                writer.write(frame(opcode, payload))
                await writer.drain()

    body = """        with client.websocket("/ws/chat", timeout=1) as ws:
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
"""
    proc, r, took = run_against(deaf, body, scenario_file, tmp_path)
    row = task_row(r, "talk")
    assert row["iterations"] == 2 and row["requests"] == 4
    # The close timed out after 1 s: an error of the iteration (not a request).
    assert kinds(r) == {"timeout": 2}
    assert "did not answer the close within 1 s" in r["top_errors"][0]["message"]
    assert r["websocket"]["closes"] == {"1006": 2}
    assert r["iterations"]["cut_off"] == 0
    assert took < 20


def test_peer_that_closes_is_counted_by_code(scenario_file, tmp_path):
    async def leaves(reader, writer):
        if await handshake(reader, writer):
            await read_frame(reader)
            writer.write(frame(8, struct.pack("!H", 1001) + b"bye"))
            await writer.drain()
            await read_frame(reader)  # the client's answer

    body = """        with client.websocket("/ws/chat") as ws:
            ws.send("ping")
            ws.recv(timeout=5)
"""
    proc, r, _ = run_against(leaves, body, scenario_file, tmp_path)
    assert kinds(r) == {"reset": 2}
    assert "WebSocket closed by peer (code 1001)" in r["top_errors"][0]["message"]
    assert r["websocket"]["closes"] == {"1001": 2}


def test_peer_that_sends_100_mb_is_refused_from_the_header(scenario_file, tmp_path):
    sent = []

    async def flood(reader, writer):
        if not await handshake(reader, writer):
            return
        await read_frame(reader)
        size = 100 * 1024 * 1024
        writer.write(frame_head(2, size))
        chunk = b"x" * (1024 * 1024)
        for _ in range(100):  # as much of it as the client takes
            writer.write(chunk)
            await writer.drain()
            sent.append(len(chunk))

    source = """
from loadpilot import VUser, scenario, task


@scenario(rps=2, duration="1s", ramp_up="0s")
class Hostile(VUser):
    @task
    def talk(self, client):
        with client.websocket("/ws/chat") as ws:
            ws.send("go")
            ws.recv(timeout=10)
"""
    peer = Peer(flood)
    results = tmp_path / "r.json"
    try:
        started = time.monotonic()
        run = subprocess.Popen(
            [os.path.abspath(BIN), "run", str(scenario_file(source)), "--target", peer.url,
             "--results-json", str(results), "--no-report", "--no-metrics"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # This process's own peak memory (not any other child's).
            _, status, usage = os.wait4(run.pid, 0)
            run.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if run.returncode is None:
                run.kill()
                run.wait()
        took = time.monotonic() - started
    finally:
        peer.close()
    r = json.loads(results.read_text())
    assert kinds(r) == {"protocol": 2}
    assert "WebSocket message larger than max_message=16777216 bytes" in \
        r["top_errors"][0]["message"]
    assert r["websocket"]["messages_received"] == 0
    assert sum(sent) < 100 * 1024 * 1024  # the client stopped reading it
    assert took < 30
    if not SANITIZER:
        # The process never held the message: far below 100 MiB (ru_maxrss in KiB).
        assert usage.ru_maxrss < 90 * 1024, usage.ru_maxrss


def test_wss_through_tls(scenario_file, tmp_path):
    """wss:// for an https:// target: TLS from the engine's OpenSSL, with
    --insecure for the peer's self-signed certificate."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))

    async def echo(reader, writer):
        if not await handshake(reader, writer):
            return
        while True:
            opcode, payload = await read_frame(reader)
            writer.write(frame(opcode, payload if opcode != 8 else payload[:2]))
            await writer.drain()
            if opcode == 8:
                return

    peer = Peer(echo, ssl=context)
    try:
        source = """
from loadpilot import VUser, scenario, task


@scenario(rps=4, duration="1s", ramp_up="0s")
class Secure(VUser):
    @task
    def talk(self, client):
        with client.websocket("/secure") as ws:
            assert ws.url.startswith("wss://127.0.0.1:")
            ws.send("sealed")
            assert ws.recv(timeout=5) == "sealed"
"""
        target = peer.url.replace("http://", "https://")
        proc, r = run_json(scenario_file(source), target, tmp_path, "--insecure", timeout=60)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert task_row(r, "talk")["requests"] == 8
        assert r["websocket"]["opened"] == 4 and r["websocket"]["closes"] == {"1000": 4}
        # Without --insecure the self-signed certificate is refused: a
        # connect error naming the verification failure.
        proc, r = run_json(scenario_file(source), target, tmp_path, timeout=60)
        assert kinds(r) == {"connect": 4}
        assert "TLS handshake failed" in r["top_errors"][0]["message"]
    finally:
        peer.close()


def test_agents_and_prometheus_count_the_same(demo_api, scenario_file, tmp_path):
    """Two local agents: their WebSocket counts merge exactly; the lingering
    /metrics endpoint serves the same figures as the results file."""
    from test_prometheus import free_port, http_get, metrics_env, wait_for

    port = free_port()
    results = tmp_path / "r.json"
    run = subprocess.Popen(
        [os.path.abspath(BIN), "run", str(scenario_file(ECHO)), "--target", demo_api.url,
         "--agents", "2", "--results-json", str(results), "--no-report",
         "--metrics-host", "127.0.0.1", "--metrics-port", str(port), "--metrics-linger", "3s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=metrics_env(),
        cwd=tmp_path)
    try:
        wait_for(results.exists, 60, "the results file")
        time.sleep(0.2)
        body = http_get(f"http://127.0.0.1:{port}/metrics")
        r = json.loads(results.read_text())
        assert r["websocket"] == {"opened": 10, "messages_sent": 40, "messages_received": 40,
                                  "bytes_sent": 240, "bytes_received": 240,
                                  "closes": {"1000": 10}}
        assert task_row(r, "talk")["requests"] == 50
        for line in ("loadpilot_websocket_opened_total 10",
                     'loadpilot_websocket_messages_total{direction="sent"} 40',
                     'loadpilot_websocket_messages_total{direction="received"} 40',
                     'loadpilot_websocket_bytes_total{direction="sent"} 240',
                     'loadpilot_websocket_bytes_total{direction="received"} 240',
                     'loadpilot_websocket_closes_total{code="1000"} 10'):
            assert line + "\n" in body, (line, body[:3000])
        run.communicate(timeout=20)
        assert run.returncode == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
