"""Test data for VUsers from CSV files: ``loadpilot.data.csv``.

    import loadpilot.data
    users = loadpilot.data.csv("users.csv", order="round_robin")

    @scenario(users=20, duration="1m")
    class Login(VUser):
        def on_start(self, client):
            self.user = users.next()          # {"username": ..., "password": ...}
            client.post("/auth/login", json={"user": self.user["username"],
                                              "pass": self.user["password"]})

The file is read once, when the scenario is imported, so a missing file, an
empty one or a row with the wrong number of fields stops the run before any
traffic, naming the CSV's file:line (exit code 2 as every scenario error).
``next()`` then hands out rows in the chosen order:

* ``"round_robin"`` (the default): row 1, 2, ..., the last, then row 1 again;
* ``"sequential"``: each row once, in file order; then ``next()`` raises
  :class:`DataExhausted`, which fails that iteration and is counted and
  listed with the run's errors;
* ``"shuffle"``: each row once, in a random order; then as ``"sequential"``;
* ``"random"``: a row drawn at random each time (rows repeat).

A run in several processes (``--agents N``, ``--external-agents N``) splits
the rows as it splits the arrivals: agent I of N takes the I-th, (I+N)-th,
(I+2N)-th, ... place of the order, so ``"sequential"`` and ``"shuffle"``
never give one row to two agents. ``"random"`` and ``"shuffle"`` draw from
the run's ``--seed``, so a run repeats its order. The whole behaviour is
documented in docs/scenarios.md#test-data-from-csv-files.
"""

from __future__ import annotations

import codecs
import csv as _csv
import difflib
import os
import random as _random
import stat
import sys
import threading
from typing import (
    Any,
    Dict,
    Generic,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)

__all__ = [
    "DataError",
    "DataExhausted",
    "Feeder",
    "ORDERS",
    "csv",
]

ROUND_ROBIN = "round_robin"
SEQUENTIAL = "sequential"
SHUFFLE = "shuffle"
RANDOM = "random"
# Every order csv() accepts, the default first.
ORDERS: Tuple[str, ...] = (ROUND_ROBIN, SEQUENTIAL, SHUFFLE, RANDOM)

Row = TypeVar("Row", Dict[str, str], Tuple[str, ...])


class DataError(ValueError):
    """A data file that cannot be used: missing, empty, not CSV, a row with
    the wrong number of fields. str() names the file (and line)."""


class DataExhausted(DataError):
    """``next()`` on a ``"sequential"`` or ``"shuffle"`` feeder whose rows
    have all been handed out (in this agent's share of them)."""


# This process's share of every file's rows and the run's seed; set by the
# engine before it imports the scenario (see _configure), read when a
# feeder is made.
_agent_index = 0
_agent_count = 1
_seed = 1
# Absolute paths of the files csv() has read, in order: the scenario's
# bundle for external agents includes those of its folder
# (loadpilot._describe.local_files).
_files: Dict[str, None] = {}
# Feeders made so far in this process (part of each one's seed).
_made = 0


def _configure(agent_index: int = 0, agent_count: int = 1, seed: int = 1) -> None:
    """Called by the engine before the scenario is imported: this process is
    agent AGENT_INDEX (from 0) of AGENT_COUNT, and SEED is the run's --seed."""
    global _agent_index, _agent_count, _seed, _made
    if agent_count < 1 or not 0 <= agent_index < agent_count:
        raise ValueError(f"agent {agent_index} of {agent_count}")
    _agent_index, _agent_count, _seed = int(agent_index), int(agent_count), int(seed)
    _made = 0


def loaded_files() -> List[str]:
    """The absolute paths of the files read so far, in the order first read."""
    return list(_files)


