"""Intent packs: YAML files of intents with example utterances, one file per industry.

```yaml
industry: airline
description: ...
intents:
  - name: flight_status
    description: ...
    examples: ["is my flight on time", ...]
out_of_scope: ["what's the capital of France", ...]
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

OUT_OF_SCOPE = "out_of_scope"

_NAME = r"^[a-z][a-z0-9_]*$"
Utterance = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PackError(ValueError):
    """An intent pack could not be read or does not follow the schema."""


class Intent(BaseModel):
    """One intent and the utterances that teach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME, description="snake_case intent name, unique across packs")
    description: str = Field(min_length=1, description="what the customer wants")
    examples: list[Utterance] = Field(min_length=5, description="example utterances")

    @model_validator(mode="after")
    def _check(self) -> Intent:
        if self.name == OUT_OF_SCOPE:
            raise ValueError(f"{OUT_OF_SCOPE!r} is reserved for the out-of-scope class")
        seen: set[str] = set()
        for text in self.examples:
            key = _normalise(text)
            if key in seen:
                raise ValueError(f"intent {self.name!r} repeats the example {text!r}")
            seen.add(key)
        return self


class IntentPack(BaseModel):
    """All the intents of one industry plus messages that belong to none of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    industry: str = Field(pattern=_NAME)
    description: str = ""
    intents: list[Intent] = Field(min_length=1)
    out_of_scope: list[Utterance] = Field(
        default_factory=list, description="messages the assistant must not treat as any intent"
    )

    @model_validator(mode="after")
    def _unique(self) -> IntentPack:
        names = [intent.name for intent in self.intents]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"intents defined twice: {', '.join(duplicates)}")
        return self


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def load_pack(path: Path) -> IntentPack:
    """Read and validate one pack; every problem is reported with the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"{path}: cannot read intent pack: {exc}") from exc
    if not isinstance(raw, dict):
        raise PackError(f"{path}: an intent pack must be a mapping, got {type(raw).__name__}")
    try:
        return IntentPack.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PackError(f"{path}: invalid intent pack: {problems}") from exc


def load_packs(packs_dir: Path) -> list[IntentPack]:
    """Load every ``*.yaml`` pack in a folder (sorted by name); intent names must be unique."""
    if not packs_dir.is_dir():
        raise PackError(f"{packs_dir}: intent packs folder not found")
    paths = sorted(packs_dir.glob("*.yaml"))
    if not paths:
        raise PackError(f"{packs_dir}: no intent packs (*.yaml) in this folder")
    packs = [load_pack(path) for path in paths]
    owner: dict[str, str] = {}
    for path, pack in zip(paths, packs, strict=True):
        for intent in pack.intents:
            if intent.name in owner:
                raise PackError(
                    f"{path}: intent {intent.name!r} is already defined in {owner[intent.name]}"
                )
            owner[intent.name] = path.name
    return packs
