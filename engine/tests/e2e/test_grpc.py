"""gRPC unary calls (docs/protocols.md#grpc): client.grpc() in plain and
async tasks against demo-api's demo.Shop over h2c and TLS, with exact
books, statuses by code equal to what the server was asked to answer, and
the server's own count; a .proto that does not parse, a method or a field
that does not exist, each named before anything is sent (or at the call,
for a dict built at run time); gRPC on a target spoken to in HTTP/1.1
fails clearly."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, DemoApi, run_json, task_row

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class Demo(DemoApi):
    def stats(self):
        flag = "--http2" if self.url.startswith("https") else "--http2-prior-knowledge"
        out = subprocess.run(["curl", "-sk", flag, "--max-time", "5", self.url + "/stats"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)


@pytest.fixture
def demo():
    made = []

    def make(*extra):
        made.append(Demo(*extra))
        return made[-1]
    yield make
    for d in made:
        d.close()


# Every 4th call asks for an item that does not exist (NOT_FOUND); every
# 10th asks Fail for PERMISSION_DENIED. The counter is the process's, so
# the statuses add up exactly whichever task each arrival picked.
SHOP = """
from loadpilot import scenario, task

calls = [0]

def next_call():
    calls[0] += 1
    n = calls[0]
    if n % 10 == 0:
        return "demo.Shop/Fail", {"code": 7, "message": "no 100% sure"}, 7
    if n % 4 == 0:
        return "demo.Shop/GetItem", {"id": 5000 + n}, 5
    return "demo.Shop/GetItem", {"id": n}, 0

def verify(r, request, want):
    assert r.status == want, (r.status, r.error)
    if want == 0:
        assert r.ok and r.error is None
        assert r.message == {"id": request["id"], "name": f"item-{request['id']}",
                             "price_cents": request["id"] * 100,
                             "tags": ["demo", "odd" if request["id"] % 2 else "even"]}
    elif want == 5:
        assert not r.ok and r.status_name == "NOT_FOUND" and r.message == {}
        assert r.details == f"item {request['id']} not found", r.details
    else:
        assert r.details == "no 100% sure" and r.status_name == "PERMISSION_DENIED"

@scenario(rps=50, duration="2s", ramp_up=0{extra})
class Shop:
    @task
    def item(self, client):
        method, request, want = next_call()
        verify(client.grpc(method, request, proto="shop.proto"), request, want)

    @task
    async def item_async(self, client):
        method, request, want = next_call()
        verify(await client.grpc(method, request, proto="shop.proto", name="async"),
               request, want)
"""


def write_scenario(tmp_path, text):
    shutil.copy(EXAMPLES / "shop.proto", tmp_path / "shop.proto")
    path = tmp_path / "s.py"
    path.write_text(text)
    return path


def check_books(r, api, n):
    assert r["requests"] == n, r
    ok, denied = n - n // 10, n // 10
    missing = len([i for i in range(1, n + 1) if i % 10 and i % 4 == 0])
    ok -= missing
    assert r["grpc_status"] == {"0": ok, "5": missing, "7": denied}, r["grpc_status"]
    assert r["errors_by_kind"]["grpc"] == missing + denied == r["errors"]
    assert r["errors_by_kind"]["exception"] == 0
    it = r["iterations"]
    assert it["planned"] == it["started"] == it["finished"] == n
    assert r["protocol"]["http2_requests"] == n
    assert api.stats()["routes"]["POST /demo.Shop/{method}"] == n


def test_unary_calls_over_h2c_count_exact_books_and_statuses(demo, tmp_path):
    api = demo()
    path = write_scenario(tmp_path, SHOP.replace("{extra}", ', http_version="2"'))
    proc, r = run_json(path, api.url, tmp_path)
    check_books(r, api, 100)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "grpc" in proc.stdout and "NOT_FOUND (5) x" in proc.stdout, proc.stdout
    messages = json.dumps(r)
    assert "gRPC NOT_FOUND (5) /demo.Shop/GetItem" in messages
    assert task_row(r, "item")["requests"] + task_row(r, "item_async")["requests"] == 100


def test_unary_calls_over_tls(demo, tmp_path):
    api = demo("--tls")
    path = write_scenario(tmp_path, SHOP.replace("{extra}", "").replace("rps=50", "rps=20"))
    proc, r = run_json(path, api.url, tmp_path, "--insecure")
    check_books(r, api, 40)
    assert r["protocol"]["name"] == "HTTP/2"


ONE_CALL = """
from loadpilot import scenario, task

@scenario(rps=5, duration="1s", ramp_up=0, http_version="2")
class Bad:
    @task
    def call(self, client):
        client.grpc({method!r}, {request}, proto={proto!r})
