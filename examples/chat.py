"""A chat client over WebSocket: each iteration opens a connection, sends a
few messages and waits for each echo (a round trip), and a second task
listens on a broadcast room while it speaks in it.

Run it against the bundled demo API (its /ws/echo and /ws/broadcast):
    loadpilot demo-api --port 8000 &
    loadpilot run examples/chat.py --target http://127.0.0.1:8000

The summary's Tasks table shows the opens ("echo connect", "ws connect")
and the round trips ("echo", "room") as requests; its "websocket" line the
messages and bytes each way and the closes by code (docs/protocols.md#websocket).
"""
from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=20, duration="10s", ramp_up="2s", thresholds={"p99_ms": 200, "error_rate": 1.0})
class Chat(VUser):
    """Talk to an echo service; speak in a room."""

    @task(weight=3)
    def talk(self, client: LoadClient):
        with client.websocket("/ws/echo", name="echo") as ws:
            for i in range(3):
                ws.send(f"message {i}")
                assert ws.recv(timeout=5) == f"message {i}"

    @task(weight=1)
    async def room(self, client: LoadClient):
        async with client.websocket("/ws/broadcast", name="room") as ws:
            ws.send("hello, room")
            # Other users' messages may come first: read until our own.
            while await ws.recv(timeout=5) != "hello, room":
                pass
