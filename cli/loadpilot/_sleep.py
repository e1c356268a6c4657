"""``time.sleep()`` that pauses only the VUser calling it.

All VUsers share one Python thread (_runtime.py), so the real
``time.sleep()`` in a task would stop every one of them. The scenario file
is imported with ``time.sleep`` replaced by :func:`sleep` (also what a
later ``from time import sleep`` gets): called from a VUser's greenlet
during a run, it parks that greenlet on the runtime's loop for the time
asked, as gevent does for Locust's users; anywhere else (while the
scenario is imported, in an ``async def`` task, on another thread) it is
the real one (docs/scenarios.md#pauses-in-a-task).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Dict

__all__ = ["install", "register", "sleep", "unregister"]

_real_sleep = time.sleep
# The runtime running on each thread (by thread id), while it runs.
_runtimes: Dict[int, Any] = {}


@functools.wraps(_real_sleep)
def sleep(seconds: float) -> None:
    runtime = _runtimes.get(threading.get_ident())
    if runtime is None or not runtime.pause(seconds):
        _real_sleep(seconds)


def install() -> None:
    """Makes ``time.sleep`` this module's :func:`sleep` (once)."""
    if time.sleep is not sleep:
        time.sleep = sleep


def register(runtime: Any) -> None:
    """A runtime runs on this thread: its VUsers' sleeps go to RUNTIME's
    ``pause(seconds)`` (a _process.ProcessGuard), which returns False to
    have the real sleep."""
    install()
    _runtimes[threading.get_ident()] = runtime


def unregister(runtime: Any) -> None:
    if _runtimes.get(threading.get_ident()) is runtime:
        del _runtimes[threading.get_ident()]
