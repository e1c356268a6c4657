"""What a VUser's code meets of the process it runs in, for the Python
VUser runtime (_runtime.py): time.sleep() pauses only its VUser
(_sleep.py), what it prints is labelled with its task (_output.py), and a
call that would end the process stops the run instead (_guard.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import traceback
from typing import Any, Callable, List, Sequence

import greenlet

from . import _guard, _output, _sleep

__all__ = ["ProcessGuard"]


class ProcessGuard:
    """The process side of one run, on the runtime's thread (the thread
    that creates it).

    STOP_RUN(message) stops the run with that problem (the hub's
    stop_run); LOOP (the run's asyncio loop) wakes a pausing VUser; MAIN is
    the loop's greenlet, to which a pausing VUser switches. SCENARIO is
    the scenario class's name, PATH the scenario file as the user gave it
    (ABSPATH: absolute, to find its frames), ROW_NAMES each metrics row's
    task (or hook) name. A VUser's greenlet carries its VUserState as
    ``vuser``; whoever runs outside one is the scenario itself.

    :meth:`register` makes this thread's sleeps, prints and exit calls
    come here (until :meth:`unregister`)."""

    def __init__(
        self,
        stop_run: Callable[[str], None],
        loop: asyncio.AbstractEventLoop,
        main: Any,
        *,
        scenario: str,
        path: str,
        abspath: str,
        row_names: Sequence[str],
    ) -> None:
        self.stop_run = stop_run
        self.loop = loop
        self.main = main
        self.scenario = scenario
        self.path = path
        self.abspath = abspath
        self.row_names = row_names
        self.thread_id = threading.get_ident()

    def register(self) -> None:
        _sleep.register(self)
        _output.register(self.output_label)
        _guard.register(self.process_exit)

    def unregister(self) -> None:
        _guard.unregister(self.process_exit)
        _output.unregister(self.output_label)
        _sleep.unregister(self)
        self.main = None  # nothing here keeps the run's greenlets alive

    def output_label(self) -> str:
        """Who prints now (_output.py): "Scenario.task" in a VUser's
        greenlet, else the scenario's name."""
        vu = getattr(greenlet.getcurrent(), "vuser", None)
        it = vu.current if vu is not None else None
        if it is not None and 0 <= it.row < len(self.row_names):
            return f"{self.scenario}.{self.row_names[it.row]}"
        return self.scenario

    def pause(self, seconds: Any) -> bool:
        """time.sleep(SECONDS) called on this runtime's thread (_sleep.py):
        from a VUser's greenlet, parks it on the loop for that long, letting
        every other VUser run, and returns True; anywhere else (the loop's
        own greenlet, e.g. an async task body) returns False for the real,
        blocking sleep. A value time.sleep() refuses is left to it."""
        me = greenlet.getcurrent()
        vu = getattr(me, "vuser", None)
        if vu is None or self.main is None or me is self.main:
            return False
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            return False
        if not seconds >= 0:  # negative or NaN: time.sleep's ValueError
            return False
        it = vu.current
        if it is not None:
            # The pause is not latency: the next call is measured from when
            # it is made, not from the iteration's intended start.
            it.first_sent = True
        handle = self.loop.call_later(seconds, me.switch)
        try:
            self.main.switch()
        finally:
            handle.cancel()
        return True

    def exited(self, exc: SystemExit) -> None:
        """A task or hook raised SystemExit (sys.exit()): the run stops,
        naming the call."""
        self._stop_for_exit(f"sys.exit({exc.code!r})", traceback.extract_tb(exc.__traceback__))

    def process_exit(self, what: str, frame: Any) -> None:
        """os._exit() or os.abort() was called (_guard.py), here or on a
        thread of the scenario's own: the run stops, naming the call."""
        self._stop_for_exit(what, traceback.extract_stack(frame) if frame is not None else [])

    def _stop_for_exit(self, what: str, frames: List[traceback.FrameSummary]) -> None:
        where = self.path
        for frame in reversed(frames):
            if os.path.normcase(os.path.abspath(frame.filename)) == os.path.normcase(
                self.abspath
            ):
                where = f"{self.path}:{frame.lineno}"
                break
        who = self.output_label() if threading.get_ident() == self.thread_id else self.scenario
        self.stop_run(
            f"{where}: {who} called {what}, which would end the LoadPilot process and lose "
            "the run's results; the call was refused and the run stops "
            "(docs/scenarios.md#ending-the-process)"
        )
