"""Methods the runtime could not call as it does, found when the scenario
is loaded (docs/scenarios.md#method-signatures): a task or hook that takes
no client (Locust's ``def browse(self):``), a check that cannot take the
status and the body, and Locust's ``self.client`` where nothing sets it.
Otherwise each would fail every iteration at run time."""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
import tokenize
from typing import Dict, List, Optional, Tuple

from .dsl import VUser, tasks_of

__all__ = ["signature_problems"]


def _overrides(cls: type, name: str) -> bool:
    method = getattr(cls, name, None)
    return callable(method) and method is not getattr(VUser, name)


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(b)


# What the runtime passes after self: tasks and hooks get the client, a
# check_<task> the status and the body (_bodies.py).
_HOOK_ARGS = ("client",)
_CHECK_ARGS = ("status_code", "body")
_NO_SELF_CLIENT = "(there is no self.client)"


def signature_problems(
    cls: type, path: str, abspath: str, lines: Dict[str, int]
) -> List[str]:
    """Methods the runtime could not call as it does, and self.client
    (Locust's spelling) where nothing sets it: "PATH:LINE: what to write"
    each. Found when loading, these would otherwise fail every iteration."""
    problems = []
    tasks = [name for name, _ in tasks_of(cls)]
    hooks = [h for h in ("on_start", "on_stop") if _overrides(cls, h)]
    checks = [
        "check_" + t for t in tasks if callable(getattr(cls, "check_" + t, None))
    ]
    for name in hooks + tasks + checks:
        args = _CHECK_ARGS if name in checks else _HOOK_ARGS
        problem = _signature_problem(cls, name, args)
        if problem is not None:
            problems.append(f"{_where(cls, name, path, abspath, lines)}: {problem}")
    # (A method that takes no client is told about self.client already.)
    return problems or _self_client_uses(cls, path, abspath)


def _signature_problem(cls: type, name: str, args: tuple) -> Optional[str]:
    static = inspect.getattr_static(cls, name, None)
    if isinstance(static, (staticmethod, classmethod)):
        func, given = getattr(cls, name), args  # self is not passed (or is the class)
    elif inspect.isfunction(static):
        func, given = static, ("self",) + args
    else:
        return None  # some other callable: called as it is
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*given)
        return None
    except TypeError:
        pass
    wanted = ", ".join(("self",) + args)
    shown = f"{cls.__name__}.{name}{signature}"
    if args == _HOOK_ARGS and _binds(signature, given[:-1]):
        return (
            f"{shown} takes no client: LoadPilot calls it as {name}({wanted}); write "
            f"`def {name}({wanted}):` and call client.get(...) {_NO_SELF_CLIENT}"
        )
    return f"{shown} cannot be called as {name}({wanted}); write `def {name}({wanted}):`"


def _binds(signature: inspect.Signature, given: tuple) -> bool:
    try:
        signature.bind(*given)
    except TypeError:
        return False
    return True


def _where(cls: type, name: str, path: str, abspath: str, lines: Dict[str, int]) -> str:
    func = inspect.getattr_static(cls, name, None)
    func = getattr(func, "__func__", func)
    func = inspect.unwrap(func) if callable(func) else func
    code = getattr(func, "__code__", None)
    if code is None:
        return path
    if _same_file(code.co_filename, abspath):
        return f"{path}:{lines.get(func.__qualname__, code.co_firstlineno)}"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _self_client_uses(cls: type, path: str, abspath: str) -> List[str]:
    """self.client read in the class's methods while neither the class nor
    its code ever sets it: Locust's spelling, which fails every iteration
    here. One problem, at the first such line."""
    if hasattr(cls, "client"):
        return []
    try:
        source_file = inspect.getsourcefile(cls)
    except TypeError:
        return []
    if source_file is None or not _same_file(source_file, abspath):
        return []
    node = _class_nodes(abspath).get(cls.__qualname__)
    if node is None:
        return []
    uses = _self_client(node)
    reads = [(line, name) for line, name, load in uses if load]
    if not reads or len(reads) < len(uses):  # none read, or the class sets it
        return []
    # A base class (from any file) that sets self.client makes it the
    # scenario's own attribute.
    for klass in cls.__mro__[1:]:
        if klass in (object, VUser):
            continue
        try:
            base = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
        except (OSError, TypeError, SyntaxError, IndentationError, IndexError):
            continue
        if any(not load for _, _, load in _self_client(base)):
            return []
    line, method_name = min(reads)
    return [
        f"{path}:{line}: self.client: a task gets its client as a parameter, "
        f"`def {method_name}(self, client):`; call client.get(...) {_NO_SELF_CLIENT}"
    ]


def _self_client(node: ast.AST) -> List[Tuple[int, str, bool]]:
    """Each use of self.client in the methods of the class NODE: (line,
    method, whether it is read). Setting it (self.client = ...) makes it
    the class's own."""
    found: List[Tuple[int, str, bool]] = []
    for method in getattr(node, "body", []):
        if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not method.args.args and not method.args.posonlyargs:
            continue
        me = (method.args.posonlyargs + method.args.args)[0].arg
        for sub in ast.walk(method):
            if (
                isinstance(sub, ast.Attribute)
                and sub.attr == "client"
                and isinstance(sub.value, ast.Name)
                and sub.value.id == me
            ):
                found.append((sub.lineno, method.name, isinstance(sub.ctx, ast.Load)))
    return found


def _class_nodes(abspath: str) -> Dict[str, ast.ClassDef]:
    """Qualified name -> the class's definition in the file at ABSPATH."""
    try:
        with tokenize.open(abspath) as f:
            tree = ast.parse(f.read(), abspath)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: Dict[str, ast.ClassDef] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                found[prefix + child.name] = child
                visit(child, prefix + child.name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix + child.name + ".<locals>.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found
