"""gRPC: unary calls over the run's HTTP/2 connections, paced and measured
like HTTP requests (docs/protocols.md#grpc). shop.proto, beside this file,
declares the service; `loadpilot demo-api` serves it.

Cleartext with prior knowledge (h2c):
    loadpilot demo-api --port 8000 &
    loadpilot run examples/grpc_shop.py --target http://127.0.0.1:8000
Over TLS:
    loadpilot demo-api --port 8443 --tls &
    loadpilot run examples/grpc_shop.py --target https://127.0.0.1:8443 --insecure
"""
import random

from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=200, duration="20s", ramp_up="5s", http_version="2",
          thresholds={"p99_ms": 200})
class GrpcShop(VUser):
    """Items that exist and some that do not (NOT_FOUND, counted under the
    error kind `grpc` and in the summary's statuses by code)."""

    @task(weight=9)
    def get_item(self, client: LoadClient):
        item_id = random.randint(1, 1100)  # 1..1000 exist
        r = client.grpc("demo.Shop/GetItem", {"id": item_id}, proto="shop.proto")
        if r.ok and r.message["id"] != item_id:
            raise AssertionError(f"asked for item {item_id}, got {r.message}")

    @task(weight=1)
    async def get_two(self, client: LoadClient):
        # Two calls at once on the same connections (two HTTP/2 streams).
        a = client.grpc("demo.Shop/GetItem", {"id": 1}, proto="shop.proto", name="pair")
        b = client.grpc("demo.Shop/GetItem", {"id": 2}, proto="shop.proto", name="pair")
        first, second = await a, await b
        if not (first.ok and second.ok):
            raise AssertionError(f"{first.status_name} / {second.status_name}")
