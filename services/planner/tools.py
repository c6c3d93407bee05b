"""The tools the planner may plan with: the tool catalogue, seen from the planner.

The catalogue (:mod:`services.catalogue`) is derived from the backends' OpenAPI documents, the
same one the tool-broker executes with, so a plan the planner accepts is one the broker accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.catalogue import Catalogue, ToolSpec

if TYPE_CHECKING:
    from services.tool_broker.config import Backend

log = logging.getLogger(__name__)

_CACHE: dict[tuple[tuple[str, tuple[str, int, int]], ...], Catalogue] = {}


def _fingerprint(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


class ToolIndex:
    """The catalogue's tools by name, with what the planner needs of them."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    @classmethod
    def load(cls, backends: Mapping[str, Backend]) -> ToolIndex:
        """The catalogue of the backends whose OpenAPI document exists (others are skipped).

        Catalogues are cached by the documents' paths, sizes and modification times: several
        planners in one process (tests, ``switchboard up``) parse each document once.
        """
        present = {}
        for name, backend in backends.items():
            if backend.openapi.is_file():
                present[name] = backend
            else:
                log.warning("no OpenAPI document for backend %s at %s", name, backend.openapi)
        key = tuple(sorted((name, _fingerprint(b.openapi)) for name, b in present.items()))
        catalogue = _CACHE.get(key)
        if catalogue is None:
            catalogue = _CACHE[key] = Catalogue.load(present)
        return cls(catalogue)

    def get(self, name: str) -> ToolSpec | None:
        return self._catalogue.get(name)

    def tools(self) -> list[ToolSpec]:
        return self._catalogue.tools()

    def names(self) -> list[str]:
        return [tool.name for tool in self.tools()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._catalogue.get(name) is not None

    def argument_errors(self, name: str, arguments: Mapping[str, Any]) -> list[str]:
        """Why the (masked) arguments break the tool's contract; [] when they are valid."""
        return self._catalogue.validate_arguments(name, arguments, allow_placeholders=True)


def openai_tool(tool: ToolSpec) -> dict[str, Any]:
    """A tool in the Chat Completions ``tools`` format."""
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }
