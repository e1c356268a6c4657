#!/usr/bin/env python3
"""The size rules of docs/architecture.md#size, checked on every `make test`.

- engine/cli/ holds parsing and dispatch only: under 1,500 lines in all.
- No source file (C++ under engine/ or Python under cli/loadpilot/, tests
  and fuzz harnesses aside) is over 500 lines.
- No function is over 80 lines, except in the renderers (the summary, the
  dashboard, JUnit), or where a comment within the three lines above it
  says `shape: <why a longer one reads better>`.

Prints one line per breach (file:line, what, the figure) and exits 1 when
there is any; exits 0 and prints nothing otherwise.
Usage: check-code-shape.py [REPO_ROOT]
"""
import ast
import pathlib
import re
import sys

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
MAX_CLI_LINES = 1500
# The renderers: long by nature (one line of output after another).
RENDERERS = {
    "engine/report/summary_text.cc",
    "engine/report/summary.cc",
    "engine/report/live.cc",
    "engine/report/dashboard.cc",
    "engine/report/junit.cc",
}
SKIP_DIRS = ("engine/tests/", "engine/fuzz/", "cli/tests/")


def strip_code(line, in_raw):
    """The line without comments, strings and char literals (braces in them
    do not count). `in_raw` is the closing delimiter of a raw string that
    spans lines, or None. Returns (code, in_raw)."""
    out = []
    i = 0
    while i < len(line):
        if in_raw:
            end = line.find(in_raw, i)
            if end < 0:
                return "".join(out), in_raw
            i = end + len(in_raw)
            in_raw = None
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        m = re.match(r'R"([^(\s]*)\(', line[i:])
        if m:
            in_raw = ")" + m.group(1) + '"'
            i += m.end()
            continue
        if c == '"' or c == "'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), in_raw


def cpp_functions(lines):
    """(first line number, length, head) of each function body at namespace
    level: a '{' after a ')' (or a trailing const/override/noexcept)."""
    depth = 0  # braces that are not namespaces
    stack = []  # per open brace: is it a namespace?
    start = None
    head = ""
    in_raw = None
    block = False  # inside /* */
    found = []
    pending = ""
    for n, raw in enumerate(lines, 1):
        line = raw
        if block:
            end = line.find("*/")
            if end < 0:
                continue
            line = line[end + 2:]
            block = False
        code, in_raw = strip_code(line, in_raw)
        while "/*" in code:
            a = code.find("/*")
            b = code.find("*/", a + 2)
            if b < 0:
                code = code[:a]
                block = True
                break
            code = code[:a] + code[b + 2:]
        for ch in code:
            if ch == "{":
                text = (pending + code).strip()
                is_ns = depth == 0 and re.search(r"\bnamespace\b[^{;]*$", pending + code.split("{")[0])
                stack.append(bool(is_ns))
                if not is_ns:
                    if depth == 0 and start is None:
                        before = (pending + code.split("{")[0]).rstrip()
                        if re.search(r"\)\s*(const|override|noexcept|final|\s)*$", before) or \
                                re.search(r"->\s*[\w:<>, ]+$", before):
                            if not re.search(r"\b(class|struct|enum|union)\b", before) and "=" not in before.split("(")[0]:
                                start = n
                                head = before.strip()[-80:]
                    depth += 1
            elif ch == "}":
                if stack:
                    was_ns = stack.pop()
                    if not was_ns:
                        depth -= 1
                        if depth == 0 and start is not None:
                            found.append((start, n - start + 1, head))
                            start = None
        stripped = code.strip()
        if stripped.endswith((";", "{", "}")) or stripped == "":
            pending = ""
        else:
            pending = (pending + " " + stripped)[-400:]
    return found


def has_reason(lines, first):
    for k in range(max(0, first - 4), first):
        if "shape:" in lines[k]:
            return True
    return False


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = []
    cli_total = 0
    files = sorted(root.glob("engine/**/*.cc")) + sorted(root.glob("engine/**/*.h")) + \
        sorted(root.glob("cli/loadpilot/**/*.py"))
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel.startswith(SKIP_DIRS) or "/templates/" in rel:
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if rel.startswith("engine/cli/"):
            cli_total += len(lines)
        if len(lines) > MAX_FILE_LINES:
            problems.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        if rel in RENDERERS:
            continue
        if rel.endswith(".py"):
            for node in ast.walk(ast.parse("\n".join(lines), rel)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES and not has_reason(lines, node.lineno - 1):
                        problems.append(f"{rel}:{node.lineno}: function {node.name} is {length} lines "
                                        f"(at most {MAX_FUNCTION_LINES})")
        elif rel.endswith(".cc"):
            for first, length, head in cpp_functions(lines):
                if length > MAX_FUNCTION_LINES and not has_reason(lines, first - 1):
                    problems.append(f"{rel}:{first}: function is {length} lines "
                                    f"(at most {MAX_FUNCTION_LINES}): {head}")
    if cli_total >= MAX_CLI_LINES:
        problems.append(f"engine/cli/: {cli_total} lines (under {MAX_CLI_LINES}: parsing and dispatch only)")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
