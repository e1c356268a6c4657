"""The scenario `make demo` runs against `loadpilot demo-api`.

Run it yourself:
    loadpilot demo-api --port 8000 &
    loadpilot run examples/checkout.py --target http://127.0.0.1:8000
"""
from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=300, duration="15s", ramp_up="5s", mode="ramp",
          thresholds={"p99_ms": 250, "error_rate": 2.0})
class Checkout(VUser):
    """Browse the catalogue, look at a product, place an order."""

    @task(weight=5)
    def products(self, client: LoadClient):
        client.get("/api/products", headers={"Accept": "application/json"})

    @task(weight=3)
    def product(self, client: LoadClient):
        client.get("/api/products/42")

    @task(weight=1)
    def order(self, client: LoadClient):
        client.post("/api/orders", json={"product_id": 42, "qty": 1})

    @task(weight=1)
    def health(self, client: LoadClient):
        client.get("/health")
