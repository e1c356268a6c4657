"""ScenarioClass on its own: what the Python runtime reads of a scenario
class once (task specs, metric rows, weights)."""

import random

from loadpilot import VUser, task
from loadpilot._scenario_class import ON_START, ON_STOP, ScenarioClass


class Shop(VUser):
    def on_start(self, client):
        client.post("/login")

    async def on_stop(self, client):
        await client.post("/logout")

    @task
    def browse(self, client):
        client.get("/items", name="items")

    @task
    async def buy(self, client):
        await client.post("/cart")

    def check_buy(self, status_code, body):
        return status_code == 200


class Plain(VUser):
    @task
    def home(self, client):
        client.get("/")


def test_specs_rows_and_hooks_of_a_class():
    sc = ScenarioClass(Shop, [("browse", "native", 3), ("buy", "python", 1)])
    assert sc.tasks[0] is None  # sent by the engine natively
    buy = sc.tasks[1]
    assert buy is not None and buy.is_async and buy.check is Shop.check_buy
    assert not sc.all_python
    assert (sc.has_on_start, sc.has_on_stop) == (True, True)
    assert (sc.async_on_start, sc.async_on_stop) == (False, True)
    # The hooks' rows come after the plan's tasks, in that order.
    assert sc.rows == {"browse": 0, "buy": 1, ON_START: 2, ON_STOP: 3}
    assert sc.extra_labels == [ON_START, ON_STOP]
    assert sc.row_names == ["browse", "buy", ON_START, ON_STOP]
    assert sc.static_names == frozenset({"items"})


def test_a_class_without_hooks_has_no_extra_rows():
    sc = ScenarioClass(Plain, [("home", "python")])
    assert sc.all_python and sc.tasks[0] is not None and sc.tasks[0].check is None
    assert sc.extra_labels == [] and sc.row_names == ["home"]
    assert sc.pick_task() == 0  # one task: no draw


def test_tasks_are_picked_by_weight():
    sc = ScenarioClass(Shop, [("browse", "python", 3), ("buy", "python", 1)], random.Random(7))
    picks = [sc.pick_task() for _ in range(4000)]
    assert set(picks) == {0, 1}
    assert 0.7 < picks.count(0) / len(picks) < 0.8  # 3 of 4, drawn from a fixed seed
