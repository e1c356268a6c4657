"""What scenario code prints goes to stderr, each line labelled.

LoadPilot's own output owns stdout: with ``--output ndjson`` it is one JSON
object per line, which a scenario's ``print()`` would break (or forge: a
task could print a ``{"type": "summary", ...}`` line of its own). The engine
calls :func:`install` before it imports the scenario file; from then on
``sys.stdout`` is a :class:`LabelledOutput` that writes each line to
stderr as ``[LABEL] line``. LABEL is the scenario file's name while it is
imported, and ``Scenario.task`` (the scenario class and the task, or
``on_start``/``on_stop``, of the VUser that printed) during a run
(docs/scenarios.md#printing).
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, Callable, Dict, List, Optional

__all__ = ["LabelledOutput", "install", "register", "unregister"]

# Who is printing, per thread: a function returning the label (the runtime
# running on that thread), else the file being imported.
_labellers: Dict[int, Callable[[], str]] = {}


class LabelledOutput(io.TextIOBase):
    """A text stream that writes whole lines to SINK, each prefixed with
    ``[label] ``. Text without a newline yet waits for one, for
    :meth:`end_line`, or for text from someone else (another label)."""

    def __init__(self, sink: Any, label: str) -> None:
        super().__init__()
        self._sink = sink
        self.default_label = label
        self._pending: List[str] = []
        self._pending_label = label  # who wrote the text in _pending
        self._lock = threading.Lock()

    def _label(self) -> str:
        labeller = _labellers.get(threading.get_ident())
        if labeller is not None:
            try:
                return labeller()
            except Exception:  # a label is never worth losing the line
                pass
        return self.default_label

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        label = self._label()
        with self._lock:
            if self._pending and label != self._pending_label:
                # Someone else's unfinished line: it ends where they stopped.
                self._end_pending()
            if "\n" not in text:
                if text:
                    self._pending.append(text)
                    self._pending_label = label
                return len(text)
            *complete, rest = text.split("\n")
            complete[0] = "".join(self._pending) + complete[0]
            self._pending = [rest] if rest else []
            self._pending_label = label
            self._sink.write("".join(f"[{label}] {line}\n" for line in complete))
            self._sink.flush()
        return len(text)

    def _end_pending(self) -> None:
        text = "".join(self._pending)
        self._pending = []
        self._sink.write(f"[{self._pending_label}] {text}\n")

    def end_line(self) -> None:
        """Writes out text still waiting for its newline, as a line."""
        with self._lock:
            if self._pending:
                self._end_pending()
        self.flush()

    def flush(self) -> None:
        self._sink.flush()

    def fileno(self) -> int:
        # Code that writes to the descriptor itself still stays off stdout.
        return int(self._sink.fileno())

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._sink, "encoding", "utf-8"))


def install(label: str) -> None:
    """Makes ``sys.stdout`` a LabelledOutput onto stderr whose label,
    outside a run, is LABEL (the scenario file's name)."""
    current = sys.stdout
    if isinstance(current, LabelledOutput):
        current.default_label = label
        return
    sink = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    if current is not None:
        current.flush()
    sys.stdout = LabelledOutput(sink, label)


def register(labeller: Callable[[], str]) -> None:
    """LABELLER names who prints on this thread (a runtime, while it runs)."""
    _labellers[threading.get_ident()] = labeller


def unregister(labeller: Callable[[], str]) -> None:
    if _labellers.get(threading.get_ident()) == labeller:
        del _labellers[threading.get_ident()]
    out: Optional[Any] = sys.stdout
    if isinstance(out, LabelledOutput):
        out.end_line()
