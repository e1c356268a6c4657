"""Scenario code cannot end the LoadPilot process.

A scenario runs inside the engine's process: ``os._exit()`` or
``os.abort()`` in a task would end it at once, without a summary, results
or report, and with ``os._exit(0)`` even as a success. The engine calls
:func:`install` before it imports the scenario; from then on both raise
:class:`ProcessExitRefused` instead, naming the call. During a run the
runtime is told first (with the caller's frame), and stops the run with
that as its problem, so the run fails and says where; while the file is
imported the exception makes the import fail, naming the line.
``sys.exit()`` (``SystemExit``) needs no patch: it is an exception, which
the runtime treats the same way (docs/scenarios.md#ending-the-process).
"""

from __future__ import annotations

import os
import sys
import threading
from types import FrameType
from typing import Any, Callable, Dict, NoReturn, Optional

__all__ = ["ProcessExitRefused", "install", "register", "unregister"]

_real_exit = os._exit
_real_abort = os.abort
# The running runtimes' handlers, per thread: handler(what, frame) stops
# that run, naming WHAT ("os._exit(0)") and where FRAME is.
_handlers: Dict[int, Callable[[str, Optional[FrameType]], None]] = {}


class ProcessExitRefused(RuntimeError):
    """Scenario code called os._exit() or os.abort(): refused, since it
    would end the whole LoadPilot process and lose the run's results."""


def _refuse(what: str) -> NoReturn:
    frame = sys._getframe(2)
    handler = _handlers.get(threading.get_ident())
    # A thread of the scenario's own: every run in this process stops.
    handlers = [handler] if handler is not None else list(_handlers.values())
    for stop in handlers:
        stop(what, frame)
    raise ProcessExitRefused(
        f"{what} would end the LoadPilot process and lose the run's results; "
        "a scenario cannot end the process"
    )


def _guarded_exit(status: Any) -> NoReturn:
    if os.getpid() != _engine_pid:  # a child the scenario forked ends as it likes
        _real_exit(status)
    _refuse(f"os._exit({status!r})")


def _guarded_abort() -> NoReturn:
    if os.getpid() != _engine_pid:
        _real_abort()
    _refuse("os.abort()")


_engine_pid = -1


def install() -> None:
    """Replaces os._exit and os.abort for the rest of this process (not
    in processes it forks)."""
    global _engine_pid
    _engine_pid = os.getpid()
    os._exit = _guarded_exit
    os.abort = _guarded_abort


def register(handler: Callable[[str, Optional[FrameType]], None]) -> None:
    _handlers[threading.get_ident()] = handler


def unregister(handler: Callable[[str, Optional[FrameType]], None]) -> None:
    if _handlers.get(threading.get_ident()) == handler:
        del _handlers[threading.get_ident()]
