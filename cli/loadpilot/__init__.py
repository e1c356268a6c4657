"""LoadPilot: load tests written as Python classes, run by a native engine.

    from loadpilot import VUser, scenario, task, LoadClient

    @scenario(rps=200, duration="30s", ramp_up="5s")
    class Browse(VUser):
        @task(weight=5)
        def products(self, client: LoadClient):
            client.get("/api/products", params={"page": 1})

Run it with ``loadpilot run FILE.py --target http://127.0.0.1:8000``.
Rows of test data from CSV files: ``loadpilot.data.csv("users.csv")``.
Numbers of your own: ``loadpilot.metrics.trend("cart_items").add(3)``.
"""

from . import data, metrics
from .client import BodyTooLarge, HTTPError, LoadClient, Response
from ._grpc import GrpcResponse
from ._wait import between, constant, constant_pacing
from ._websocket import WebSocketClosed, WebSocketError, WebSocketTimeout
from .dsl import VUser, scenario, task

__all__ = [
    "BodyTooLarge",
    "GrpcResponse",
    "HTTPError",
    "LoadClient",
    "Response",
    "VUser",
    "WebSocketClosed",
    "WebSocketError",
    "WebSocketTimeout",
    "between",
    "data",
    "metrics",
    "constant",
    "constant_pacing",
    "scenario",
    "task",
]
__version__ = "0.1.0"
