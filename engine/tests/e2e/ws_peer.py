"""A small WebSocket peer on loopback for the hostile-peer tests
(test_websocket.py): RFC 6455 by hand over asyncio raw sockets, so that it
can misbehave in ways no real server library allows. Runs in a thread of
the test process; each connection is handled by BEHAVIOUR."""
import asyncio
import base64
import hashlib
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def handshake(reader, writer, status=101):
    head = await reader.readuntil(b"\r\n\r\n")
    key = b""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    if status != 101:
        writer.write(f"HTTP/1.1 {status} Nope\r\nContent-Length: 0\r\n"
                     f"Connection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()
        return False
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    await writer.drain()
    return True


async def read_frame(reader):
    """(opcode, payload) of the next frame from a client (masked)."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return b0 & 0x0F, bytes(data)


def frame_head(opcode, length):
    if length < 126:
        return bytes([0x80 | opcode, length])
    if length < 65536:
        return bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
    return bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)


def frame(opcode, payload):
    return frame_head(opcode, len(payload)) + payload


class Peer:
    """Serves BEHAVIOUR(reader, writer) per connection on 127.0.0.1."""

    def __init__(self, behaviour, ssl=None):
        self.behaviour = behaviour
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self._run, args=(start,), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, start):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            await self.behaviour(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def ws_stats(url):
    """demo-api's /ws/stats (demo/ws_routes.h): the one message it sends,
    parsed; the close it then starts is answered."""
    import json
    import os
    import socket

    host, port = url.split("://")[1].rsplit(":", 1)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"GET /ws/stats HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        f = s.makefile("rb")
        status = f.readline()
        assert b" 101 " in status, status
        while f.readline() not in (b"\r\n", b""):
            pass

        def frame_in():
            b0, b1 = f.read(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", f.read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", f.read(8))
            return b0 & 0x0F, f.read(n)

        opcode, payload = frame_in()
        assert opcode == 1, opcode
        opcode, _ = frame_in()
        assert opcode == 8, opcode
        s.sendall(bytes([0x88, 0x82, 0, 0, 0, 0]) + struct.pack("!H", 1000))  # masked, zero key
        return json.loads(payload)