"""


def test_a_proto_that_does_not_parse_stops_the_run_before_traffic(demo, tmp_path):
    api = demo()
    (tmp_path / "bad.proto").write_text(
        'syntax = "proto3";\npackage demo;\nmessage A {\n  int32 id = 1\n}\n')
    path = write_scenario(tmp_path, ONE_CALL.format(method="demo.Shop/GetItem", request="{}",
                                                    proto="bad.proto"))
    proc = subprocess.run([BIN, "run", str(path), "--target",
                           api.url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "s.py:8: client.grpc(): " in proc.stderr, proc.stderr
    assert "bad.proto:5:1: Expected \";\"." in proc.stderr, proc.stderr
    assert api.stats()["total"] == 0


@pytest.mark.parametrize("method,request_text,says", [
    ("demo.Shop/Get", '{"id": 1}',
     "service demo.Shop has no method 'Get' (methods: GetItem, Fail)"),
    ("demo.Shopp/GetItem", '{"id": 1}', "no service 'demo.Shopp' (services: demo.Shop)"),
    ("demo.Shop/GetItem", '{"idd": 1}',
     "request.idd: message demo.GetItemRequest has no field 'idd' (fields: id)"),
])
def test_a_literal_call_that_cannot_be_made_stops_the_run_before_traffic(
        demo, tmp_path, method, request_text, says):
    api = demo()
    path = write_scenario(tmp_path, ONE_CALL.format(method=method, request=request_text,
                                                    proto="shop.proto"))
    proc = subprocess.run([BIN, "run", str(path), "--target",
                           api.url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "s.py:8: client.grpc(" in proc.stderr and says in proc.stderr, proc.stderr
    assert api.stats()["total"] == 0


def test_a_field_of_a_dict_made_at_run_time_fails_at_the_call_unsent(demo, tmp_path):
    api = demo()
    path = write_scenario(tmp_path, ONE_CALL.format(
        method="demo.Shop/GetItem", request='dict(nme="x")', proto="shop.proto"))
    proc, r = run_json(path, api.url, tmp_path)
    assert proc.returncode == 1
    assert r["requests"] == 0
    assert r["errors_by_kind"]["exception"] == 5
    assert "request.nme: message demo.GetItemRequest has no field 'nme'" in json.dumps(r)
    assert api.stats()["total"] == 0


def test_grpc_to_a_target_spoken_to_in_http1_fails_clearly(demo, tmp_path):
    api = demo()
    path = write_scenario(tmp_path, ONE_CALL.format(
        method="demo.Shop/GetItem", request='{"id": 1}', proto="shop.proto").replace(
            ', http_version="2"', ""))
    proc, r = run_json(path, api.url, tmp_path)
    assert proc.returncode == 1
    assert r["requests"] == r["errors_by_kind"]["protocol"] == 5
    assert "gRPC needs HTTP/2" in json.dumps(r)
    assert r["grpc_status"] is None


AGENTS = """
import random
from loadpilot import scenario, task

@scenario(rps=40, duration="2s", ramp_up=0, http_version="2")
class Shop:
    @task
    def item(self, client):
        client.grpc("demo.Shop/GetItem", {"id": random.choice([0, 1])}, proto="shop.proto")
"""


def test_statuses_merge_exactly_across_local_agents(demo, tmp_path):
    api = demo()
    path = write_scenario(tmp_path, AGENTS)
    proc, r = run_json(path, api.url, tmp_path, "--agents", "2", "--max-connections", "4")
    assert r["requests"] == 80 == api.stats()["routes"]["POST /demo.Shop/{method}"]
    statuses = r["grpc_status"]
    assert set(statuses) <= {"0", "5"}
    assert statuses.get("0", 0) + statuses.get("5", 0) == 80
    assert r["errors"] == r["errors_by_kind"]["grpc"] == statuses.get("5", 0)


def test_the_proto_travels_with_the_bundle_to_external_agents(demo, tmp_path):
    # Agents on other machines get the scenario folder's bundle: the .proto
    # (in a subfolder here) must be in it, or their first call could not
    # be made.
    from test_distributed import NATS_SERVER, Agent, Nats, external
    if not Path(NATS_SERVER).exists():
        pytest.skip("nats-server is not installed (scripts/install-deps.sh)")
    api = demo()
    (tmp_path / "protos").mkdir()
    shutil.copy(EXAMPLES / "shop.proto", tmp_path / "protos" / "shop.proto")
    path = tmp_path / "s.py"
    path.write_text(AGENTS.replace('proto="shop.proto"', 'proto="protos/shop.proto"'))
    nats = Nats()
    agents = [Agent(nats, f"g{i}") for i in (1, 2)]
    try:
        for a in agents:
            assert a.wait_for("waiting for a run"), a.lines
        proc, r = run_json(path, api.url, tmp_path, "--no-report", *external(nats, 2))
    finally:
        for a in agents:
            a.close()
        nats.stop()
    assert proc.returncode in (0, 1), proc.stderr
    assert r["requests"] == 80 == api.stats()["routes"]["POST /demo.Shop/{method}"]
    assert sum(r["grpc_status"].values()) == 80
    assert r["errors_by_kind"]["exception"] == 0
