"""Test data from CSV files: each user logs in as a different customer from
customers.csv, then looks at products drawn at random from products.csv
(docs/scenarios.md#test-data-from-csv-files).

Run it against the bundled demo API:
    loadpilot demo-api --port 8000 --latency-ms 20 &
    loadpilot run examples/customers.py --target http://127.0.0.1:8000

The 10 users take 10 of the 12 customers, one each. With `--users 13` the
13th user finds none left: its on_start fails with DataExhausted, which the
summary lists with its count.
"""
import loadpilot.data
from loadpilot import LoadClient, VUser, between, scenario, task

# Read once, when the scenario is loaded; paths are relative to this file.
customers = loadpilot.data.csv("customers.csv", order="sequential")  # each row once
products = loadpilot.data.csv("products.csv", order="random")  # any row, each time


@scenario(users=10, wait=between(0.2, 1), duration="20s", ramp_up="5s",
          thresholds={"p99_ms": 500, "error_rate": 1.0})
class Customer(VUser):
    """Log in as a customer of customers.csv, browse products of products.csv."""

    def on_start(self, client: LoadClient):
        self.customer = customers.next()  # {"email": ..., "password": ..., "country": ...}
        resp = client.post("/auth/login", json={"user": self.customer["email"],
                                                "pass": self.customer["password"]})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    @task(weight=3)
    def product(self, client: LoadClient):
        product = products.next()
        client.get(f"/api/products/{product['id']}", headers=self.auth(),
                   name="/api/products/{id}")

    @task
    def orders(self, client: LoadClient):
        client.get("/api/orders", params={"country": self.customer["country"]},
                   headers=self.auth())
