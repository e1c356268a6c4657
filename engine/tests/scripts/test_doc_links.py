"""Every reference to a page of the docs, and to a section of one, leads
somewhere: the page exists and has a heading whose GitHub anchor is the
one cited.

Checked in the source tree (engine/, cli/, scripts/, bench/, docs/ and
README.md):

* ``docs/PAGE.md#ANCHOR`` anywhere (comments, strings, messages, docs):
  PAGE from the repository's root; a bare ``PAGE.md#ANCHOR`` outside a
  Markdown link is a page of docs/;
* ``docs/PAGE.md`` anywhere: the page exists;
* in Markdown files, every relative link to a ``.md`` file, with or without
  an anchor, resolved from the linking file's folder as GitHub does, and
  every in-page link ``(#ANCHOR)``.

A heading's anchor follows GitHub's rules (:func:`slug`): its text as
rendered (code spans' text kept, link and emphasis markup dropped),
lowercased, punctuation other than ``-`` and ``_`` dropped, each space a
``-``; a repeated heading gets ``-1``, ``-2``, ... Headings inside fenced
code blocks do not count.
"""
import difflib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

SRC = Path(os.environ.get("LOADPILOT_SOURCE_DIR", Path(__file__).resolve().parents[3]))
SCANNED = ["engine", "cli", "scripts", "bench", "docs", "README.md"]
SKIPPED_DIRS = {".git", "__pycache__", "node_modules", "build", ".pytest_cache"}
# This file's own examples of broken references are not the tree's.
THIS_FILE = Path(__file__).resolve()

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.I)
# A Markdown link's target: ](target) or ](target "title").
_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
# PATH.md#ANCHOR in any text; PATH may have folders. An anchor is what a
# slug can hold: word characters and '-'.
_ANCHORED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)#([\w-]+)")
# docs/PAGE.md without an anchor in any text.
_DOCS_PAGE = re.compile(r"(?<![\w/.-])(docs/[\w.-]+\.md)(?![\w.#-])")


def slug(text: str) -> str:
    """The anchor GitHub gives a heading whose Markdown text is TEXT
    (without the #s), before duplicates are numbered."""
    rendered = []
    # Split off code spans: their text is kept as it is written.
    for i, part in enumerate(re.split(r"(`+)(.+?)\1", text)):
        kind = i % 3
        if kind == 1:
            continue  # the backticks
        if kind == 2:
            rendered.append(part)
            continue
        part = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", part)  # images: no text
        part = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part)  # links: their text
        part = re.sub(r"<[^>]+>", "", part)  # inline HTML
        part = part.replace("*", "")
        part = re.sub(r"(?<!\w)_+(.+?)_+(?!\w)", r"\1", part)  # _emphasis_
        part = re.sub(r"\\(.)", r"\1", part)  # backslash escapes
        rendered.append(part)
    out = []
    for ch in "".join(rendered).strip().lower():
        if ch in "-_ " or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append("-" if ch == " " else ch)
    return "".join(out)


def numbered(slugs: List[str]) -> List[str]:
    """SLUGS (in page order) made unique as GitHub does: the second
    "usage" is "usage-1", the third "usage-2"."""
    seen: Dict[str, int] = {}
    out = []
    for base in slugs:
        anchor = base
        while anchor in seen:
            seen[base] += 1
            anchor = f"{base}-{seen[base]}"
        seen[anchor] = 0
        out.append(anchor)
    return out


def read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # not a text file


def anchors_of(page: Path) -> List[str]:
    """The anchors of a Markdown page, in order: its headings' (outside
    fenced code) and explicit <a id="..."> / <a name="...">."""
    slugs, explicit = [], []
    fence = None
    for line in (read_text(page) or "").splitlines():
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        h = _ATX.match(line)
        if h:
            heading = re.sub(r"\s+#+\s*$", "", h.group(2) or "")  # closing #s
            slugs.append(slug(heading))
        explicit += _HTML_ANCHOR.findall(line)
    return numbered(slugs) + explicit


@dataclass
class Ref:
    where: str  # file:line
    text: str  # the reference as written
    page: Path  # the page it leads to
    anchor: Optional[str]


def _in_tree(root: Path, page: Path) -> str:
    try:
        return page.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(page)


def refs_in(root: Path, path: Path) -> List[Ref]:
    """The references to docs pages and their sections in the file PATH
    (under ROOT)."""
    text = read_text(path)
    if text is None:
        return []
    markdown = path.suffix == ".md"
    refs = []
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path.relative_to(root).as_posix()}:{number}"
        if markdown:
            m = _FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                    fence = None
            elif fence is None:
                for link in _LINK.finditer(line):
                    target = link.group(1)
                    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
                        continue  # a URL or an absolute path
                    file_part, _, anchor = target.partition("#")
                    if file_part and not file_part.endswith(".md"):
                        continue  # a link to a source file or an image
                    page = (path.parent / file_part) if file_part else path
                    refs.append(Ref(where, target, page, anchor or None))
                # What the links say is checked; what is left is prose.
                line = _LINK.sub("]()", line)
        for m in _ANCHORED.finditer(line):
            name, anchor = m.group(1), m.group(2)
            page = root / name if "/" in name else root / "docs" / name
            refs.append(Ref(where, m.group(0), page, anchor))
        for m in _DOCS_PAGE.finditer(line):
            refs.append(Ref(where, m.group(1), root / m.group(1), None))
    return refs


