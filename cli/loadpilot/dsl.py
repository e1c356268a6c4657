"""The scenario DSL: ``VUser``, ``@scenario`` and ``@task``.

The decorators only attach metadata; the engine validates values (rps,
durations, modes, thresholds) when it builds the plan, so that every problem
is reported at once with the field's name. Only mistakes that make the
decorator itself meaningless (``@scenario`` on a function, a non-numeric
task weight) raise ``TypeError`` at import time.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import numbers
import sys
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Mapping,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from ._wait import Wait

__all__ = [
    "ScenarioConfig",
    "TaskInfo",
    "VUser",
    "scenario",
    "scenario_config",
    "task",
    "task_info",
    "tasks_of",
]

# Attribute names the decorators set; read by the engine's describer.
SCENARIO_ATTR = "__loadpilot_scenario__"
TASK_ATTR = "__loadpilot_task__"

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


class VUser:
    """Base class of a scenario: one virtual user.

    Each ``@task`` method is one kind of iteration; tasks are picked by
    weight, and the body runs as Python on every iteration. ``on_start`` and
    ``on_stop`` run once per virtual user (override them as needed), and a
    ``check_<task>(self, status_code, body)`` method validates the last
    response of each iteration of ``<task>`` (see docs/scenarios.md).
    """

    def on_start(self, client: Any) -> None:
        """Runs once when the virtual user starts (e.g. to log in)."""

    def on_stop(self, client: Any) -> None:
        """Runs once when the virtual user stops."""


class _DefaultStr(str):
    """A default argument value, told apart by identity from the same text
    written by the user."""


class _DefaultInt(int):
    """See _DefaultStr."""


_DEFAULT_RPS = _DefaultInt(10)
_DEFAULT_DURATION = _DefaultStr("1m")
_DEFAULT_RAMP_UP = _DefaultStr("10s")
_DEFAULT_MODE = _DefaultStr("ramp")
_DEFAULT_STEPS = _DefaultInt(5)


@dataclass(frozen=True)
class ScenarioConfig:
    """The ``@scenario`` arguments, exactly as written (validated later)."""

    rps: Any = 10
    duration: Any = "1m"
    ramp_up: Any = "10s"
    mode: Any = "ramp"
    steps: Any = 5
    thresholds: Any = field(default_factory=dict)
    max_vusers: Any = None
    # The closed model: this many users loop over the tasks, waiting `wait`
    # (a loadpilot._wait.Wait) between iterations. None: the open model.
    users: Any = None
    wait: Any = None
    # Redirects (docs/scenarios.md#redirects): whether calls follow them by
    # default, and the hop limit. None: left out (False, and 20).
    follow_redirects: Any = None
    max_redirects: Any = None
    # HTTP/2 (docs/protocols.md): None: left out.
    http_version: Any = None
    max_streams: Any = None
    # mode="find" (docs/capacity.md): the search's bounds. None: left out.
    rps_min: Any = None
    rps_max: Any = None
    # stages= (docs/scenarios.md#stages): [(duration, target), ...] as
    # written. None: left out.
    stages: Any = None
    # Several scenarios in one run (docs/scenarios.md#several-scenarios-in-one-run):
    # the delay of the first arrival, and the groups it belongs to. None:
    # left out (no delay, no group).
    start: Any = None
    group: Any = None
    # Argument names the user left at their default. The engine needs this
    # for ramp_up, whose default is capped at the duration.
    defaults: FrozenSet[str] = field(default=frozenset(), compare=False)
    # Where the decorator was written ((file, line)), so that a bad
    # threshold key is reported there.
    where: Tuple[str, int] = field(default=("", 0), compare=False)

    def as_dict(self) -> Dict[str, Any]:
        # The redirect and HTTP/2 settings, only when given.
        redirects = {
            key: value
            for key, value in (
                ("follow_redirects", self.follow_redirects),
                ("max_redirects", self.max_redirects),
                ("http_version", self.http_version),
                ("max_streams", self.max_streams),
            )
            if value is not None
        }
        # The capacity search's bounds, only when given.
        bounds = {
            key: value
            for key, value in (
                ("rps_min", self.rps_min),
                ("rps_max", self.rps_max),
                ("stages", _listed(self.stages)),
                ("start", self.start),
                ("group", list(self.group) if isinstance(self.group, (list, tuple)) else self.group),
            )
            if value is not None
        }
        return {
            "rps": self.rps,
            "duration": self.duration,
            "ramp_up": self.ramp_up,
            "mode": self.mode,
            "steps": self.steps,
            "thresholds": self.thresholds,
            "max_vusers": self.max_vusers,
            # The closed model's, only when it is one.
            **(
                {
                    "users": self.users,
                    "wait": self.wait.as_dict() if isinstance(self.wait, Wait) else self.wait,
                }
                if self.users is not None
                else {}
            ),
            **redirects,
            **bounds,
        }


@dataclass(frozen=True)
class TaskInfo:
    weight: Union[int, float] = 1
    # @task(thresholds=...): this task's limits, keyed by metric alone
    # ("p99_ms"), as written; None when not given.
    thresholds: Any = None
    where: Tuple[str, int] = field(default=("", 0), compare=False)


# A threshold's value: a limit, or {"limit": ..., "over": "1m",
# "abort_on_fail": True, "abort_after": "30s"} (docs/scenarios.md#thresholds).
ThresholdValue = Union[int, float, Mapping[str, Any]]


def _caller(depth: int = 2) -> Tuple[str, int]:
    """(file, line) of the code that called the decorator."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return ("", 0)
    return (frame.f_code.co_filename, frame.f_lineno)


