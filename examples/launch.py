"""A launch day as a table of stages: warm up, hold, the announcement's
surge, and the evening's slow fall (docs/scenarios.md#stages).

    loadpilot run examples/launch.py --target http://127.0.0.1:8000
"""
from loadpilot import VUser, scenario, task


@scenario(
    stages=[
        ("10s", 50),   # warm up to 50 iterations/s
        ("30s", 50),   # hold
        ("5s", 400),   # the announcement
        ("20s", 400),  # hold the surge
        ("15s", 0),    # the evening
    ],
    thresholds={"p99_ms": 250, "error_rate": 1.0},
)
class Launch(VUser):
    """Launch day: a table of stages."""

    @task(weight=4)
    def products(self, client):
        client.get("/api/products")

    @task(weight=1)
    def product(self, client):
        client.get("/api/products/7")