def scanned_files(root: Path):
    for top in SCANNED:
        start = root / top
        if start.is_file():
            yield start
            continue
        for folder, dirs, files in os.walk(start):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                path = Path(folder) / name
                if path.resolve() != THIS_FILE:
                    yield path


def problems(root: Path) -> Tuple[List[str], int]:
    """What is wrong with the references under ROOT, one message each,
    and how many references were checked."""
    cache: Dict[Path, List[str]] = {}
    found, checked = [], 0
    for path in scanned_files(root):
        for ref in refs_in(root, path):
            checked += 1
            page = ref.page.resolve()
            shown = _in_tree(root, page)
            if not page.is_file():
                found.append(f"{ref.where}: {ref.text}: there is no page {shown}")
                continue
            if ref.anchor is None:
                continue
            if page not in cache:
                cache[page] = anchors_of(page)
            anchors = cache[page]
            if ref.anchor in anchors:
                continue
            close = difflib.get_close_matches(ref.anchor, anchors, n=3, cutoff=0.5)
            found.append(
                f"{ref.where}: {ref.text}: {shown} has no heading with the anchor "
                f"#{ref.anchor}"
                + (f"; did you mean {', '.join('#' + a for a in close)}?" if close else "")
                + f"\n    the anchors of {shown}: "
                + (", ".join("#" + a for a in anchors) or "(no headings)")
            )
    return found, checked


def test_every_docs_reference_in_the_tree_leads_to_a_page_and_a_heading():
    found, checked = problems(SRC)
    # The tree cites the docs hundreds of times: far fewer means the scan
    # itself broke, and nothing was really checked.
    assert checked > 200, f"only {checked} references found under {SRC}"
    assert not found, f"{len(found)} broken docs reference(s):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Python VUsers", "python-vusers"),
        ("`--results-json PATH`", "--results-json-path"),
        ("Coming from the original LoadPilot, Locust and k6",
         "coming-from-the-original-loadpilot-locust-and-k6"),
        ('Closed loop (`rps="max"`)', "closed-loop-rpsmax"),
        ("`@task` and `@task(weight=N)`", "task-and-taskweightn"),
        ("Open and closed models: which to use", "open-and-closed-models-which-to-use"),
        ("`check_<task>` and *emphasis* with [a link](x.md)", "check_task-and-emphasis-with-a-link"),
        ("A run — its end", "a-run--its-end"),
        ("Über Größe", "über-größe"),
    ],
)
def test_slug_follows_githubs_rules(heading, anchor):
    assert slug(heading) == anchor


def test_a_repeated_heading_is_numbered():
    assert numbered(["usage", "usage", "usage-1", "usage"]) == [
        "usage", "usage-1", "usage-1-1", "usage-2"]


def test_broken_references_are_found_with_file_line_and_the_pages_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cli.md").write_text(
        "# Command line\n\n## Exit codes\n\n```sh\n# not a heading\n```\n\n## Exit codes\n"
        "\nSee [below](#exit-codes-1), [above](#exit-code) and [output](output.md).\n"
    )
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "main.cc").write_text(
        "// fine (docs/cli.md#exit-codes)\n"
        "// broken anchor (docs/cli.md#exit-code)\n"
        "// a heading in a code block (docs/cli.md#not-a-heading)\n"
        "// no such page (docs/nothing.md#exit-codes) or docs/nothing.md\n"
    )
    (tmp_path / "README.md").write_text("[cli](docs/cli.md#command-line) [x](docs/cli.md#nope)\n")
    found, checked = problems(tmp_path)
    assert checked == 10
    assert [f.split("\n")[0] for f in found] == [
        "engine/main.cc:2: docs/cli.md#exit-code: docs/cli.md has no heading with the anchor "
        "#exit-code; did you mean #exit-codes, #exit-codes-1?",
        "engine/main.cc:3: docs/cli.md#not-a-heading: docs/cli.md has no heading with the "
        "anchor #not-a-heading",
        "engine/main.cc:4: docs/nothing.md#exit-codes: there is no page docs/nothing.md",
        "engine/main.cc:4: docs/nothing.md: there is no page docs/nothing.md",
        "docs/cli.md:11: #exit-code: docs/cli.md has no heading with the anchor #exit-code; "
        "did you mean #exit-codes, #exit-codes-1?",
        "docs/cli.md:11: output.md: there is no page docs/output.md",
        "README.md:1: docs/cli.md#nope: docs/cli.md has no heading with the anchor #nope",
    ]
    assert found[0].split("\n")[1] == (
        "    the anchors of docs/cli.md: #command-line, #exit-codes, #exit-codes-1")