def scenario(
    *args: Any,
    rps: Union[int, float, str] = _DEFAULT_RPS,
    duration: Union[str, int, float] = _DEFAULT_DURATION,
    ramp_up: Union[str, int, float] = _DEFAULT_RAMP_UP,
    mode: str = _DEFAULT_MODE,
    steps: int = _DEFAULT_STEPS,
    thresholds: Optional[Mapping[str, ThresholdValue]] = None,
    max_vusers: Optional[int] = None,
    users: Optional[int] = None,
    wait: Optional[Wait] = None,
    follow_redirects: Optional[bool] = None,
    max_redirects: Optional[int] = None,
    http_version: Optional[str] = None,
    max_streams: Optional[int] = None,
    rps_min: Optional[Union[int, float]] = None,
    rps_max: Optional[Union[int, float]] = None,
    stages: Optional[Sequence[Tuple[Union[str, int, float], Union[int, float]]]] = None,
    start: Optional[Union[str, int, float]] = None,
    group: Optional[Union[str, Sequence[str]]] = None,
    # NoReturn: a type checker flags any other keyword as well.
    **unknown: NoReturn,
) -> Any:
    """Marks a class as a runnable scenario.

    Usable bare (``@scenario``) or with arguments; ``rps`` and ``duration``
    may also be given by position (``@scenario(20, "5s")``). ``rps`` is the
    target arrival rate of task iterations per second; ``duration``/``ramp_up``
    accept "30s", "2m", "1m30s", "1h", "250ms" or seconds (``ramp_up``
    left at its default is capped at the duration); ``mode`` is one of ramp,
    constant, step, spike, or find: a capacity search for the highest rate
    that meets every threshold, from ``rps_min`` (default: ``rps``) to at
    most ``rps_max`` (docs/capacity.md); ``thresholds`` keys are p50_ms, p95_ms, p99_ms,
    max_ms and error_rate (percent), alone for the whole run or after a
    task's name (``"checkout.p99_ms"``); a value is a limit, or a dict
    ``{"limit": 300, "over": "1m", "abort_on_fail": True, "abort_after": "30s"}``
    (docs/scenarios.md#thresholds).

    ``stages=[("30s", 100), ("5m", 100), ("30s", 0)]`` draws the curve as
    a table instead: over each duration the rate moves linearly to the
    target, starting from ``rps`` when given, else from 0. With ``users=``
    the targets are users (``users=`` is then where they start; 0 is
    allowed). A ``shape(self, t)`` method does what a table cannot: see
    docs/scenarios.md#shapes.

    ``users=N`` makes it a closed model instead: N users each loop over the
    tasks, waiting ``wait`` (``between(a, b)``, ``constant(s)`` or
    ``constant_pacing(s)``; no wait when left out) after each iteration;
    ``ramp_up`` or ``steps`` bring them in. ``rps`` and ``max_vusers`` do
    not go with it, nor ``wait`` without it.

    ``follow_redirects=True`` makes the scenario's client calls follow
    redirects unless a call says otherwise (httpx's default, False, when
    left out); ``max_redirects`` is the hop limit of every call that
    follows them (20 when left out).

    ``http_version="2"`` speaks HTTP/2 (h2 over TLS, prior-knowledge h2c
    over ``http://``), ``"1.1"`` HTTP/1.1 only; left out, an ``https://``
    target that offers h2 gets HTTP/2. ``max_streams`` caps the HTTP/2
    streams in flight per connection (the server's limit when left out).

    ``start="10m"`` delays the scenario's first arrival when it runs beside
    others (``loadpilot run FILE --all``); ``group="nightly"`` (or a list of
    names) puts it in a group that ``--group nightly`` runs together
    (docs/scenarios.md#several-scenarios-in-one-run).

    A class that does not derive from VUser is given VUser as a base (see
    :func:`_as_vuser`), so on_start/on_stop and every runtime path treat it
    as one.
    """
    _refuse_unknown("@scenario()", unknown, _SCENARIO_KEYWORDS)
    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], (str, bytes)):
        cls: Any = args[0]  # bare @scenario (a non-class is refused by apply)
        args = ()
    else:
        cls = None
    if len(args) > len(_POSITIONAL):
        raise TypeError(
            f"@scenario() takes at most {len(_POSITIONAL)} positional arguments "
            f"(rps, duration) but {len(args)} were given; pass the others by name, "
            f"e.g. @scenario({args[0]!r}, {args[1]!r}, ramp_up=...)"
        )
    given = {"rps": rps, "duration": duration}
    for name, value in zip(_POSITIONAL, args):
        if not isinstance(given[name], (_DefaultStr, _DefaultInt)):
            raise TypeError(f"@scenario() got multiple values for argument {name!r}")
        given[name] = value
    rps, duration = given["rps"], given["duration"]
    given.update(ramp_up=ramp_up, mode=mode, steps=steps)
    defaults = {
        name for name, value in given.items() if isinstance(value, (_DefaultStr, _DefaultInt))
    }
    _check_model(given["rps"], users, wait, max_vusers)
    if thresholds is None:
        defaults.add("thresholds")
    if max_vusers is None:
        defaults.add("max_vusers")
    config = ScenarioConfig(
        rps=_plain(rps),
        duration=_plain(duration),
        ramp_up=_plain(ramp_up),
        mode=_plain(mode),
        steps=_plain(steps),
        thresholds={} if thresholds is None else thresholds,
        max_vusers=max_vusers,
        users=users,
        wait=wait,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        http_version=http_version,
        max_streams=max_streams,
        rps_min=rps_min,
        rps_max=rps_max,
        stages=stages,
        start=start,
        group=group,
        defaults=frozenset(defaults),
        where=_caller(),
    )

    def apply(target: C) -> C:
        if not inspect.isclass(target):
            raise TypeError(
                f"@scenario must decorate a class, "
                f"not {type(target).__name__} {getattr(target, '__name__', target)!r}"
            )
        if not issubclass(target, VUser):
            target = _as_vuser(target)
        setattr(target, SCENARIO_ATTR, _locust_wait_time(target, config))
        return target

    if cls is not None:
        return apply(cls)
    return apply


