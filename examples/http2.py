"""HTTP/2: many requests in flight over a few connections, latency from the
intended start as over HTTP/1.1 (docs/protocols.md).

Over TLS, where the server offers h2 in ALPN:
    loadpilot demo-api --port 8443 --tls &
    loadpilot run examples/http2.py --target https://127.0.0.1:8443 --insecure
Cleartext with prior knowledge (h2c), against the plain demo API:
    loadpilot demo-api --port 8000 &
    loadpilot run examples/http2.py --target http://127.0.0.1:8000 --http2
"""
from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=500, duration="20s", ramp_up="5s", max_streams=64,
          thresholds={"p99_ms": 200, "error_rate": 1.0})
class Http2Browse(VUser):
    """Two fixed requests (sent natively) and one Python task that checks
    which HTTP its response came over."""

    @task(weight=5)
    def products(self, client: LoadClient):
        client.get("/api/products")

    @task(weight=2)
    def product(self, client: LoadClient):
        client.get("/api/products/7")

    @task(weight=1)
    def user(self, client: LoadClient):
        r = client.get("/api/user", name="user")
        if r.http_version != "2":
            raise AssertionError(f"expected HTTP/2, got HTTP/{r.http_version}")
