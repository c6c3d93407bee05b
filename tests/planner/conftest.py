"""Fixtures shared by the planner tests: the shipped tool catalogue and flows."""

from __future__ import annotations

import pytest

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.tools import ToolIndex


@pytest.fixture(scope="session")
def tools() -> ToolIndex:
    return ToolIndex.load(load_settings().tool_broker.backends)


@pytest.fixture(scope="session")
def book(tools: ToolIndex) -> FlowBook:
    return FlowBook.load(load_settings().planner.flows_dir, tools)