class Feeder(Generic[Row]):
    """Rows of one CSV file, handed out by :meth:`next` in the feeder's
    order. Made by :func:`csv`; share one feeder between VUsers by making it
    at the scenario's top level (or as a class attribute)."""

    __slots__ = (
        "path",
        "order",
        "columns",
        "_display",
        "_rows",
        "_as_dict",
        "_lock",
        "_taken",
        "_share",
        "_index",
        "_count",
        "_rng",
    )

    def __init__(
        self,
        path: str,
        display: str,
        order: str,
        columns: Optional[Tuple[str, ...]],
        rows: List[_Packed],
        seed: str = "",
    ) -> None:
        #: The file's absolute path.
        self.path = path
        #: One of ORDERS.
        self.order = order
        #: The header's column names, or None for a file read with header=False.
        self.columns = columns
        self._display = display
        self._rows = rows
        self._as_dict = columns is not None
        self._lock = threading.Lock()
        self._taken = 0
        self._index = _agent_index
        self._count = _agent_count
        # Seeded by the run's seed, this agent and SEED (which feeder of the
        # scenario this is), so a run repeats its draws on any machine and two
        # feeders (or two agents) do not draw the same sequence.
        self._rng = _random.Random(f"{_seed}:{_agent_index}:{seed}")
        # "shuffle": this agent's rows (its places of the file's order), shuffled.
        self._share: List[int] = []
        if order == SHUFFLE:
            self._share = list(range(self._index, len(rows), self._count))
            self._rng.shuffle(self._share)

    def next(self) -> Row:
        """The next row: a dict keyed by the header's column names (a new
        dict each time), or a tuple of strings for header=False. Raises
        :class:`DataExhausted` when a "sequential" or "shuffle" feeder has
        handed out every row of its share."""
        rows = self._rows
        with self._lock:
            taken = self._taken
            if self.order == RANDOM:
                i = self._rng.randrange(len(rows))
            elif self.order == SHUFFLE:
                if taken >= len(self._share):
                    raise DataExhausted(self._exhausted())
                i = self._share[taken]
            else:
                i = self._index + taken * self._count
                if i >= len(rows):
                    if self.order == SEQUENTIAL:
                        raise DataExhausted(self._exhausted())
                    i %= len(rows)
            self._taken = taken + 1
        row = rows[i]
        fields = row.split(_SEP) if type(row) is str else row
        if self._as_dict:
            return dict(zip(self.columns, fields))  # type: ignore[arg-type, return-value]
        return tuple(fields)  # type: ignore[return-value]

    def __len__(self) -> int:
        """The number of rows in the file (the header not counted)."""
        return len(self._rows)

    def __repr__(self) -> str:
        rows = len(self._rows)
        return f"<loadpilot.data.Feeder {self._display!r}: {rows} rows, {self.order}>"

    def _exhausted(self) -> str:
        rows, order = len(self._rows), self.order
        if self._count == 1:
            return f"{self._display}: all {rows} rows used (order={order!r} gives each row once)"
        first, n = self._index + 1, self._count
        mine = len(range(self._index, rows, n))
        share = f"agent {first} of {n} takes rows {first}, {first + n}, {first + 2 * n}, ..."
        if mine == 0:
            return f"{self._display}: no rows for this agent ({share} and the file has {rows})"
        return (
            f"{self._display}: all {mine} rows of this agent's share used "
            f"(order={order!r} gives each row once; {share} of the file's {rows})"
        )


@overload
def csv(
    path: Union[str, "os.PathLike[str]"],
    order: str = ...,
    *,
    header: Literal[True] = ...,
    delimiter: str = ...,
    encoding: str = ...,
) -> Feeder[Dict[str, str]]: ...


@overload
def csv(
    path: Union[str, "os.PathLike[str]"],
    order: str = ...,
    *,
    header: Literal[False],
    delimiter: str = ...,
    encoding: str = ...,
) -> Feeder[Tuple[str, ...]]: ...