# What @scenario accepts by position, in order.
_POSITIONAL = ("rps", "duration")
# Every keyword @scenario takes, in its signature's order.
_SCENARIO_KEYWORDS = (
    "rps",
    "duration",
    "ramp_up",
    "mode",
    "steps",
    "thresholds",
    "max_vusers",
    "users",
    "wait",
    "follow_redirects",
    "max_redirects",
    "http_version",
    "max_streams",
    "rps_min",
    "rps_max",
    "stages",
    "start",
    "group",
)


def _refuse_unknown(what: str, given: Mapping[str, Any], known: Tuple[str, ...]) -> None:
    """Python's TypeError for an unknown keyword, with the likely meant one
    (a misspelling) or the list of those WHAT takes."""
    for key in given:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"it takes {', '.join(known)}"
        if not close and len(known) == 1:
            hint = f"it takes {known[0]}="
        raise TypeError(f"{what} got an unexpected keyword argument {key!r}; {hint}")


def _check_model(rps: Any, users: Any, wait: Any, max_vusers: Any) -> None:
    """Refuses arguments of the two models mixed, at the decorator's line."""
    if users is None:
        if wait is not None:
            raise TypeError(
                "@scenario(wait=...) needs users=: think time belongs to the closed model, "
                "where users loop over the tasks; with rps= iterations arrive at a rate"
            )
        return
    if not isinstance(rps, (_DefaultStr, _DefaultInt)):
        raise TypeError(
            f"@scenario() got both rps={rps!r} and users={users!r}: rps= is the open model "
            "(iterations arrive at a rate), users= the closed model (users loop with think "
            "time); give one of them (docs/scenarios.md#open-and-closed-models-which-to-use)"
        )
    if max_vusers is not None:
        raise TypeError(
            f"@scenario() got both users={users!r} and max_vusers={max_vusers!r}: in the "
            "closed model each user is one VUser; leave max_vusers out"
        )


