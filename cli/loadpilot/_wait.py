"""Think time of a closed model's users: ``between``, ``constant`` and
``constant_pacing``, given as ``@scenario(users=N, wait=...)``.

    @scenario(users=50, wait=between(1, 3), duration="5m")

Each returns a :class:`Wait`, a plain description the engine reads when it
builds the plan; the engine checks the values (not negative, at most a day,
``a <= b``) and reports a bad one naming ``wait`` and the value. Only a
value that is not a number at all raises ``TypeError`` here, at the line
that wrote it (docs/scenarios.md#users-and-think-time).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Dict, Union

__all__ = ["Wait", "between", "constant", "constant_pacing"]

Seconds = Union[int, float]


@dataclass(frozen=True)
class Wait:
    """What a user does between two iterations.

    ``kind`` is "between" (wait uniformly between ``min_s`` and ``max_s``
    seconds after an iteration ends), "constant" (wait ``min_s`` seconds) or
    "pacing" (start iterations ``min_s`` seconds apart, start to start).
    """

    kind: str
    min_s: float
    max_s: float

    def as_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "min_s": self.min_s, "max_s": self.max_s}

    def __repr__(self) -> str:
        if self.kind == "between":
            return f"between({self.min_s:g}, {self.max_s:g})"
        if self.kind == "pacing":
            return f"constant_pacing({self.min_s:g})"
        return f"constant({self.min_s:g})"


def _seconds(function: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{function}() takes {name} as a number of seconds, "
            f"got {type(value).__name__} {value!r}"
        )
    return float(value)


def between(min_s: Seconds, max_s: Seconds) -> Wait:
    """After each iteration, wait a random time from ``min_s`` to
    ``max_s`` seconds (uniform), as Locust's ``between``."""
    return Wait(
        "between", _seconds("between", "min_s", min_s), _seconds("between", "max_s", max_s)
    )


def constant(seconds: Seconds) -> Wait:
    """After each iteration, wait ``seconds``."""
    s = _seconds("constant", "seconds", seconds)
    return Wait("constant", s, s)


def constant_pacing(seconds: Seconds) -> Wait:
    """Start an iteration every ``seconds``, start to start, whatever the
    iteration took; one that takes longer makes the next start at once
    (counted late, its latency measured from the slot it missed)."""
    s = _seconds("constant_pacing", "seconds", seconds)
    return Wait("pacing", s, s)
