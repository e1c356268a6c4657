"""What a VUser's code meets of the process it runs in, for the Python
VUser runtime (_runtime.py, mixed into Runtime): time.sleep() pauses only
its VUser (_sleep.py), what it prints is labelled with its task
(_output.py), and a call that would end the process stops the run instead
(_guard.py)."""

from __future__ import annotations

import os
import threading
import traceback
from typing import Any, List

import greenlet

__all__ = ["ProcessSide"]


class ProcessSide:
    """Uses the runtime's hub, loop, main greenlet, class, path, abspath,
    row names and thread id."""

    hub: Any
    loop: Any
    main: Any
    cls: type
    path: str
    abspath: str
    row_names: List[str]
    thread_id: int

    def output_label(self) -> str:
        """Who prints now (_output.py): "Scenario.task" in a VUser's
        greenlet, else the scenario's name."""
        vu = getattr(greenlet.getcurrent(), "vuser", None)
        it = vu.current if vu is not None else None
        if it is not None and 0 <= it.row < len(self.row_names):
            return f"{self.cls.__name__}.{self.row_names[it.row]}"
        return self.cls.__name__

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

    def _process_exit(self, what: str, frame: Any) -> None:
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
        who = self.output_label() if threading.get_ident() == self.thread_id else self.cls.__name__
        self.hub.stop_run(
            f"{where}: {who} called {what}, which would end the LoadPilot process and lose "
            "the run's results; the call was refused and the run stops "
            "(docs/scenarios.md#ending-the-process)"
        )
