"""Custom metrics: numbers a scenario's own code measures, reported beside
the engine's (docs/scenarios.md#custom-metrics).

    from loadpilot import metrics

    cart = metrics.trend("cart_items")      # every value: percentiles
    orders = metrics.counter("orders")      # a sum
    cache_hit = metrics.rate("cache_hit")   # the share of true values
    queue = metrics.gauge("queue")          # the last value, min and max

    @task
    def checkout(self, client):
        r = client.post("/api/cart", json={...})
        cart.add(len(r.json()["items"]))
        orders.add()

Declare metrics when the file is imported (module level) so that thresholds
can name them (``"cart_items.p95": 10``); ``.add(value)`` works from any
task, check or hook. Under the engine the values go straight into its
per-process storage and are merged exactly across workers and agents.
"""

from __future__ import annotations

import math
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "Counter",
    "Gauge",
    "MetricError",
    "Rate",
    "Trend",
    "counter",
    "gauge",
    "rate",
    "trend",
]

# The most metrics one process may declare (plan/custom_keys.h,
# kMaxCustomMetrics): a name made per iteration is refused past it.
MAX_METRICS = 1000
# Trend values are kept in thousandths up to this (metrics/custom_metrics.h).
TREND_MAX = 3_600_000.0

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\Z")

try:  # present only inside the engine (engine/scenario/script_metrics.cc)
    import _loadpilot_metrics as _native  # type: ignore[import-not-found]
except ImportError:
    _native = None


class MetricError(ValueError):
    """A metric declared or used in a way it cannot be: a bad name, a name
    already used by another kind, too many names, a value it cannot hold."""


Number = Union[int, float, bool]


class _Metric:
    """A declared metric. ``add`` is the hot path: one call into the
    engine with the metric's slot, no lookup by name."""

    __slots__ = ("name", "where", "_slot")
    kind = ""

    def __init__(self, name: str, slot: int, where: str) -> None:
        self.name = name
        self.where = where
        self._slot = slot

    def add(self, value: Number) -> None:
        _add(self._slot, value)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} ({self.where})>"


class Trend(_Metric):
    """Every value added (>= 0, up to 3,600,000, kept to 0.001 below 4.096
    and to 3 significant digits above): count, min, mean, percentiles, max."""

    __slots__ = ()
    kind = "trend"


class Counter(_Metric):
    """The sum of the values added (each finite and >= 0); ``add()`` adds 1."""

    __slots__ = ()
    kind = "counter"

    def add(self, value: Number = 1) -> None:
        _add(self._slot, value)


class Rate(_Metric):
    """The share of the values added that were true (non-zero)."""

    __slots__ = ()
    kind = "rate"


class Gauge(_Metric):
    """The last value added, and the smallest and largest."""

    __slots__ = ()
    kind = "gauge"


_registry: Dict[str, _Metric] = {}
# The scenario file being imported, (absolute path, path as given): where a
# declaration in it is said to be (set by _describe).
_scenario_file: Optional[Tuple[str, str]] = None
_local: List[Dict[str, Any]] = []  # outside the engine: the values, by slot


def trend(name: str) -> Trend:
    """The trend NAME, declared on first use (the same object after)."""
    return _declare(Trend, name)  # type: ignore[return-value]


def counter(name: str) -> Counter:
    """The counter NAME, declared on first use (the same object after)."""
    return _declare(Counter, name)  # type: ignore[return-value]


def rate(name: str) -> Rate:
    """The rate NAME, declared on first use (the same object after)."""
    return _declare(Rate, name)  # type: ignore[return-value]


def gauge(name: str) -> Gauge:
    """The gauge NAME, declared on first use (the same object after)."""
    return _declare(Gauge, name)  # type: ignore[return-value]


def _caller() -> str:
    """FILE:LINE of the code that called trend()/counter()/rate()/gauge()."""
    frame = sys._getframe(3)
    path = frame.f_code.co_filename
    if _scenario_file is not None and path == _scenario_file[0]:
        return f"{_scenario_file[1]}:{frame.f_lineno}"  # as the command line named it
    try:
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative
    except ValueError:
        pass
    return f"{path}:{frame.f_lineno}"


def _declare(cls: type, name: Any) -> _Metric:
    found = _registry.get(name) if isinstance(name, str) else None
    if found is not None:
        if type(found) is cls:
            return found
        raise MetricError(
            f"{_caller()}: metric {name!r} is already a {found.kind} (declared at "
            f"{found.where}); it cannot also be a {cls.kind}"  # type: ignore[attr-defined]
        )
    where = _caller()
    if not isinstance(name, str) or not _NAME.match(name):
        raise MetricError(
            f"metric name {name!r}: use letters, digits and _ (not first), at most 100 "
            "characters, e.g. 'cart_items'"
        )
    if len(_registry) >= MAX_METRICS:
        message = (
            f"{where}: metric {name!r} would be the {MAX_METRICS + 1}th metric name; "
            f"at most {MAX_METRICS} are kept. A name made per iteration (an id, a URL) "
            "grows without bound: use a fixed name"
        )
        if _native is not None:
            _native.refuse(message)
        raise MetricError(message)
    if _native is not None:
        slot = _native.declare(name, cls.kind, where)  # type: ignore[attr-defined]
    else:
        slot = len(_local)
        _local.append({"kind": cls.kind, "values": []})  # type: ignore[attr-defined]
    metric = cls(name, slot, where)
    _registry[name] = metric
    return metric


def _local_add(slot: int, value: Any) -> None:
    """Outside the engine (plain Python, tests): checks the value as the
    engine does and keeps it."""
    entry = _local[slot]
    name = next(m.name for m in _registry.values() if m._slot == slot)
    if isinstance(value, bool) or isinstance(value, (int, float)):
        number = float(value)
    else:
        raise MetricError(
            f"{name}.add(): takes a number, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(number):
        raise MetricError(f"{name}.add({value!r}): {number} is not a number a metric can hold")
    if number < 0 and entry["kind"] in ("trend", "counter"):
        raise MetricError(f"{name}.add({value!r}): a {entry['kind']} takes values >= 0")
    entry["values"].append(number)


_add: Callable[[int, Any], None] = _native.add if _native is not None else _local_add
if _native is not None:
    _native.set_error_type(MetricError)


def declared() -> List[Dict[str, str]]:
    """The metrics declared so far, in order: {"name", "kind", "where"}
    (for the plan; thresholds may name these)."""
    return [{"name": m.name, "kind": m.kind, "where": m.where} for m in _registry.values()]


def local_values(name: str) -> Optional[List[float]]:
    """Outside the engine: the values added to NAME so far, else None."""
    metric = _registry.get(name)
    if metric is None or _native is not None:
        return None
    return list(_local[metric._slot]["values"])
