"""loadpilot.metrics outside the engine: declarations, the refusals, and the
values kept locally (inside the engine they go to its storage; the e2e
test engine/tests/e2e/test_custom_metrics.py covers that)."""

import math

import pytest

from loadpilot import metrics


@pytest.fixture(autouse=True)
def _fresh_registry():
    saved = dict(metrics._registry), list(metrics._local)
    metrics._registry.clear()
    metrics._local.clear()
    yield
    metrics._registry.clear()
    metrics._registry.update(saved[0])
    metrics._local[:] = saved[1]


def test_each_kind_is_declared_once_and_found_again_by_name():
    cart = metrics.trend("cart_items")
    assert metrics.trend("cart_items") is cart
    assert isinstance(cart, metrics.Trend)
    assert isinstance(metrics.counter("orders"), metrics.Counter)
    assert isinstance(metrics.rate("cache_hit"), metrics.Rate)
    assert isinstance(metrics.gauge("queue"), metrics.Gauge)
    assert [(d["name"], d["kind"]) for d in metrics.declared()] == [
        ("cart_items", "trend"),
        ("orders", "counter"),
        ("cache_hit", "rate"),
        ("queue", "gauge"),
    ]
    # Where: this file and the line of the call.
    assert metrics.declared()[0]["where"].endswith("test_metrics.py:24")


def test_a_name_cannot_change_its_kind():
    metrics.trend("cart_items")
    with pytest.raises(metrics.MetricError) as e:
        metrics.counter("cart_items")
    assert "'cart_items' is already a trend" in str(e.value)
    assert "cannot also be a counter" in str(e.value)
    assert "test_metrics.py:" in str(e.value)


@pytest.mark.parametrize("name", ["", "1st", "cart.items", "cart items", "x" * 101, 7, None])
def test_bad_names_are_refused(name):
    with pytest.raises(metrics.MetricError, match="metric name"):
        metrics.trend(name)


def test_values_are_kept_and_checked():
    cart = metrics.trend("cart_items")
    cart.add(3)
    cart.add(2.5)
    orders = metrics.counter("orders")
    orders.add()
    orders.add(2)
    hit = metrics.rate("cache_hit")
    hit.add(True)
    hit.add(False)
    queue = metrics.gauge("queue")
    queue.add(-4)
    assert metrics.local_values("cart_items") == [3.0, 2.5]
    assert metrics.local_values("orders") == [1.0, 2.0]
    assert metrics.local_values("cache_hit") == [1.0, 0.0]
    assert metrics.local_values("queue") == [-4.0]
    assert metrics.local_values("nothing") is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("kind", ["trend", "counter", "rate", "gauge"])
def test_nan_and_infinity_are_refused_naming_the_metric(kind, value):
    metric = getattr(metrics, kind)("m")
    with pytest.raises(metrics.MetricError, match=r"^m\.add\(.*is not a number a metric can hold"):
        metric.add(value)
    assert metrics.local_values("m") == []


@pytest.mark.parametrize("kind", ["trend", "counter"])
def test_negative_values_are_refused_for_trends_and_counters(kind):
    metric = getattr(metrics, kind)("m")
    with pytest.raises(metrics.MetricError, match=f"a {kind} takes values >= 0"):
        metric.add(-1)


def test_a_value_that_is_not_a_number_is_refused():
    with pytest.raises(metrics.MetricError, match=r"m\.add\(\): takes a number, got str '3'"):
        metrics.trend("m").add("3")


def test_names_made_per_iteration_are_refused_past_the_cap():
    for i in range(metrics.MAX_METRICS):
        metrics.counter(f"order_{i}")
    # The same names again are no new declarations.
    metrics.counter("order_0").add()
    with pytest.raises(metrics.MetricError) as e:
        metrics.counter(f"order_{metrics.MAX_METRICS}")
    message = str(e.value)
    assert f"metric 'order_{metrics.MAX_METRICS}'" in message
    assert "at most 1000" in message
    assert "test_metrics.py:" in message
    assert len(metrics.declared()) == metrics.MAX_METRICS


def test_the_scenario_description_lists_the_declared_metrics(describe):
    scenarios = describe(
        """
        from loadpilot import VUser, metrics, scenario, task

        cart = metrics.trend("cart_items_described")

        @scenario(rps=1, duration="1s")
        class S(VUser):
            @task
            def a(self, client):
                client.get("/")
                cart.add(1)
        """
    )
    declared = scenarios[0]["custom_metrics"]
    assert [(d["name"], d["kind"]) for d in declared] == [("cart_items_described", "trend")]
    assert declared[0]["where"].endswith("scenario.py:3")
    # It sends a request and adds to a metric: not one fixed request.
    assert scenarios[0]["tasks"][0]["runtime"] == "python"
