"""Turns a scenario file into a JSON description for the engine.

The engine's loader (engine/scenario/loader.cc) calls :func:`describe_file`
in its embedded interpreter and builds the Plan from the result; this module
does no validation of its own so that all problems are reported by the engine
in one place, naming the field.

Every task runs as Python on each iteration unless :func:`native_proof`
shows, from the task's source, that it always sends one and the same request.
Only such a task's body is called here, once, with a recording client (see
client.py); the request it records is what the engine then sends natively.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import inspect
import json
import numbers
import os
import sys
import tokenize
import traceback
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _grpc, _guard, _output, _shape, _sleep, data, metrics
from .client import LoadClient, RecordingTransport, Request
from ._native_proof import follows_redirects, native_proof
from ._signatures import _overrides, signature_problems
from .dsl import member_names, scenario_config, task_info, tasks_of

__all__ = [
    "MODULE_NAME",
    "ScenarioLoadError",
    "describe",
    "describe_file",
    "embed",
    "local_files",
    "native_proof",
]

MODULE_NAME = "__loadpilot_scenario__"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ScenarioLoadError(Exception):
    """The scenario file could not be imported. str() is ready to print:
    "FILE:LINE: ExcType: message" (plus the offending line for syntax errors)."""


def describe_file(path: str, agent_index: int = 0, agent_count: int = 1, seed: int = 1) -> str:
    """Imports the scenario file PATH and returns its @scenario classes as a
    JSON list (shape documented in engine/scenario/loader.h).

    This process is agent AGENT_INDEX (from 0) of AGENT_COUNT and SEED is
    the run's --seed: they decide which rows of loadpilot.data's files the
    scenario's feeders hand out here (docs/scenarios.md#test-data-from-csv-files).
    """
    data._configure(agent_index, agent_count, seed)
    return json.dumps(describe(path), allow_nan=False)


def embed(path: str) -> None:
    """Called by the engine once before it imports the scenario file PATH
    in its own process: the scenario's output goes to stderr, labelled
    (_output.py), and it cannot end the process (_guard.py)."""
    _output.install(os.path.basename(path))
    _guard.install()


def describe(path: str) -> List[Dict[str, Any]]:
    abspath = os.path.abspath(path)
    metrics._scenario_file = (abspath, path)
    _grpc.set_scenario(abspath, path)
    module = _import_scenario(path, abspath)
    lines = _definition_lines(abspath)
    classes: Dict[int, type] = {}
    for value in list(vars(module).values()):
        if (
            inspect.isclass(value)
            and value.__module__ == MODULE_NAME
            and scenario_config(value) is not None
        ):
            classes.setdefault(id(value), value)
    ordered = sorted(classes.values(), key=lambda c: lines.get(c.__qualname__, sys.maxsize))
    problems = []
    for cls in ordered:
        problems += signature_problems(cls, path, abspath, lines)
    for cls in ordered:  # the .proto files of literal gRPC calls parse before any is sent
        problems += _grpc.problems(cls, path)
    if problems:
        raise ScenarioLoadError("\n".join(problems))
    tables = _shape.stages_lines(abspath)
    return [_describe_class(cls, path, abspath, lines, tables) for cls in ordered]


def local_files(path: str) -> str:
    """After describe(PATH): the Python source files of PATH's folder (and its
    subfolders) that importing it loaded, and the data files it read there
    with loadpilot.data (those that are UTF-8 text), PATH itself first, as a
    JSON list of paths relative to that folder. They are what agents on other
    machines need to import the scenario the same way
    (docs/distributed.md#the-bundle)."""
    abspath = os.path.realpath(path)
    folder = os.path.dirname(abspath)
    found = {os.path.basename(abspath)}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py"):
            continue
        real = os.path.realpath(file)
        if real.startswith(folder + os.sep):
            found.add(os.path.relpath(real, folder))
    for file in data.loaded_files() + _grpc.loaded_files():
        real = os.path.realpath(file)
        if real.startswith(folder + os.sep) and _is_utf8(real):
            found.add(os.path.relpath(real, folder))
    main = os.path.basename(abspath)
    return json.dumps([main] + sorted(found - {main}))


def _is_utf8(path: str) -> bool:
    """Whether the file's bytes are UTF-8 text: the bundle travels as JSON,
    which holds only text."""
    try:
        with open(path, "rb") as f:
            f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


# --- importing ----------------------------------------------------------------

_scenario_folder: Optional[str] = None  # the sys.path entry we inserted


def _import_scenario(path: str, abspath: str) -> ModuleType:
    _use_scenario_folder(os.path.dirname(abspath))
    # Before the import, so that `from time import sleep` gets it too.
    _sleep.install()
    # An explicit loader accepts any file name, with or without ".py".
    loader = importlib.machinery.SourceFileLoader(MODULE_NAME, abspath)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, abspath, loader=loader)
    if spec is None:
        raise ScenarioLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before running so dataclasses, pickling and typing can
    # resolve the module by name while it executes.
    sys.modules[MODULE_NAME] = module
    try:
        loader.exec_module(module)
    except BaseException as exc:  # noqa: B902 - SystemExit from a scenario is an error too
        sys.modules.pop(MODULE_NAME, None)
        raise ScenarioLoadError(format_error(exc, path, abspath)) from exc
    return module


