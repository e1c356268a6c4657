"""engine/tests/e2e/ctest_entries.py, which cmake runs to give the long
end-to-end files one ctest entry per pytest test: every test pytest collects
gets exactly one entry, ids with spaces and brackets survive CMake's
parsing, and a file that fails to collect keeps one entry for the whole file
(its error then shows when the tests run). Run through cmake -P, as the
configure step includes the file."""
import os
import pathlib
import subprocess
import textwrap

ROOT = pathlib.Path(os.environ.get("LOADPILOT_SOURCE_DIR", pathlib.Path(__file__).parents[3]))
SCRIPT = ROOT / "engine" / "tests" / "e2e" / "ctest_entries.py"

TESTS = """
import pytest

def test_plain():
    pass

@pytest.mark.parametrize("code", ["while True: pass", "x]=]y", "a;b", "[:::1]"])
def test_cases(code):
    pass

class TestGroup:
    def test_one(self):
        pass
"""


def entries(tmp_path, *files):
    """The (name, pytest argument) pairs OUT.cmake declares, read back by
    cmake itself."""
    out = tmp_path / "entries.cmake"
    subprocess.run(["/usr/bin/python3", str(SCRIPT), str(out), *map(str, files)],
                   check=True, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    reader = tmp_path / "read.cmake"
    reader.write_text(textwrap.dedent(f"""
        function(loadpilot_e2e_test name arg)
          message("${{name}}\\t${{arg}}")
        endfunction()
        include([==[{out}]==])
    """))
    p = subprocess.run(["cmake", "-P", str(reader)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [tuple(line.split("\t")) for line in p.stderr.splitlines() if line]


def collected(path):
    p = subprocess.run(["/usr/bin/python3", "-m", "pytest", "--collect-only", "-q",
                        "-p", "no:cacheprovider", str(path)],
                       capture_output=True, text=True, timeout=60, cwd=path.parent)
    return sorted(line.split("::", 1)[1] for line in p.stdout.splitlines() if "::" in line)


def test_one_entry_per_collected_test_with_its_exact_id(tmp_path):
    f = tmp_path / "test_many.py"
    f.write_text(TESTS)
    got = entries(tmp_path, f)
    ids = [arg.split("::", 1)[1] for _, arg in got]
    assert sorted(ids) == collected(f)
    assert len(ids) == 6
    for name, arg in got:
        assert arg.startswith(f"{f}::")
        assert name == "e2e_test_many::" + arg.split("::", 1)[1]
    assert "test_cases[x]=]y]" in ids and "test_cases[a;b]" in ids
    assert "TestGroup::test_one" in ids


def test_a_file_that_fails_to_collect_keeps_one_whole_entry(tmp_path):
    good = tmp_path / "test_good.py"
    good.write_text("def test_a():\n    pass\n")
    bad = tmp_path / "test_bad.py"
    bad.write_text("def test_b(:\n")
    got = entries(tmp_path, good, bad)
    assert ("e2e_test_bad", str(bad)) in got
    assert ("e2e_test_good::test_a", f"{good}::test_a") in got
    assert len(got) == 2
