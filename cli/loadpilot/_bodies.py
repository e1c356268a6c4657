"""Running the user's code of one iteration, for the Python VUser runtime
(_runtime.py): a task body (plain or async) and its check_<task>, or an
on_start/on_stop hook; the requests they made are recorded, and what they
raised counted as an error of their row. Everything runs in the VUser's
greenlet, which switches to the loop's greenlet while it waits."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

import greenlet

from ._describe import format_error
from ._hub import Hub
from ._process import ProcessGuard
from ._scenario_class import ScenarioClass
from ._vuser import Iteration, VUserState
from .client import HTTPError, Response

__all__ = ["BodyRunner"]


class BodyRunner:
    """Runs SCENARIO's task bodies and hooks for one run: their requests and
    errors go to HUB, async bodies run as tasks of LOOP while the VUser's
    greenlet waits in MAIN (the loop's greenlet), a SystemExit goes to
    PROCESS, and errors name where they happened in the file at PATH."""

    def __init__(
        self,
        hub: Hub,
        loop: asyncio.AbstractEventLoop,
        main: Any,
        process: ProcessGuard,
        scenario: ScenarioClass,
        path: str,
        abspath: str,
    ) -> None:
        self.hub = hub
        self.loop = loop
        self.main = main
        self.process = process
        self.scenario = scenario
        self.path = path
        self.abspath = abspath

    def close(self) -> None:
        """Drops the loop's greenlet: nothing may keep it alive after the run."""
        self.main = None

    def task(self, vu: VUserState, task: int, start_us: int, worker: int) -> Iteration:
        """Runs the task body and returns its Iteration; the caller records
        the iteration (from start_us to now)."""
        spec = self.scenario.tasks[task]
        assert spec is not None
        it = Iteration(task, start_us, worker, spec.check is not None)
        vu.current = it
        try:
            if spec.is_async:
                self._await_body(it, spec.func(vu.instance, vu.aclient))
            else:
                spec.func(vu.instance, vu.client)
        except greenlet.GreenletExit:
            raise
        except BaseException as exc:  # noqa: B902 - user code; counted
            self._record_requests(it)
            self.count_exception(it, task, exc)
            return it
        if spec.check is not None:
            if it.last is not None:
                index, response = it.last
                record = it.records[index]
                if response.error is None:
                    failure = self._run_check(spec.check, vu.instance, response, task)
                    record[3] = None if failure is None else "check_failed"
                    record[4] = failure or ""
            self._record_requests(it)
        return it

    def call_hook(self, vu: VUserState, name: str, is_async: bool) -> None:
        """Runs the VUser's hook NAME (on_start or on_stop); raises what it raised."""
        method = getattr(vu.instance, name)
        if is_async:
            self._await_body(vu.current, method(vu.aclient))
        else:
            method(vu.client)

    def count_exception(
        self, it: Iteration, row: int, exc: BaseException, message: Optional[str] = None
    ) -> None:
        """Counts the exception a task body (or hook) raised as an error of
        ROW, unless it is raise_for_status() of a response of this same
        iteration that is already counted as a failed request: one failed
        request is one error (docs/output.md#error-rate)."""
        if isinstance(exc, HTTPError) and it.failed is not None:
            if any(r is exc.response for r in it.failed):
                return
        if getattr(exc, "_loadpilot_counted", False):  # a WebSocket failure, counted
            return
        self.hub.record_error(row, "exception", message or self.describe(exc))
        if isinstance(exc, SystemExit):
            self.process.exited(exc)

    def describe(self, exc: BaseException) -> str:
        """EXC as an error message, with where in the scenario file it was raised."""
        return format_error(exc, self.path, self.abspath)

    def _run_check(
        self, check: Callable[..., Any], instance: Any, response: Response, task: int
    ) -> Any:
        """None when the check passes, else the failure message: the check
        and its task, then where it failed ("check_buy (task buy)
        shop.py:24: AssertionError")."""
        try:  # reading a discarded body raises BodyTooLarge: the check fails with it
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            result = check(instance, response.status_code, body)
        except BaseException as exc:  # noqa: B902 - user code
            return f"{check.__name__} (task {self.scenario.row_names[task]}) {self.describe(exc)}"
        if result is False:
            return f"{check.__name__} returned False"
        return None

    def _record_requests(self, it: Iteration) -> None:
        for row, latency, service, kind, message, named in it.records:
            self.hub.record_request(row, named, latency, service, kind, message)
        it.records = []

    def _await_body(self, it: Optional[Iteration], coro: Any) -> None:
        """Runs an async task body (or hook), then waits for the responses
        of the client calls it made without awaiting them: a request that
        was sent is always counted, and checked with its iteration
        (docs/scenarios.md#coming-from-the-original-loadpilot-locust-and-k6)."""
        try:
            self._await(coro)
        except greenlet.GreenletExit:
            raise
        except BaseException:
            self._settle(it)
            raise
        self._settle(it)

    def _settle(self, it: Optional[Iteration]) -> None:
        futures = it.futures if it is not None else None
        if futures:
            it.futures = None
            pending = [f for f in futures if not f.done()]
            if pending:
                self._await(asyncio.wait(pending))

    def _await(self, coro: Any) -> Any:
        """Runs a coroutine as an asyncio task; this greenlet waits for it."""
        task = self.loop.create_task(coro)
        me = greenlet.getcurrent()
        task.add_done_callback(lambda _t: me.switch())
        self.main.switch()
        return task.result()
