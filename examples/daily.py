"""A day's traffic in two minutes, drawn by a function: shape() returns the
rate at t seconds, or None to end (docs/scenarios.md#shapes).

    loadpilot run examples/daily.py --target http://127.0.0.1:8000
"""
import math

from loadpilot import VUser, scenario, task


@scenario(thresholds={"p99_ms": 250})
class Daily(VUser):
    """A day's rise and fall, from a shape() function."""

    def shape(self, t):
        if t >= 120:
            return None
        # Night at 20/s, the afternoon's peak at 200/s.
        return 110 - 90 * math.cos(2 * math.pi * t / 120)

    @task
    def products(self, client):
        client.get("/api/products")
