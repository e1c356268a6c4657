"""The native fast-path proof: whether a task provably sends one and the
same request on every iteration, read from its source, so that the engine
may send that request itself instead of running the task in Python
(docs/scenarios.md). _describe.py records the proven task's request."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Callable, Optional, Union

from .client import Request
from ._signatures import _overrides
from .dsl import scenario_config

__all__ = ["follows_redirects", "native_proof"]

_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
# Keywords whose literal value fully determines the encoded request
# (follow_redirects=: only when False, see follows_redirects).
_FIXED_KEYWORDS = frozenset({"headers", "params", "json", "data", "name", "follow_redirects"})


def follows_redirects(cls: type, request: Request) -> Optional[str]:
    """Why a recorded REQUEST cannot be sent natively because it follows
    redirects, which only the Python runtime does (docs/scenarios.md#redirects);
    None when it does not."""
    if request.follow_redirects:
        return "it passes follow_redirects=True (redirects are followed in Python)"
    config = scenario_config(cls)
    if request.follow_redirects is None and config is not None and config.follow_redirects:
        return "the scenario follows redirects (@scenario(follow_redirects=True))"
    return None


def native_proof(cls: type, name: str, func: Callable[..., Any]) -> Optional[str]:
    """None when task NAME provably sends the same single request on every
    iteration, else why not (a short phrase).

    Sound by construction: the method's own source must be exactly one
    statement, ``client.VERB(...)`` on its client parameter, whose every
    argument is a literal (constants and dicts/lists/tuples of constants);
    it must be a plain ``def`` decorated only with ``@task``; and the class
    must have no on_start, no on_stop and no ``check_NAME``. Anything else,
    including source that cannot be read, runs in Python.
    """
    why = _class_reason(cls, name) or _function_reason(func)
    if why is not None:
        return why
    node = _task_def(func)
    if node is None:
        return "its source is not available"
    why = _header_reason(node)
    if why is not None:
        return why
    call = _single_client_call(node)
    if isinstance(call, str):
        return call
    return _call_reason(call)


def _class_reason(cls: type, name: str) -> Optional[str]:
    """Why the class around task NAME runs Python code besides the task
    (hooks, a check), or None."""
    if _overrides(cls, "on_start"):
        return "the class defines on_start"
    if _overrides(cls, "on_stop"):
        return "the class defines on_stop"
    if callable(getattr(cls, "check_" + name, None)):
        return f"check_{name} inspects its response"
    return None


def _function_reason(func: Callable[..., Any]) -> Optional[str]:
    """Why FUNC is not a plain synchronous function, or None."""
    if inspect.iscoroutinefunction(func):
        return "it is an async task"
    if not inspect.isfunction(func) or hasattr(func, "__wrapped__"):
        return "it is not a plain function"
    return None


def _task_def(func: Callable[..., Any]) -> Optional[ast.FunctionDef]:
    """FUNC's own ``def``, parsed from its source; None when the source
    cannot be read or is not that one definition."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    node = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(node, ast.FunctionDef) or node.name != func.__name__:
        return None
    return node


def _header_reason(node: ast.FunctionDef) -> Optional[str]:
    """Why the definition's decorators or signature are not exactly
    ``@task def name(self, client)``, or None."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if not (
            (isinstance(target, ast.Name) and target.id == "task")
            or (isinstance(target, ast.Attribute) and target.attr == "task")
        ):
            return "it has a decorator other than @task"
    args = node.args
    if (
        len(args.args) != 2
        or args.posonlyargs
        or args.vararg
        or args.kwarg
        or args.kwonlyargs
        or args.defaults
    ):
        return "its signature is not (self, client)"
    return None


def _single_client_call(node: ast.FunctionDef) -> Union[ast.Call, str]:
    """The body's one statement, a call of a method of the client parameter
    (a docstring aside); else why the body is not that (a str)."""
    client = node.args.args[1].arg
    body = list(node.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]  # the docstring
    if len(body) != 1:
        return f"its body has {len(body)} statements"
    stmt = body[0]
    call = stmt.value if isinstance(stmt, (ast.Expr, ast.Return)) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == client
    ):
        return "its body is not a single client call"
    return call


def _call_reason(call: ast.Call) -> Optional[str]:
    """Why the client call is not one request whose every argument is a
    literal the engine can encode, or None."""
    assert isinstance(call.func, ast.Attribute)
    method = call.func.attr
    if method not in _VERBS and method != "request":
        return f"client.{method}() is not a single request"
    positional = 2 if method == "request" else 1
    if len(call.args) > positional:
        return f"client.{method}() has extra positional arguments"
    for arg in call.args:
        if not _is_literal(arg):
            return "its path is computed, not a literal"
    for kw in call.keywords:
        if kw.arg is None:
            return "it passes **kwargs"
        if kw.arg not in _FIXED_KEYWORDS:
            return f"it passes {kw.arg}="
        if not _is_literal(kw.value):
            return f"its {kw.arg}= is computed, not a literal"
    return None


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