def _use_scenario_folder(folder: str) -> None:
    """Puts FOLDER at sys.path[0], as `python3 FILE` does; forgets the previous
    scenario folder and the modules imported from it."""
    global _scenario_folder
    if _scenario_folder == folder and sys.path[:1] == [folder]:
        return
    if _scenario_folder is not None and _scenario_folder != folder:
        if _scenario_folder in sys.path:
            sys.path.remove(_scenario_folder)
        _forget_modules_from(_scenario_folder)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    _scenario_folder = folder


def _forget_modules_from(folder: str) -> None:
    stale = []
    for name, module in list(sys.modules.items()):
        if name == "loadpilot" or name.startswith("loadpilot."):
            continue
        file = getattr(module, "__file__", None)
        if not file:
            continue
        parent = os.path.dirname(os.path.abspath(file))
        if os.path.basename(file) == "__init__.py":
            parent = os.path.dirname(parent)
        if parent == folder:
            stale.append(name)
    for name in list(sys.modules):
        if any(name == s or name.startswith(s + ".") for s in stale):
            del sys.modules[name]


def _definition_lines(abspath: str) -> Dict[str, int]:
    """Qualified name -> line of its `class`/`def` keyword (not its first
    decorator, which is what co_firstlineno reports)."""
    try:
        with tokenize.open(abspath) as f:
            tree = ast.parse(f.read(), abspath)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: Dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = prefix + child.name
                lines[qualname] = child.lineno
                inner = "." if isinstance(child, ast.ClassDef) else ".<locals>."
                visit(child, qualname + inner)
            else:
                visit(child, prefix)

    visit(tree, "")
    return lines


# --- error messages -------------------------------------------------------------


