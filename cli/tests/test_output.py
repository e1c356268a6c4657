"""What scenario code prints: whole lines to stderr, each labelled
(docs/scenarios.md#printing)."""

import io

from loadpilot import _output
from loadpilot._output import LabelledOutput


def test_lines_are_labelled_and_partial_text_waits_for_its_newline():
    sink = io.StringIO()
    out = LabelledOutput(sink, "shop.py")
    print("one", file=out)
    out.write("par")
    out.write("tial\ntwo\nthr")
    assert sink.getvalue() == "[shop.py] one\n[shop.py] partial\n[shop.py] two\n"
    out.end_line()
    assert sink.getvalue().endswith("[shop.py] thr\n")


def test_the_label_of_the_thread_runtime_wins():
    sink = io.StringIO()
    out = LabelledOutput(sink, "shop.py")

    def label():
        return "Shop.checkout"

    _output.register(label)
    try:
        print('{"type": "summary", "passed": true}', file=out)
    finally:
        _output.unregister(label)
    print("after", file=out)
    assert sink.getvalue() == ('[Shop.checkout] {"type": "summary", "passed": true}\n'
                               "[shop.py] after\n")


def test_an_unfinished_line_ends_when_someone_else_prints():
    sink = io.StringIO()
    out = LabelledOutput(sink, "shop.py")
    out.write("hello")

    def label():
        return "Shop.on_start"

    _output.register(label)
    try:
        print("start", file=out)
    finally:
        _output.unregister(label)
    assert sink.getvalue() == "[shop.py] hello\n[Shop.on_start] start\n"