def csv(
    path: Any,
    order: str = ROUND_ROBIN,
    *,
    header: bool = True,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> Any:
    """Reads the CSV file PATH and returns a :class:`Feeder` of its rows.

    PATH is relative to the folder of the Python file that calls ``csv()``
    (the scenario's folder, for a call in the scenario), not to the current
    folder. ORDER is one of "round_robin" (default), "sequential",
    "shuffle" or "random" (see the module's documentation). With
    ``header=True`` (default) the first row names the columns and
    ``next()`` returns a dict per row; with ``header=False`` every row is
    data and ``next()`` returns a tuple. Fields are taken as written
    (quotes as in Excel's CSV, no whitespace stripped); blank lines are
    skipped. A UTF-8 byte order mark is ignored; pass ``encoding=`` for
    another encoding.

    Raises :class:`DataError` for a file that cannot be used, naming its
    file:line, and ``ValueError``/``TypeError`` for bad arguments.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"csv() path must be a str or a path, not {type(path).__name__}")
    if not isinstance(order, str) or order not in ORDERS:
        hint = ""
        if isinstance(order, str):
            close = difflib.get_close_matches(order.replace("-", "_").lower(), ORDERS, n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        raise ValueError(
            f"csv() order must be one of {', '.join(repr(o) for o in ORDERS)} "
            f"(got {order!r}){hint}"
        )
    if not isinstance(header, bool):
        raise TypeError(f"csv() header must be True or False (got {header!r})")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise ValueError(f"csv() delimiter must be one character (got {delimiter!r})")

    given = os.fspath(path)
    caller = sys._getframe(1).f_code.co_filename
    abspath = _resolve(given, caller)
    display = _display(abspath)
    missing = f"{display}: no such file"
    if not os.path.isabs(os.path.expanduser(given)):
        # The folder GIVEN is relative to, which is not the missing file's
        # own folder when GIVEN has folders in it.
        missing += f" ({given!r} is taken from the folder of the file calling csv(): " \
            f"{_base_folder(caller)})"
    columns, rows = _read(abspath, display, missing, header, delimiter, encoding)
    _files.setdefault(abspath, None)
    global _made
    _made += 1
    return Feeder(abspath, display, order, columns, rows, seed=f"{_made}:{given}:{order}")


def _resolve(path: str, caller: str) -> str:
    """PATH made absolute from _base_folder(CALLER)."""
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(_base_folder(caller), path))


def _base_folder(caller: str) -> str:
    """The folder of the file CALLER (a code object's file name), or the
    current folder when CALLER is not a file ("<stdin>", "<string>")."""
    if caller and not caller.startswith("<"):
        return os.path.dirname(os.path.abspath(caller))
    return os.getcwd()


def _display(abspath: str) -> str:
    """ABSPATH as messages show it: relative to the current folder when it
    is below it, else absolute."""
    try:
        rel = os.path.relpath(abspath)
    except ValueError:
        return abspath
    return abspath if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def _read(
    abspath: str, display: str, missing: str, header: bool, delimiter: str, encoding: str
) -> Tuple[Optional[Tuple[str, ...]], List[_Packed]]:
    # stat() first: opening a named pipe with no writer would hang the import.
    try:
        st = os.stat(abspath)
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(missing) from None
    except OSError as exc:
        raise DataError(f"{display}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise DataError(f"{display} is {kind}, not a CSV file")
    try:
        f = open(abspath, newline="", encoding=encoding)
    except LookupError:
        raise ValueError(f"csv() encoding: unknown encoding {encoding!r}") from None
    except OSError as exc:
        raise DataError(f"{display}: {exc.strerror}") from None

    columns: Optional[Tuple[str, ...]] = None
    width = 0
    width_line = 0
    rows: List[_Packed] = []
    line = 1  # where the next record starts
    with f:
        reader = _csv.reader(f, delimiter=delimiter, strict=True)
        try:
            for record in reader:
                start, line = line, reader.line_num + 1
                if not record:
                    continue  # a blank line
                if header and columns is None:
                    columns = _columns(record, display, start)
                    width, width_line = len(columns), start
                    continue
                if not width:
                    width, width_line = len(record), start
                if len(record) != width:
                    raise DataError(
                        _wrong_width(display, start, record, width, width_line, columns)
                    )
                rows.append(_pack(record))
        except _csv.Error as exc:
            raise DataError(f"{display}:{reader.line_num}: not valid CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{display}:{_undecodable_line(abspath, encoding)}: not {encoding} text "
                f"({exc.reason}); give csv() the file's encoding=, e.g. encoding=\"latin-1\""
            ) from None
    if header and columns is None:
        raise DataError(
            f"{display}: the file is empty; expected a header row naming the columns, then "
            "one row per line (or header=False for a file without a header)"
        )
    if not rows:
        if header:
            raise DataError(f"{display}: has a header (line {width_line}) but no rows")
        raise DataError(f"{display}: the file is empty (no rows)")
    return columns, rows


# A row is kept as one string, its fields joined by _SEP (half the memory
# of a tuple of strings: a million rows of two short fields take about
# 80 MB), or as a tuple when a field holds _SEP itself.
_SEP = "\x1f"  # ASCII's unit separator
_Packed = Union[str, Tuple[str, ...]]


def _pack(record: List[str]) -> _Packed:
    joined = _SEP.join(record)
    return joined if joined.count(_SEP) == len(record) - 1 else tuple(record)


def _undecodable_line(abspath: str, encoding: str) -> int:
    """The line of the file's first byte that ENCODING cannot decode (the
    text reader decodes in blocks, so its own position says less)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    newlines = 0
    with open(abspath, "rb") as f:
        for raw in f:
            try:
                newlines += decoder.decode(raw).count("\n")
            except UnicodeDecodeError:
                break
    return newlines + 1


def _columns(record: Sequence[str], display: str, line: int) -> Tuple[str, ...]:
    seen: Dict[str, int] = {}
    for number, name in enumerate(record, 1):
        if not name.strip():
            raise DataError(
                f"{display}:{line}: column {number} of the header has no name "
                "(or use header=False for a file without a header)"
            )
        if name in seen:
            raise DataError(
                f"{display}:{line}: the header names column {name!r} twice "
                f"(columns {seen[name]} and {number})"
            )
        seen[name] = number
    return tuple(record)


def _wrong_width(
    display: str,
    line: int,
    record: Sequence[str],
    width: int,
    width_line: int,
    columns: Optional[Tuple[str, ...]],
) -> str:
    if columns is not None:
        return (
            f"{display}:{line}: {_fields(len(record))}, but the header (line {width_line}) "
            f"has {width}: {','.join(columns)}"
        )
    return f"{display}:{line}: {_fields(len(record))}, but line {width_line} has {width}"


def _fields(n: int) -> str:
    return "1 field" if n == 1 else f"{n} fields"
