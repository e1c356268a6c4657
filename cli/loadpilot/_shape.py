"""A scenario's curve as a table: where ``stages=`` is written, and what a
``shape(self, t)`` method returns (docs/scenarios.md#shapes).

A shape is evaluated here, once, before the run: every 0.1 s from t = 0
until it returns None, each value held until the next. Equal neighbours
are merged, and the engine gets a table like ``stages=`` (held steps
instead of linear ones). So the plan stays exact (the arrival curve is a
closed form, as for any table) and travels to agents as it is: no agent
calls back into the scenario while the run goes on, and every agent runs
the very same curve, even from a shape that draws random numbers.
"""

from __future__ import annotations

import ast
import math
import numbers
from typing import Any, Callable, Dict, List, Optional

from ._signatures import _class_nodes
from .dsl import task_info

__all__ = ["MAX_S", "MAX_STAGES", "STEP_S", "evaluate", "has_shape", "stages_lines"]

# The engine's plan::kShapeStepS, kMaxShapeS and kMaxStages (plan/stages.h).
STEP_S = 0.1
MAX_S = 86_400
MAX_STAGES = 20_000

# Steps per second: times are i / _PER_S, so they print as 0.1, 0.2, ...
_PER_S = 10


def has_shape(cls: type) -> bool:
    """Whether CLS (or a base) defines shape() as a plain method, not a task."""
    shape = getattr(cls, "shape", None)
    return callable(shape) and task_info(shape) is None


def evaluate(
    cls: type,
    closed: bool,
    where: str,
    format_error: Callable[[BaseException], str],
) -> Dict[str, Any]:
    """{"stages": [[seconds, value], ...]} from CLS's shape(), or {"error":
    "FILE:LINE: ..."}. WHERE is "FILE:LINE" of ``def shape``; FORMAT_ERROR
    locates an exception raised by it."""
    unit = "a whole number of users" if closed else "a number of iterations/s >= 0"
    try:
        shape = cls().shape
    except BaseException as exc:  # noqa: B902 - reported, never raised
        return {"error": format_error(exc)}
    rows: List[List[Any]] = []  # [steps, value]
    for i in range(int(MAX_S * _PER_S) + 1):
        t = i / _PER_S
        try:
            value = shape(t)
        except BaseException as exc:  # noqa: B902 - reported, never raised
            return {"error": f"{format_error(exc)} (in shape() at t={t}s)"}
        if value is None:
            break
        problem = _value_problem(value, closed)
        if problem:
            return {
                "error": f"{where}: shape() returned {value!r} at t={t}s; it must return "
                f"{unit}, or None to end the run{problem}"
            }
        value = int(value) if closed else float(value)
        if rows and rows[-1][1] == value:
            rows[-1][0] += 1
            continue
        if len(rows) == MAX_STAGES:
            return {
                "error": f"{where}: shape() changed its value more than {MAX_STAGES} times "
                f"(by t={t}s); the plan holds at most {MAX_STAGES} steps. Return the same "
                "value for longer, or write stages=."
            }
        rows.append([1, value])
    else:
        return {
            "error": f"{where}: shape() did not return None within {MAX_S}s (24h); "
            "return None to end the run"
        }
    if not rows:
        return {"error": f"{where}: shape() returned None at t=0s, so nothing would run"}
    return {"stages": [[steps / _PER_S, value] for steps, value in rows]}


def _value_problem(value: Any, closed: bool) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f" (got a {type(value).__name__})"
    if not math.isfinite(value) or value < 0:
        return " (got a value that is not finite and >= 0)"
    if closed and value != int(value):
        return " (users are whole)"
    return None


def stages_lines(abspath: str) -> Dict[str, Dict[str, Any]]:
    """Qualified class name -> {"line": line of stages=, "rows": [line of
    each row]} for every @scenario(stages=[...]) written in the file, so
    that a bad row is named at its own line."""
    found: Dict[str, Dict[str, Any]] = {}
    for qualname, node in _class_nodes(abspath).items():
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            for keyword in decorator.keywords:
                if keyword.arg != "stages":
                    continue
                value = keyword.value
                rows = (
                    [row.lineno for row in value.elts]
                    if isinstance(value, (ast.List, ast.Tuple))
                    else []
                )
                found[qualname] = {"line": value.lineno, "rows": rows}
    return found
