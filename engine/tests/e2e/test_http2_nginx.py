"""HTTP/2 against nginx (docs/protocols.md): nginx's access log, with
$server_protocol, holds exactly the requests we report, all HTTP/2.0 over
TLS (ALPN) and over h2c; an https:// server without h2 gets HTTP/1.1 in auto
mode and a clear error when HTTP/2 is forced. Skipped when nginx is not
installed (scripts/install-deps.sh installs it for the tests)."""
import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest

from conftest import run_json

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")

CONF = """
worker_processes 1;
daemon on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format proto '$server_port $server_protocol $status';
  access_log {d}/access.log proto;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  ssl_certificate {d}/cert.pem;
  ssl_certificate_key {d}/key.pem;
  server {{
    listen 127.0.0.1:{h2} ssl http2;
    listen 127.0.0.1:{h2c} http2;
    listen 127.0.0.1:{h1} ssl;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(tmp_path):
    d = tmp_path / "nginx"
    d.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    ports = {"h2": free_port(), "h2c": free_port(), "h1": free_port()}
    (d / "nginx.conf").write_text(CONF.format(d=d, **ports))
    subprocess.run(["nginx", "-c", str(d / "nginx.conf"), "-p", str(d)], check=True,
                   capture_output=True)
    deadline = time.monotonic() + 10
    while not (d / "nginx.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    class Nginx:
        def url(self, kind):
            scheme = "http" if kind == "h2c" else "https"
            return f"{scheme}://127.0.0.1:{ports[kind]}"

        def log(self, kind):
            """Counter of (protocol, status) logged on KIND's port."""
            text = (d / "access.log").read_text() if (d / "access.log").exists() else ""
            return Counter((p, s) for port, p, s in (line.split() for line in text.splitlines())
                           if port == str(ports[kind]))
    yield Nginx()
    subprocess.run(["kill", (d / "nginx.pid").read_text().strip()], check=False)


SCENARIO = """
from loadpilot import scenario, task

@scenario(rps=200, duration="2s", ramp_up=0{extra})
class Nginx:
    @task
    def tiny(self, client):
        client.get("/tiny")
"""


def wait_for_log(nginx, kind, total):
    # nginx writes a request's log line when it is done; give it a moment.
    deadline = time.monotonic() + 5
    while sum(nginx.log(kind).values()) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    return nginx.log(kind)


@pytest.mark.parametrize("kind,extra", [("h2", ""), ("h2c", ', http_version="2"')])
def test_nginx_logs_exactly_our_requests_all_http2(nginx, tmp_path, kind, extra):
    path = tmp_path / "s.py"
    path.write_text(SCENARIO.format(extra=extra))
    proc, r = run_json(path, nginx.url(kind), tmp_path, "--insecure", "--max-connections", "2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert r["requests"] == 400 and r["errors"] == 0
    assert wait_for_log(nginx, kind, 400) == Counter({("HTTP/2.0", "200"): 400})
    assert r["protocol"]["name"] == "HTTP/2"


def test_an_https_server_without_h2_gets_http1_in_auto_and_a_clear_error_when_forced(
        nginx, tmp_path):
    path = tmp_path / "s.py"
    path.write_text(SCENARIO.format(extra=""))
    proc, r = run_json(path, nginx.url("h1"), tmp_path, "--insecure", "--max-connections", "2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert r["protocol"] == {"name": "HTTP/1.1", "http1_requests": 400, "http2_requests": 0}
    assert wait_for_log(nginx, "h1", 400) == Counter({("HTTP/1.1", "200"): 400})

    proc, r = run_json(path, nginx.url("h1"), tmp_path, "--insecure", "--http2",
                       "--duration", "1s", "--rps", "20")
    assert proc.returncode != 0
    assert r["errors_by_kind"]["connect"] == r["requests"] == 20
    assert "HTTP/2 refused" in r["top_errors"][0]["message"]
    assert "ALPN" in r["top_errors"][0]["message"]
