"""The engine's layers (docs/architecture.md#layers) as engine/CMakeLists.txt
declares them: every folder's includes stay within the folders it may see,
the declared order has no cycle, and the table in docs/architecture.md says
the same. The build enforces the includes too (each library compiles against
an include root holding only what it may see); this names every breach at
once, with file and line, without a compiler."""
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(os.environ.get("LOADPILOT_SOURCE_DIR", pathlib.Path(__file__).parents[3]))
ENGINE = ROOT / "engine"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def declared_layers():
    """{folder: [folders directly below it]} from loadpilot_layer(...) lines."""
    text = (ENGINE / "CMakeLists.txt").read_text()
    layers = {}
    for m in re.finditer(r"^loadpilot_layer\((\w+)(?:\s+BELOW\s+([\w ]+))?\)", text, re.M):
        layers[m.group(1)] = (m.group(2) or "").split()
    return layers


def visible(layers):
    """{folder: every folder it may include}, transitively."""
    seen = {}

    def walk(folder, path):
        assert folder not in path, f"the layers form a cycle: {' -> '.join(path + [folder])}"
        if folder not in seen:
            below = set()
            for b in layers[folder]:
                assert b in layers, f"{folder} stands on {b}, which is no layer"
                below |= {b} | walk(b, path + [folder])
            seen[folder] = below
        return seen[folder]

    for f in layers:
        walk(f, [])
    return {f: {f} | below for f, below in seen.items()}


def test_every_engine_folder_is_a_layer():
    layers = declared_layers()
    folders = {p.name for p in ENGINE.iterdir() if p.is_dir() and any(p.rglob("*.cc"))}
    assert folders - {"tests", "fuzz"} == set(layers)


def test_no_include_reaches_a_folder_above():
    allowed = visible(declared_layers())
    breaches = []
    for folder, may_see in allowed.items():
        for path in sorted((ENGINE / folder).rglob("*")):
            if path.suffix not in (".h", ".cc"):
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) in allowed and m.group(1) not in may_see:
                    breaches.append(f"{path.relative_to(ROOT)}:{n}: {folder}/ includes "
                                    f"{m.group(1)}/ (it may see {', '.join(sorted(may_see))})")
    assert not breaches, "\n".join(breaches)


def test_the_check_finds_a_breach():
    # A layer that stood on nothing could not include its neighbours: the
    # check above must then fail, so it is not empty.
    layers = declared_layers()
    layers["load"] = []
    allowed = visible(layers)
    assert "metrics" not in allowed["load"]
    uses_metrics = any(INCLUDE.match(line) and INCLUDE.match(line).group(1) == "metrics"
                       for p in (ENGINE / "load").glob("*.[hc]*") for line in p.read_text().splitlines())
    assert uses_metrics


def test_the_architecture_doc_lists_every_layer():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    table = doc[doc.index("## Layers"):]
    for folder in declared_layers():
        assert re.search(rf"^{folder}\b", table, re.M), f"docs/architecture.md#layers lacks {folder}"


@pytest.mark.parametrize("folder", ["http", "plan"])
def test_the_bottom_stands_on_nothing_of_ours_above_it(folder):
    assert visible(declared_layers())[folder] <= {"http", "plan"}
