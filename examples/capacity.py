"""A capacity search (docs/capacity.md): the highest arrival rate at which
the product list keeps p99 under 100 ms with under 1% errors.

    loadpilot demo-api --port 8000 --capacity 400 &
    loadpilot run examples/capacity.py --target http://127.0.0.1:8000

or, with shorter steps:

    loadpilot find examples/capacity.py --target http://127.0.0.1:8000 --step 3s --warmup 1s
"""
from loadpilot import LoadClient, VUser, scenario, task


@scenario(mode="find", rps_min=100, rps_max=2000,
          thresholds={"p99_ms": 100, "error_rate": 1})
class ProductsCapacity(VUser):
    @task
    def products(self, client: LoadClient):
        client.get("/api/products")
