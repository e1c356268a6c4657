"""The Python VUser runtime: runs task bodies for real on every iteration.

The engine (engine/scenario/vuser_runtime.cc) creates one :class:`Runtime`
and calls :meth:`Runtime.run` on its Python thread with a *hub*: it
delivers arrivals and finished requests, sends requests with the engine's
HTTP client, tells the workers which iterations ended and records
measurements. Everything here runs on that one thread; the requests in
flight are a RequestPump's (_requests.py), what a VUser's code meets of the
process (sleep, print, exit) a ProcessGuard's (_process.py), the running of
task bodies, checks and hooks a BodyRunner's (_bodies.py), and what is read
of the scenario class once a ScenarioClass's (_scenario_class.py); the hub's
interface is written down in _hub.py:

* an asyncio event loop whose wait is the hub's (HubSelector): the hub runs
  the engine's HTTP client for these requests on this same thread, GIL
  released while it blocks, so a request and its response never cross to
  another thread;
* each VUser has a greenlet that runs its iterations (parked in between);
  a plain ``def`` task calls the client synchronously and the greenlet
  switches back to the loop while the request is in flight; an
  ``async def`` task runs as an asyncio task (the greenlet waits for it)
  whose client calls return futures, so ``asyncio.gather`` really overlaps
  them;
* VUsers (instances of the scenario class) are pooled: an arrival takes an
  idle one or creates one, up to ``max_vusers``; with the pool full it is
  dropped (counted), or, in a closed-loop ("max") run, waits for one.
  In a closed model (``users=``) each user has a VUser of its own: every
  arrival names its user, and that user's VUser runs it (created, and
  ``on_start`` run, at its first arrival).

A new greenlet is only ever started or resumed from the loop's own greenlet,
never from inside another VUser's greenlet, so control always returns to
the loop.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import sys
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

import greenlet

from ._bodies import BodyRunner
from ._describe import MODULE_NAME
from ._hub import Hub, HubSelector
from ._process import ProcessGuard
from ._redirects import DEFAULT_MAX_REDIRECTS
from ._requests import RequestPump
from ._scenario_class import ON_START, ON_STOP, ScenarioClass
from ._vuser import Iteration, VUserState
from ._websocket import WebSocketPump

__all__ = ["Runtime"]

ON_START_GIVE_UP_US = 10_000_000  # stop the run if no on_start succeeded by then
GC_YOUNG_THRESHOLD = 10_000  # allocations between young-generation collections

# Hub event tags (see VUserRuntime::Hub::poll; 4: WebSocketHub::take).
_ARRIVE, _DONE, _FINISH, _ABORT, _WEBSOCKET = 0, 1, 2, 3, 4


class Runtime:
    """One scenario's VUsers. Created on the engine's main thread (it only
    inspects the class: a ScenarioClass); :meth:`run` runs on the Python
    thread, and makes the run's RequestPump, ProcessGuard and BodyRunner
    there."""

    # Set by run(), for the run.
    hub: Hub
    loop: asyncio.AbstractEventLoop
    main: Any  # the loop's greenlet
    pump: RequestPump
    process: ProcessGuard
    bodies: BodyRunner
    stopped: "asyncio.Future[None]"
    workers: int

    def __init__(
        self,
        scenario: str,
        path: str,
        target: str,
        tasks: List[Tuple[str, str]],
        max_vusers: int,
        unlimited: bool,
        closed: bool = False,
        follow_redirects: bool = False,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        module = sys.modules.get(MODULE_NAME)
        cls = getattr(module, scenario, None)
        if not inspect.isclass(cls):
            raise RuntimeError(f"scenario class {scenario} is not loaded")
        self.cls = cls
        self.path = path
        self.abspath = os.path.abspath(path)
        self.base_url = target.rstrip("/")
        # The plan's redirect settings (docs/scenarios.md#redirects): the
        # default of calls that do not pass follow_redirects=, and the hop
        # limit of every call that follows them (RequestPump).
        self.follow_redirects = bool(follow_redirects)
        self.max_redirects = int(max_redirects)
        self.max_vusers = max(1, int(max_vusers))
        self.unlimited = bool(unlimited)
        self.closed = bool(closed)
        self.scenario = ScenarioClass(cls, tasks)
        # Read by the engine: the metric rows it adds after the plan's tasks.
        self.extra_labels = self.scenario.extra_labels
        # A closed-loop run whose tasks all run here starts each VUser's next
        # iteration itself when one ends (see Hub.next_iteration), picking
        # the task by weight as a worker would.
        self.renew = self.unlimited and self.scenario.all_python

        self.idle: List[VUserState] = []
        self.vusers: List[VUserState] = []
        self.by_user: Dict[int, VUserState] = {}  # closed model: each user's VUser
        self.waiting: Deque[Tuple[int, int, int, int]] = deque()  # closed loop only
        self.finishing = False
        self.stopping = 0
        self.on_start_ok = 0
        self.first_on_start_failure_us: Optional[int] = None
        self.gave_up = False
        self.flush_scheduled = False

    # --- the loop -----------------------------------------------------------

    def run(self, hub: Hub) -> None:
        self.hub = hub
        self.workers = max(1, int(hub.workers))
        self.loop = loop = asyncio.SelectorEventLoop(HubSelector(hub))
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._loop_error)
        self.main = greenlet.getcurrent()
        self.pump = RequestPump(
            hub,
            loop,
            self.main,
            base_url=self.base_url,
            static_names=self.scenario.static_names,
            follow_redirects=self.follow_redirects,
            max_redirects=self.max_redirects,
        )
        self.pump.websockets = WebSocketPump(
            hub, loop, self.main, self.base_url, self.scenario.static_names, self.pump.named_rows
        )
        self.process = ProcessGuard(
            hub.stop_run,
            loop,
            self.main,
            scenario=self.cls.__name__,
            path=self.path,
            abspath=self.abspath,
            row_names=self.scenario.row_names,
        )
        self.bodies = BodyRunner(
            hub, loop, self.main, self.process, self.scenario, self.path, self.abspath
        )
        # Every request makes a few short-lived container objects; with the
        # default threshold (700) the young generation is collected every
        # few dozen requests, and the older ones (then scanning all the
        # import left alive) often too. Freeze what exists now and collect
        # less often; both are restored when the run ends.
        gc_threshold = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc_threshold[1:])
        self.stopped = loop.create_future()
        loop.add_reader(hub.fileno(), self._on_ready)
        self.process.register()
        try:
            loop.run_until_complete(self.stopped)
        finally:
            self.process.unregister()
            hub.flush()
            hub.close_io()
            # Parked VUser greenlets end here, on their own thread.
            self.pump.websockets.end_run()
            for vu in self.vusers:
                if vu.glet is not None and not vu.glet.dead:
                    try:
                        vu.glet.throw(greenlet.GreenletExit)
                    except BaseException:  # noqa: B902 - only ending it matters
                        pass
                vu.glet = None
            # Tasks abandoned at the end of a run are not worth a warning.
            loop.set_exception_handler(lambda _loop, _context: None)
            loop.remove_reader(hub.fileno())
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.close()
            asyncio.set_event_loop(None)
            # Nothing may keep this thread's greenlets alive after it ends.
            self.main = None
            self.bodies.close()
            self.idle.clear()
            self.vusers.clear()
            self.pump.close()
            self.pump.websockets.shutdown()
            gc.set_threshold(*gc_threshold)
            gc.unfreeze()

    def _loop_error(self, loop: Any, context: Dict[str, Any]) -> None:
        """A callback failed. The runtime's own callbacks never should: then
        stop the run with the reason rather than hang. A task or future the
        user created is reported as asyncio would."""
        if "handle" not in context:
            loop.default_exception_handler(context)
            return
        exc = context.get("exception")
        detail = repr(exc) if exc is not None else context.get("message", "unknown error")
        self.hub.stop_run(f"internal error in the Python VUser runtime: {detail}")
        self._stop()

    def _on_ready(self) -> None:
        # Whatever the events below send or end goes out in one flush at the
        # end, without a loop callback of its own.
        scheduled = self.flush_scheduled
        self.flush_scheduled = True
        try:
            self._handle_events()
        finally:
            if not scheduled:
                self.flush_scheduled = False
                self.hub.flush()

    def _handle_events(self) -> None:
        completed = self.pump.completed
        for event in self.hub.poll():
            tag = event[0]
            if tag == _DONE:
                completed(event)
            elif tag == _ARRIVE:
                self._arrived(event[1], event[2], event[3], event[4] if len(event) > 4 else -1)
            elif tag == _FINISH:
                self._finish(event[1])
            elif tag == _ABORT:
                self._stop()
            elif tag == _WEBSOCKET:
                self.pump.websockets.completed(event)

    def _wake_workers(self) -> None:
        """The hub queues iteration ends; they go to the workers in one
        batch per loop pass, after everything ready has run."""
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush_hub)

    def _flush_hub(self) -> None:
        self.flush_scheduled = False
        self.hub.flush()

    def _done(self, worker: int, user: int) -> None:
        """Tells WORKER one of its arrivals (of USER, or -1) is over
        (exactly once each)."""
        self.hub.iteration_done(worker, user)
        self._wake_workers()

    def _stop(self) -> None:
        if not self.stopped.done():
            self.stopped.set_result(None)
        self.hub.finished()

    # --- arrivals and the pool ----------------------------------------------

    def _arrived(self, task: int, intended_us: int, worker: int, user: int) -> None:
        if self.finishing:
            self.hub.record_dropped()  # due, but the run is ending: never started
            self._done(worker, user)
            return
        if self.closed and user >= 0:
            vu = self.by_user.get(user)
            if vu is None:
                vu = self._new_vuser(task)
                if vu is not False:
                    self.by_user[user] = vu
        else:
            vu = self.idle.pop() if self.idle else self._take_vuser(task, worker)
        if vu is None:
            if self.unlimited:
                self.waiting.append((task, intended_us, worker, user))
            else:
                self.hub.record_dropped()
                self._done(worker, user)
            return
        if vu is False:  # the constructor failed (recorded): a failed iteration
            self.hub.record_started(intended_us)
            self.hub.end_iteration(task, intended_us, worker, user, False)
            self._wake_workers()
            return
        self._begin(vu, task, intended_us, worker, user)

    def _begin(self, vu: VUserState, task: int, intended_us: int, worker: int, user: int) -> None:
        self.hub.record_started(intended_us)
        job = (task, intended_us, worker, user)
        if vu.glet is None or vu.glet.dead:
            vu.glet = greenlet.greenlet(self._vuser_main, parent=self.main)
            vu.glet.vuser = vu  # whose time.sleep() pauses it (ProcessGuard.pause)
            vu.glet.switch(vu, job)
        else:
            vu.glet.switch(job)

    def _vuser_main(self, vu: VUserState, job: Tuple[int, int, int, int]) -> None:
        while True:
            renewed = self._iteration(vu, *job)
            # parked until _begin hands it the next arrival, unless the
            # iteration that ended started the next one itself
            job = renewed if renewed is not None else self.main.switch()

    def _take_vuser(self, task: int, worker: int) -> Any:
        """A new VUser (the caller found none idle); None with the pool
        full, False when its constructor failed (recorded)."""
        if len(self.vusers) >= self.max_vusers:
            return None
        return self._new_vuser(task)

    def _new_vuser(self, task: int) -> Any:
        """A new VUser, or False when its constructor failed (recorded)."""
        try:
            vu = VUserState(self.pump, self.cls())
        except BaseException as exc:  # noqa: B902 - user code; counted
            self.hub.record_error(task, "exception", self.bodies.describe(exc))
            return False
        self.vusers.append(vu)
        return vu

    def _serve_waiting(self) -> None:
        while self.waiting and self.idle and not self.finishing:
            task, _, worker, user = self.waiting.popleft()
            self._begin(self.idle.pop(), task, self.hub.now_us(), worker, user)

    # --- one iteration (runs in the VUser's greenlet) ------------------------

    def _iteration(
        self, vu: VUserState, task: int, intended_us: int, worker: int, user: int
    ) -> Optional[Tuple[int, int, int, int]]:
        """Runs one arrival. Returns the next iteration for this VUser when
        it started one itself (closed loop), else None (the VUser is idle)."""
        ran = False
        ended = False  # the hub has recorded the end already
        start_us = intended_us
        try:
            if not vu.started:
                if self.scenario.has_on_start and not self._on_start(vu, intended_us, worker):
                    return None  # this arrival was spent on the failed on_start
                vu.started = True
                if self.scenario.has_on_start:
                    start_us = self.hub.now_us()
            it = self.bodies.task(vu, task, start_us, worker)
            ran = True
            # Only an iteration that sent something goes on by itself: one
            # that did not never gave the loop a turn.
            if self.renew and it.first_sent and not self.waiting and not self.finishing:
                vu.current = None
                next_start = self.hub.next_iteration(task, start_us, worker, user, it.sent)
                if next_start >= 0:
                    ended = None  # the slot goes on: this VUser stays busy
                    return (self.scenario.pick_task(), next_start, worker, user)
                ended = True  # next_iteration recorded it and ended the slot
        except greenlet.GreenletExit:
            # The run ended with this iteration still running (run() ends
            # parked VUsers): it did not finish, successfully or not. Left
            # unended, the engine counts it cut off (docs/output.md#iterations).
            ended = None
            raise
        finally:
            hook = vu.current  # a failed on_start's Iteration (when not ran)
            vu.current = None
            if ended is not None:
                # Back to the pool (a closed model's VUser stays its user's);
                # _done(worker, user), inlined: this runs once per iteration.
                if not self.closed:
                    self.idle.append(vu)
                if self.waiting:
                    # Started from the loop's greenlet, never from this one.
                    self.loop.call_soon(self._serve_waiting)
                if ended:
                    pass
                elif ran:  # the iteration's measurement and its end, in one hub call
                    self.hub.end_iteration(task, start_us, worker, user, it.sent)
                else:  # spent on an on_start that failed: ends in its row
                    self.hub.end_iteration(
                        self.scenario.rows[ON_START],
                        intended_us,
                        worker,
                        user,
                        hook is not None and hook.sent,
                    )
                if not self.flush_scheduled:
                    self._wake_workers()
        return None

    def _on_start(self, vu: VUserState, intended_us: int, worker: int) -> bool:
        row = self.scenario.rows[ON_START]
        it = Iteration(row, intended_us, worker, False)
        vu.current = it
        try:
            self.bodies.call_hook(vu, ON_START, self.scenario.async_on_start)
        except greenlet.GreenletExit:
            raise
        except BaseException as exc:  # noqa: B902 - user code; counted
            message = self.bodies.describe(exc)
            self.bodies.count_exception(it, row, exc, message)
            self._on_start_failed(message)
            return False
        self.on_start_ok += 1
        return True

    def _on_start_failed(self, message: str) -> None:
        now = self.hub.now_us()
        if self.first_on_start_failure_us is None:
            self.first_on_start_failure_us = now
        if (
            self.on_start_ok == 0
            and not self.gave_up
            and now - self.first_on_start_failure_us >= ON_START_GIVE_UP_US
        ):
            self.gave_up = True
            self.hub.stop_run(
                f"every on_start failed for {ON_START_GIVE_UP_US // 1_000_000} s; "
                f"stopping the run. Last error: {message}"
            )

    # --- finishing ----------------------------------------------------------

    def _finish(self, deadline_us: int) -> None:
        if self.finishing:
            return
        self.finishing = True
        while self.waiting:
            _, _, worker, user = self.waiting.popleft()
            self._done(worker, user)
        users = [vu for vu in self.vusers if vu.started] if self.scenario.has_on_stop else []
        if not users:
            self._stop()
            return
        self.stopping = len(users)
        self.loop.call_later(max(0.0, (deadline_us - self.hub.now_us()) / 1e6), self._stop)
        for i, vu in enumerate(users):
            glet = greenlet.greenlet(self._on_stop, parent=self.main)
            glet.vuser = vu
            glet.switch(vu, i % self.workers)

    def _on_stop(self, vu: VUserState, worker: int) -> None:
        row = self.scenario.rows[ON_STOP]
        it = vu.current = Iteration(row, self.hub.now_us(), worker, False)
        try:
            self.bodies.call_hook(vu, ON_STOP, self.scenario.async_on_stop)
        except greenlet.GreenletExit:
            raise
        except BaseException as exc:  # noqa: B902 - user code; counted
            self.bodies.count_exception(it, row, exc)
        finally:
            vu.current = None
        self.stopping -= 1
        if self.stopping == 0:
            self.loop.call_soon(self._stop)
