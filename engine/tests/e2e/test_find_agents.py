"""`loadpilot find` on external agents and on the coordinator service
(docs/capacity.md#agents): every step is a run of those agents, against
`demo-api --capacity 400` behind a real `nats-server` on loopback. The
answer must land within 5% of 400/s, as on one process."""
import os

import pytest

from conftest import SANITIZER, run_loadpilot
from test_coordinator_service import cluster, remote  # noqa: F401
from test_distributed import NATS_SERVER, agents, external, nats  # noqa: F401
from test_find import SCENARIO, find

pytestmark = [
    pytest.mark.skipif(not os.path.exists(NATS_SERVER),
                       reason="nats-server is not installed (scripts/install-deps.sh)"),
    pytest.mark.skipif(SANITIZER != "", reason="a capacity within 5% is a claim about timing, which a sanitizer build's speed decides; the search runs under the sanitizer in test_find.py (docs/testing.md)"),
]

# A narrow bracket keeps the search to a handful of steps, each a run of
# its own on the agents.
BOUNDS = ("--rps-min", "350", "--rps-max", "500")


def check(proc, r, agents_shown):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    c = r["capacity"]
    assert r["agents"] == agents_shown
    assert c["found"] and c["confirmed"] and c["limit"] == "target", c["line"]
    assert abs(c["rps"] - 400) <= 0.05 * 400, c["line"]
    for s in c["steps"]:
        assert s["requests"] > 0, s
        if s["outcome"] == "pass":
            assert s["dropped"] == 0, s


def test_find_on_external_agents(nats, agents, make_demo_api, scenario_file, tmp_path):
    agents("x1", "x2")
    api = make_demo_api("--capacity", "400")
    path = scenario_file(SCENARIO)
    proc, r = find(path, api.url, tmp_path, *BOUNDS, *external(nats, 2), timeout=200)
    check(proc, r, 2)
    # Each step found its agents again.
    assert proc.stderr.count("waiting up to") == len(r["capacity"]["steps"]), proc.stderr


def test_find_on_the_coordinator_service(cluster, make_demo_api, scenario_file, tmp_path):
    service = cluster(1)
    api = make_demo_api("--capacity", "400")
    path = scenario_file(SCENARIO)
    proc, r = find(path, api.url, tmp_path, *BOUNDS, *remote(service), timeout=200)
    check(proc, r, 1)
    assert proc.stderr.count("sending the run to the service") == len(r["capacity"]["steps"])
    # The requests the service's agents sent are the steps' own.
    assert api.stats()["total"] >= sum(s["requests"] for s in r["capacity"]["steps"])


def test_find_without_its_agents_is_exit_2(nats, demo_api, scenario_file, tmp_path):
    """A search whose first step cannot find its agents is refused as `run`
    is: exit 2, the reason, nothing sent, no answer made up."""
    path = scenario_file(SCENARIO)
    proc = run_loadpilot("find", path, "--target", demo_api.url, "--no-report",
                         *external(nats, 2, "--agents-timeout", "1s"), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "waited 1 s for 2 external agents" in proc.stderr, proc.stderr
    assert "no capacity found" not in proc.stdout + proc.stderr
    assert demo_api.stats()["total"] == 0
