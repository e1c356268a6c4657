"""Writes the ctest entries of the long end-to-end files: one entry per
pytest test (each case of a parametrized test is a test), so that `ctest -j`
spreads a long file over every core instead of running it as one long entry
at the end.

    ctest_entries.py OUT.cmake FILE...

Called by engine/tests/CMakeLists.txt at configure time. OUT.cmake holds one
`loadpilot_e2e_test(NAME ARG)` call per test, NAME `e2e_<file>::<test id>`
and ARG the pytest node id (absolute path). A file whose collection fails
gets one entry for the whole file, so that the error shows when the tests
run, not at configure time. Bracket arguments keep ids with spaces,
brackets or semicolons intact."""
import os
import sys

import pytest


class Collector:
    def __init__(self):
        self.items = []

    def pytest_collection_modifyitems(self, items):
        self.items = list(items)


def bracket(text):
    """TEXT as a CMake bracket argument that nothing in it can close."""
    eq = "="
    while f"]{eq}]" in text:
        eq += "="
    return f"[{eq}[{text}]{eq}]"


def main():
    out, files = sys.argv[1], [os.path.abspath(f) for f in sys.argv[2:]]
    collector = Collector()
    with open(os.devnull, "w") as devnull:
        stdout = sys.stdout
        sys.stdout = devnull  # pytest's own report is not wanted here
        try:
            pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *files],
                         plugins=[collector])
        finally:
            sys.stdout = stdout
    by_file = {f: [] for f in files}
    for item in collector.items:
        path = str(item.path)
        if path in by_file:
            by_file[path].append(item.nodeid.split("::", 1)[1])
    lines = []
    for path, ids in by_file.items():
        stem = os.path.splitext(os.path.basename(path))[0]
        if not ids:
            lines.append(f"loadpilot_e2e_test({bracket('e2e_' + stem)} {bracket(path)})")
        for test_id in ids:
            lines.append(f"loadpilot_e2e_test({bracket(f'e2e_{stem}::{test_id}')} "
                         f"{bracket(f'{path}::{test_id}')})")
    text = "\n".join(lines) + "\n"
    # Rewritten only when it changes: cmake then sees no new input.
    if not os.path.exists(out) or open(out).read() != text:
        with open(out, "w") as f:
            f.write(text)
    print(f"{sum(len(i) for i in by_file.values())} tests in {len(files)} files")


if __name__ == "__main__":
    main()
