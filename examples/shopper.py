"""Virtual users with a session: log in once, browse random products, buy,
log out. Every task body runs as Python on every iteration.

Run it against the bundled demo API:
    loadpilot demo-api --port 8000 --latency-ms 20 &
    loadpilot run examples/shopper.py --target http://127.0.0.1:8000
"""
import asyncio
import random

from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=100, duration="20s", ramp_up="5s", max_vusers=200,
          thresholds={"p99_ms": 500, "error_rate": 1.0})
class Shopper(VUser):
    """Log in, browse, buy, log out."""

    def on_start(self, client: LoadClient):
        resp = client.post("/auth/login", json={"user": "demo", "pass": "demo"})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.seen = []

    def on_stop(self, client: LoadClient):
        client.post("/auth/logout", headers=self.auth())

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    @task(weight=5)
    def browse(self, client: LoadClient):
        product_id = random.randint(1, 1000)
        client.get(f"/api/products/{product_id}", headers=self.auth(),
                   name="/api/products/{id}")
        self.seen.append(product_id)

    def check_browse(self, status_code: int, body) -> None:
        assert status_code == 200, f"status {status_code}"
        assert body["id"] == self.seen[-1], "wrong product"

    @task(weight=2)
    async def buy(self, client: LoadClient):
        catalogue, user = await asyncio.gather(
            client.get("/api/products", headers=self.auth()),
            client.get("/api/user", headers=self.auth()))
        item = random.choice(catalogue.json())["id"]
        await client.post("/api/orders", json={"product_id": item, "qty": 1},
                          headers=self.auth())

    @task(weight=1)
    def account(self, client: LoadClient):
        user, orders = client.batch([
            {"path": "/api/user", "headers": self.auth()},
            {"path": "/api/orders", "headers": self.auth()},
        ])
        assert user.ok and orders.ok
