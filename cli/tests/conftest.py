"""Shared fixtures: write scenario files into a temporary folder and describe them;
an asyncio loop for the runtime's components."""

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from loadpilot import _describe


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    def write(source: str, name: str = "scenario.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        return path

    return write


@pytest.fixture
def describe(write_scenario: Callable[..., Path]) -> Callable[[str], List[Dict[str, Any]]]:
    def run(source: str) -> List[Dict[str, Any]]:
        path = write_scenario(source)
        return json.loads(_describe.describe_file(str(path)))

    return run


@pytest.fixture(autouse=True)
def _restore_sys_path():
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        if not name.startswith("loadpilot"):
            del sys.modules[name]
    _describe._scenario_folder = None


@pytest.fixture
def loop():
    """A fresh asyncio loop for a component under test, closed after."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
