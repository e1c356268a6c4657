"""A closed model: a back office of 40 staff, each logged in for the whole
run, working through orders with a few seconds of thought between clicks.
Their number ramps up over 10 s, as people arriving at work; the request
rate is whatever 40 people with that think time make against the target,
and falls if the target slows down (docs/scenarios.md#open-and-closed-models-which-to-use).

Run it against the bundled demo API:
    loadpilot demo-api --port 8000 --latency-ms 20 &
    loadpilot run examples/staff.py --target http://127.0.0.1:8000

`--users 80` runs it with twice the staff.
"""
import random

from loadpilot import LoadClient, VUser, between, scenario, task


@scenario(users=40, wait=between(0.5, 2), duration="30s", ramp_up="10s",
          thresholds={"p99_ms": 500, "error_rate": 1.0})
class Staff(VUser):
    """Back-office staff: log in once, list orders, look at products, file orders."""

    def on_start(self, client: LoadClient):
        resp = client.post("/auth/login", json={"user": "staff", "pass": "demo"})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]

    def on_stop(self, client: LoadClient):
        client.post("/auth/logout", headers=self.auth())

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    @task(weight=4)
    def orders(self, client: LoadClient):
        client.get("/api/orders", params={"page": random.randint(1, 5)}, headers=self.auth())

    @task(weight=3)
    def product(self, client: LoadClient):
        client.get(f"/api/products/{random.randint(1, 1000)}", headers=self.auth(),
                   name="/api/products/{id}")

    @task
    def file_order(self, client: LoadClient):
        client.post("/api/orders", json={"product_id": random.randint(1, 1000), "qty": 1},
                    headers=self.auth()).raise_for_status()
