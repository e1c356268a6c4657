"""The scenario class as the Python VUser runtime (_runtime.py) sees it,
read once when the run is set up: its hooks, the plan's tasks as callables
(with their checks), the metric rows every call is counted in, and the
weights a task is picked by."""

from __future__ import annotations

import bisect
import inspect
import itertools
import random
from typing import Any, Callable, Dict, List, Optional, Sequence

from ._signatures import _overrides
from ._vuser import static_labels

__all__ = ["ON_START", "ON_STOP", "ScenarioClass", "TaskSpec"]

ON_START = "on_start"
ON_STOP = "on_stop"


class TaskSpec:
    """One task that runs in Python: its body and its check_<task>."""

    __slots__ = ("func", "is_async", "check")

    def __init__(
        self, name: str, func: Any, is_async: bool, check: Optional[Callable[..., Any]]
    ) -> None:
        # Called as func(instance, client): the class's plain function, or
        # a getattr per call when it is something else (a staticmethod...).
        if inspect.isfunction(func):
            self.func = func
        else:
            self.func = lambda instance, client: getattr(instance, name)(client)
        self.is_async = is_async
        self.check = check


class ScenarioClass:
    """CLS and the plan's TASKS: (name, runtime[, weight]) each, in the
    plan's order, runtime "python" for a task whose body runs here (any
    other is sent by the engine natively and has no TaskSpec)."""

    def __init__(
        self, cls: type, tasks: Sequence[Sequence[Any]], rng: Optional[random.Random] = None
    ) -> None:
        self.cls = cls
        self.has_on_start = _overrides(cls, ON_START)
        self.has_on_stop = _overrides(cls, ON_STOP)
        self.async_on_start = inspect.iscoroutinefunction(getattr(cls, ON_START))
        self.async_on_stop = inspect.iscoroutinefunction(getattr(cls, ON_STOP))
        # By the plan's task index; None for a task the engine sends.
        self.tasks: List[Optional[TaskSpec]] = [self._spec(t[0], t[1]) for t in tasks]
        self._add_rows([t[0] for t in tasks])
        weights = [float(t[2]) if len(t) > 2 else 1.0 for t in tasks]
        self.cumulative = list(itertools.accumulate(weights))
        self.rng = rng if rng is not None else random.Random()

    def _spec(self, name: str, runtime: str) -> Optional[TaskSpec]:
        if runtime != "python":
            return None
        func = getattr(self.cls, name)
        check = getattr(self.cls, "check_" + name, None)
        return TaskSpec(
            name,
            inspect.getattr_static(self.cls, name, None),
            inspect.iscoroutinefunction(func),
            check if callable(check) else None,
        )

    def _add_rows(self, names: List[str]) -> None:
        """Metric rows: the plan's tasks, then on_start/on_stop. A call whose
        name= is a literal of the class is counted in its row and in the
        row's sub-row for that name (docs/scenarios.md#metrics)."""
        self.rows: Dict[str, int] = {name: i for i, name in enumerate(names)}
        # The rows after the plan's tasks, by name (the engine adds them).
        self.extra_labels: List[str] = []
        self.static_names = frozenset(static_labels(self.cls))
        wanted = []
        if self.has_on_start:
            wanted.append(ON_START)
        if self.has_on_stop:
            wanted.append(ON_STOP)
        for label in wanted:
            if label not in self.rows:
                self.rows[label] = len(names) + len(self.extra_labels)
                self.extra_labels.append(label)
        # Each row's name, for labelling what a VUser prints (_output.py).
        self.row_names = [""] * (max(self.rows.values(), default=-1) + 1)
        for label, row in self.rows.items():
            self.row_names[row] = label

    @property
    def all_python(self) -> bool:
        """Whether every task's body runs here (none is sent natively)."""
        return all(spec is not None for spec in self.tasks)

    def pick_task(self) -> int:
        """A task index drawn by weight, as a worker picks one."""
        cumulative = self.cumulative
        if len(cumulative) == 1:
            return 0
        x = self.rng.random() * cumulative[-1]
        return min(bisect.bisect_right(cumulative, x), len(cumulative) - 1)
