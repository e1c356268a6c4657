"""An example LoadPilot scenario. Edit it to describe your own traffic.

Try it against the bundled demo service:

    loadpilot demo-api --port 8000 &
    loadpilot run scenarios/example.py --target http://127.0.0.1:8000

Check it without sending anything:

    loadpilot run scenarios/example.py --target http://127.0.0.1:8000 --dry-run

While it runs, LoadPilot serves Prometheus metrics on :9090/metrics (on
loopback; add `--metrics-host 0.0.0.0` so the containers below reach it);
start the bundled Prometheus + Grafana with
`docker compose -f monitoring/docker-compose.yml up -d` and open
http://localhost:3000 to watch the "LoadPilot" dashboard.
"""
from loadpilot import LoadClient, VUser, scenario, task


# rps is the arrival rate of task iterations per second. In "ramp" mode the
# rate climbs from 0 to rps over ramp_up, then holds for duration. Breaking a
# threshold makes `loadpilot run` exit with code 1 (handy in CI).
@scenario(rps=50, duration="30s", ramp_up="10s", mode="ramp",
          thresholds={"p99_ms": 500, "error_rate": 1.0})
class Browse(VUser):
    """Browse the catalogue and now and then place an order."""

    # Each arrival runs one task, picked at random by weight: here listing
    # products is six times as common as placing an order. The method name
    # ("products") is the task label in the dashboard and the metrics.
    @task(weight=6)
    def products(self, client: LoadClient):
        client.get("/api/products", params={"page": 1})

    @task(weight=3)
    def product(self, client: LoadClient):
        # `name` groups URLs that differ only by an id under one label.
        client.get("/api/products/42", name="/api/products/{id}")

    @task(weight=1)
    def order(self, client: LoadClient):
        client.post("/api/orders", json={"product_id": 42, "qty": 1})
