"""Fixtures shared by the planner tests: the shipped tool catalogue and flows, and what a flow
file of a test's own says when it fails to load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.tools import ToolIndex
from services.runtime.errors import ConfigError


@pytest.fixture(scope="session")
def tools() -> ToolIndex:
    return ToolIndex.load(load_settings().tool_broker.backends)


@pytest.fixture(scope="session")
def book(tools: ToolIndex) -> FlowBook:
    return FlowBook.load(load_settings().planner.flows_dir, tools)


@pytest.fixture
def load_errors(tmp_path: Path, tools: ToolIndex) -> Callable[..., str]:
    """Writes a flow file (``name`` in a folder of its own), loads it against the shipped tools
    and returns the message of the ConfigError the load must raise."""

    def load(text: str, name: str = "flows.yaml") -> str:
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as raised:
            FlowBook.load(tmp_path, tools)
        return raised.value.message

    return load
