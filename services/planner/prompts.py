"""Versioned prompt templates: ``prompts/<version>/<name>.md.j2``, rendered in a Jinja sandbox.

A prompt change is a new version folder, so a turn's trace can say exactly which prompt it used
(``Prompts.version``) and an older version stays reproducible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from services.runtime.errors import ConfigError

NAMES = ("plan_fast", "plan_deep", "repair", "tool_errors", "compose")

_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, trim_blocks=False)


class Prompts:
    """The templates of one version, compiled at load."""

    def __init__(self, version: str, templates: dict[str, Template]) -> None:
        self.version = version
        self._templates = templates

    @classmethod
    def load(cls, folder: Path, version: str) -> Prompts:
        """Compile every template the planner uses; raise ConfigError naming a missing one."""
        root = folder / version
        templates: dict[str, Template] = {}
        for name in NAMES:
            path = root / f"{name}.md.j2"
            try:
                templates[name] = _ENV.from_string(path.read_text(encoding="utf-8"))
            except OSError as error:
                message = f"prompt {name!r} version {version}: cannot read {path}: {error}"
                raise ConfigError(message) from error
            except TemplateError as error:
                raise ConfigError(f"prompt {path}: template error: {error}") from error
        return cls(version, templates)

    def render(self, name: str, **context: Any) -> str:
        return self._templates[name].render(**context).strip() + "\n"
