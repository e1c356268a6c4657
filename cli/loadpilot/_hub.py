"""The engine's hub as the Python VUser runtime sees it.

The engine (engine/scenario/vuser_runtime.cc, the ``_loadpilot_hub``
module) hands :meth:`Runtime.run <loadpilot._runtime.Runtime.run>` one hub
object. These protocols name what each part of the runtime uses of it, so
that each part states its dependency and can be given a stand-in in a unit
test:

* :class:`Dispatcher`: sending requests and recording them
  (_requests.RequestPump);
* :class:`HubIO`: the hub's I/O wait (:class:`HubSelector`);
* :class:`Hub`: all of it, with arrivals, iteration ends and the run's
  end (_runtime.Runtime).

Times are microseconds since the run's start (``now_us()``).
"""

from __future__ import annotations

import selectors
from typing import Any, List, Optional, Protocol, Sequence, Tuple

__all__ = ["Dispatcher", "Hub", "HubIO", "HubSelector"]


class Dispatcher(Protocol):
    """Sends requests on the engine's HTTP client and records measurements."""

    def now_us(self) -> int: ...

    def send(
        self,
        method: str,
        path: str,
        headers: Sequence[Tuple[str, str]],
        body: bytes,
        row: int,
        named: int,
        base_us: int,
        record: bool,
        max_body: int,
        full_path: bool,
    ) -> int:
        """Sends a request and returns its id; the hub's poll() reports it
        finished (a ``(1, id, ...)`` event). With RECORD the hub records it
        then, in metrics row ROW (and sub-row NAMED, -1: none), its latency
        counted from BASE_US (negative: now); else the caller records it
        (record_request). FULL_PATH: PATH is the whole path on the
        target's origin (a redirect hop), not relative to the target."""
        ...

    def named_row(self, row: int, name: str) -> int:
        """The sub-row of ROW for a call's literal ``name=``."""
        ...

    def record_request(
        self,
        row: int,
        named: int,
        latency_us: int,
        service_us: int,
        kind: Optional[str],
        message: str,
    ) -> None:
        """Records one request (KIND: an error kind name, None: success)."""
        ...


class HubIO(Protocol):
    """The hub's I/O wait, which runs the engine's HTTP client on this thread."""

    def fileno(self) -> int:
        """An eventfd, readable whenever poll() has something."""
        ...

    def run_io(self, timeout_s: float, inner_fd: int) -> bool:
        """Runs the client's I/O until a request finished, an event came,
        INNER_FD is readable or TIMEOUT_S passed (negative: no limit);
        returns whether INNER_FD is readable."""
        ...

    def ready(self) -> bool: ...


class Hub(Dispatcher, HubIO, Protocol):
    """Everything the engine's hub offers (VUserRuntime::Hub)."""

    workers: int

    def poll(self) -> List[Tuple[Any, ...]]:
        """Every event since the last poll (see VUserRuntime::Hub::poll)."""
        ...

    def close_io(self) -> None: ...
    def flush(self) -> None: ...
    # WIRE: the iteration sent at least one request (Iteration.sent).
    def record_iteration(self, row: int, start_us: int, wire: bool) -> None: ...
    def end_iteration(
        self, row: int, start_us: int, worker: int, user: int, wire: bool
    ) -> None: ...
    def next_iteration(
        self, row: int, start_us: int, worker: int, user: int, wire: bool
    ) -> int: ...
    def record_error(self, row: int, kind: str, message: str) -> None: ...
    def record_started(self, intended_us: int) -> None: ...
    def record_dropped(self) -> None: ...
    def iteration_done(self, worker: int, user: int) -> None: ...
    def finished(self) -> None: ...
    def stop_run(self, message: str) -> None: ...


class HubSelector(selectors.EpollSelector):
    """asyncio's selector on the Python thread. Its wait is the hub's:
    the hub runs the engine's HTTP client on this thread until a request
    finished, an arrival (or other event) came in, one of asyncio's own file
    descriptors (in this selector's epoll) is ready, or the timeout passed.
    The hub's eventfd is registered like any reader; it is reported ready
    whenever the hub has something for poll()."""

    def __init__(self, hub: HubIO) -> None:
        super().__init__()
        self._hub = hub
        self._hub_fd = hub.fileno()

    def select(self, timeout: Optional[float] = None) -> List[Tuple[Any, int]]:
        hub = self._hub
        wait = -1.0 if timeout is None else max(0.0, timeout)
        ready = super().select(0) if hub.run_io(wait, self.fileno()) else []
        if hub.ready() and not any(key.fd == self._hub_fd for key, _ in ready):
            key = self.get_map().get(self._hub_fd)
            if key is not None:
                ready.append((key, selectors.EVENT_READ))
        return ready
