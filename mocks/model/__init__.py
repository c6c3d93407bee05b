"""The scripted OpenAI-compatible model server (port 8086): ``create_app()`` builds it."""

from mocks.model.app import ScriptedModel, create_app
from mocks.model.script import Fault, Match, Reply, ScriptEntry, ToolCallSpec

__all__ = ["Fault", "Match", "Reply", "ScriptEntry", "ScriptedModel", "ToolCallSpec", "create_app"]
