"""A stages table and a shape over a real nats-server: the plan carries
the table, and the agents' shares add up to the curve's integral
(docs/scenarios.md#stages)."""
from conftest import run_json
from test_distributed import agents, external, nats  # noqa: F401 - fixtures
from test_stages import FIVE, FIVE_INTEGRAL, books_balance

SHAPE = """
from loadpilot import VUser, scenario, task

@scenario
class Shaped(VUser):
    def shape(self, t):
        if t >= 2:
            return None
        return 40 if t < 1 else 80

    @task
    def health(self, client):
        client.get("/api/products")
"""


def test_a_table_and_a_shape_split_between_external_agents(nats, agents,  # noqa: F811
                                                           demo_api, scenario_file, tmp_path):
    agents("s1", "s2")
    seen = 0
    for source, integral, mode in ((FIVE, FIVE_INTEGRAL, "stages"), (SHAPE, 120, "shape")):
        path = scenario_file(source, name=f"{mode}.py")
        proc, r = run_json(path, demo_api.url, tmp_path, "--no-report", *external(nats, 2))
        assert proc.returncode == 0, proc.stderr
        assert r["mode"] == mode
        it = r["iterations"]
        assert round(it["planned"]) == integral, it
        # Every arrival is started or dropped by exactly one agent; an
        # agent on an overloaded machine may drop a stale one, never more
        # than 1%.
        assert abs(it["started"] + it["dropped"] + it["not_started"] - integral) <= 1, it
        assert it["dropped"] + it["not_started"] <= integral // 100 + 1, it
        books_balance(r)
        seen += r["requests"]
        assert seen == demo_api.stats()["routes"]["GET /api/products"]
        assert r["lost_agents"] == []