def _locust_wait_time(cls: type, config: ScenarioConfig) -> ScenarioConfig:
    """CONFIG with the class's think time as its wait: ``wait_time =
    between(...)`` as Locust users write it, or ``wait = ...`` as the
    keyword is spelt, for a closed model given no wait=. Never ignored: in
    an open model, or as something other than our ``Wait``, it is refused,
    since the run would otherwise go without the pauses the user wrote."""
    given = [(name, getattr(cls, name)) for name in ("wait_time", "wait")
             if getattr(cls, name, None) is not None]
    # A method or helper of the scenario's own may be called wait: only
    # think time (or a bare number of seconds) under that name is read.
    given = [(name, value) for name, value in given if name == "wait_time" or isinstance(
        value, Wait) or (isinstance(value, (int, float)) and not isinstance(value, bool))]
    if not given:
        return config
    for name, value in given:
        if not isinstance(value, Wait):
            raise TypeError(
                f"@scenario class {cls.__name__}: {name} must be loadpilot's between(), "
                f"constant() or constant_pacing(), not {value!r} "
                f"(from loadpilot import between; docs/scenarios.md#users-and-think-time)"
            )
    if len(given) > 1:
        raise TypeError(
            f"@scenario class {cls.__name__} has both wait = {given[1][1]!r} and "
            f"wait_time = {given[0][1]!r}; keep one"
        )
    name, wait_time = given[0]
    if config.users is None:
        raise TypeError(
            f"@scenario class {cls.__name__}: {name} = {wait_time!r} is think time of the "
            f"closed model: add users=N to @scenario (each user pauses between its "
            f"iterations), or remove it (with rps= the arrival rate sets the pace)"
        )
    if config.wait is not None:
        raise TypeError(
            f"@scenario class {cls.__name__} has both wait={config.wait!r} and "
            f"{name} = {wait_time!r}; keep one"
        )
    return dataclasses.replace(config, wait=wait_time)


def _as_vuser(cls: C) -> C:
    """CLS with VUser added as its last base: a class of the same name,
    module, qualified name and docstring that derives from CLS and VUser.

    A subclass rather than CLS itself changed, because a class's bases can
    only be replaced when their layouts match. CLS's methods are untouched
    (``super()`` in them still works: VUser comes after CLS in the MRO), and
    the module's name for the class is bound to the subclass by the
    decorator's return value.
    """
    namespace = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    try:
        made = type(cls)(cls.__name__, (cls, VUser), namespace)
    except TypeError as exc:  # a metaclass or layout that refuses another base
        raise TypeError(
            f"@scenario class {cls.__name__} does not derive from VUser and VUser cannot be "
            f"added as a base ({exc}); write class {cls.__name__}(VUser): ..."
        ) from None
    return made  # type: ignore[return-value]


def _listed(value: Any) -> Any:
    """A stages table as lists (what the engine reads): tuples and other
    sequences of rows become lists; anything else is left for the engine
    to name."""
    if isinstance(value, (list, tuple)):
        return [list(row) if isinstance(row, (list, tuple)) else row for row in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, _DefaultStr):
        return str(value)
    if isinstance(value, _DefaultInt):
        return int(value)
    return value


@overload
def task(func: F) -> F: ...


@overload
def task(
    func: Union[int, float, None] = None,
    *,
    weight: Union[int, float] = 1,
    thresholds: Optional[Mapping[str, ThresholdValue]] = None,
) -> Callable[[F], F]: ...


def task(func: Any = None, *, weight: Any = 1, thresholds: Any = None, **unknown: Any) -> Any:
    """Marks a VUser method as a task: ``@task``, ``@task(weight=5)`` or ``@task(5)``.

    A task is called as ``method(self, client)``; tasks are picked in
    proportion to their weight. ``thresholds={"p99_ms": 300}`` sets limits
    on this task alone, as ``"TASK.p99_ms"`` in @scenario's thresholds would
    (docs/scenarios.md#thresholds).
    """
    _refuse_unknown("@task()", unknown, ("weight", "thresholds"))
    if func is not None and not callable(func):
        weight, func = func, None  # @task(5)
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"@task weight must be a number, got {type(weight).__name__} {weight!r}")
    info = TaskInfo(weight=weight, thresholds=thresholds, where=_caller())

    def apply(f: F) -> F:
        if not callable(f):
            raise TypeError(f"@task must decorate a method, not {type(f).__name__}")
        setattr(f, TASK_ATTR, info)
        return f

    if func is not None:
        return apply(func)
    return apply


def scenario_config(cls: type) -> Optional[ScenarioConfig]:
    """The class's own @scenario config (not inherited from a base), or None."""
    config = vars(cls).get(SCENARIO_ATTR)
    return config if isinstance(config, ScenarioConfig) else None


def task_info(obj: Any) -> Optional[TaskInfo]:
    info = getattr(obj, TASK_ATTR, None)
    return info if isinstance(info, TaskInfo) else None


def member_names(cls: Type[Any]) -> List[str]:
    """Names defined in the class and its bases, bases first, each once at
    its first definition's position."""
    names: Dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        names.update(dict.fromkeys(vars(klass)))
    return list(names)


def tasks_of(cls: Type[Any]) -> List[Tuple[str, Callable[..., Any]]]:
    """The class's tasks as (attribute name, function), bases first, in
    definition order.

    A subclass that redefines a task keeps its base's position; redefining
    it as a non-task removes it.
    """
    found = []
    for name in member_names(cls):
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if callable(attr) and task_info(attr) is not None:
            found.append((name, attr))
    return found