def format_error(
    exc: BaseException, path: str, abspath: str, fallback_line: Optional[int] = None
) -> str:
    """"PATH:LINE: ExcType: message", located at the innermost traceback frame
    in the scenario file; a SyntaxError is located where it was found."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        where = _display(exc.filename, path, abspath)
        text = f"{where}:{exc.lineno}"
        if exc.offset:
            text += f":{exc.offset}"
        text += f": {name}: {exc.msg}"
        if exc.text and exc.text.strip():
            source = exc.text.rstrip("\r\n")
            stripped = source.lstrip()
            caret = max((exc.offset or 1) - 1 - (len(source) - len(stripped)), 0)
            text += f"\n    {stripped}"
            if exc.offset:
                text += "\n    " + " " * caret + "^"
        return text

    message = str(exc)
    detail = f"{name}: {message}" if message else name
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if _same_file(frame.filename, abspath):
            return f"{path}:{frame.lineno}: {detail}"
    if fallback_line:
        return f"{path}:{fallback_line}: {detail}"
    for frame in reversed(frames):
        if not _same_file(os.path.dirname(frame.filename), _PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}: {detail}"
    return f"{path}: {detail}"


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(b)


def _display(filename: str, path: str, abspath: str) -> str:
    return path if _same_file(filename, abspath) else filename


# --- describing -----------------------------------------------------------------


def _describe_class(
    cls: type,
    path: str,
    abspath: str,
    lines: Dict[str, int],
    tables: Optional[Dict[str, Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    config = scenario_config(cls)
    assert config is not None
    raw = config.as_dict()
    raw["thresholds"] = _jsonable_mapping(raw["thresholds"])
    # A table's curve (_shape.py), only for a scenario that has one.
    table: Dict[str, Any] = {}
    if (tables or {}).get(cls.__qualname__) is not None:
        table["stages_at"] = (tables or {})[cls.__qualname__]
    shape = _describe_shape(cls, config.users is not None, path, abspath, lines)
    if shape is not None:
        table["shape"] = shape
    described = {
        **table,
        "name": cls.__name__,
        "doc": _first_line(vars(cls).get("__doc__")),
        "line": lines.get(cls.__qualname__, 0),
        "config": {key: _jsonable(value) for key, value in raw.items()},
        "defaults": [key for key in raw if key in config.defaults],
        "tasks": [
            _describe_task(cls, name, func, path, abspath, lines) for name, func in tasks_of(cls)
        ],
        "thresholds_at": _where(config.where, path, abspath),
        "has_on_start": _overrides(cls, "on_start"),
        "has_on_stop": _overrides(cls, "on_stop"),
        "checks": _check_names(cls),
    }
    # The file's custom metrics declared by now (docs/scenarios.md#custom-metrics).
    declared = metrics.declared()
    if declared:
        described["custom_metrics"] = declared
    return described


def _describe_task(
    cls: type,
    name: str,
    func: Callable[..., Any],
    path: str,
    abspath: str,
    lines: Dict[str, int],
) -> Dict[str, Any]:
    info = task_info(func)
    assert info is not None
    code = getattr(func, "__code__", None)
    line = code.co_firstlineno if code is not None else 0
    if code is not None and _same_file(code.co_filename, abspath):
        line = lines.get(func.__qualname__, line)

    transport = RecordingTransport()
    error = None
    unproven = native_proof(cls, name, func)
    if unproven is None:
        # Proven tasks are plain functions whose one statement is the call.
        try:
            getattr(cls(), name)(LoadClient(transport))
        except BaseException as exc:  # noqa: B902 - reported, never raised
            error = format_error(exc, path, abspath, fallback_line=line)
        if error is None and len(transport.requests) != 1:
            unproven = f"it made {len(transport.requests)} calls when run"
        elif error is None and transport.requests[0].timeout is not None:
            unproven = "it sets a per-call timeout="
        elif error is None:
            unproven = follows_redirects(cls, transport.requests[0])
    if unproven is not None:
        runtime, reason = "python", "runs in Python: " + unproven
        transport.requests = []
    else:
        runtime = "native"
        reason = "proven fixed: one client call with literal arguments, no on_start/on_stop/check"

    weight = info.weight
    if not isinstance(weight, int) and isinstance(weight, numbers.Real):
        weight = float(weight)
    return {
        "name": name,
        "weight": _jsonable(weight),
        "line": line,
        "is_async": inspect.iscoroutinefunction(func),
        "requests": [_describe_request(r) for r in transport.requests],
        "error": error,
        "runtime": runtime,
        "reason": reason,
        "thresholds": None if info.thresholds is None else _jsonable(
            _jsonable_mapping(info.thresholds)),
        "thresholds_at": _where(info.where, path, abspath),
    }


def _where(where: Tuple[str, int], path: str, abspath: str) -> str:
    """"FILE:LINE" of a decorator, FILE as the user named it when it is the
    scenario file itself; "" when not known."""
    filename, line = where
    if not filename or not line:
        return ""
    return f"{_display(filename, path, abspath)}:{line}"


def _describe_shape(
    cls: type, closed: bool, path: str, abspath: str, lines: Dict[str, int]
) -> Optional[Dict[str, Any]]:
    """None, or the shape() method's table (or the problem with it) and
    the line of its ``def`` (_shape.py)."""
    if not _shape.has_shape(cls):
        return None
    func = getattr(cls, "shape")
    code = getattr(func, "__code__", None)
    line = code.co_firstlineno if code is not None else 0
    if code is not None and _same_file(code.co_filename, abspath):
        line = lines.get(func.__qualname__, line)
    result = _shape.evaluate(
        cls,
        closed,
        f"{path}:{line}",
        lambda exc: format_error(exc, path, abspath, fallback_line=line),
    )
    result["line"] = line
    return result


def _describe_request(request: Request) -> Dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "headers": [[k, v] for k, v in request.headers],
        "body": request.body.decode("utf-8"),
        "name": request.name,
    }


def _check_names(cls: type) -> List[str]:
    return [
        n for n in member_names(cls) if n.startswith("check_") and callable(getattr(cls, n, None))
    ]


def _first_line(doc: Any) -> str:
    if not isinstance(doc, str):
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _jsonable(value: Any) -> Any:
    """VALUE when it is valid JSON, else its repr() for the engine to report."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)
    return value


def _jsonable_mapping(value: Any) -> Any:
    if isinstance(value, dict) or (
        hasattr(value, "keys") and hasattr(value, "__getitem__") and not isinstance(value, type)
    ):
        try:
            return {
                (k if isinstance(k, str) else repr(k)): _jsonable(value[k]) for k in value.keys()
            }
        except Exception:  # a mapping that misbehaves is reported by its repr
            return repr(value)
    return value
