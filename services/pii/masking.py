"""Masking and restoring: detections become placeholders, placeholders become originals.

Detection (CPU-bound, possibly slow) and masking (fast, touches the vault) are separate steps so
the caller can run detection under a time budget and mask only once it has succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from services.pii.detector import PLACEHOLDER_RE, Detector
from services.pii.entities import Entity
from services.pii.vault import Vault


@dataclass(frozen=True)
class MaskedEntity:
    """An entity found and the placeholder that replaced it (offsets in the original text)."""

    type: str
    placeholder: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Masked:
    """A masked text and what was masked in it."""

    text: str
    entities: list[MaskedEntity]


def collect_strings(data: Any) -> list[str]:
    """Every string value in a JSON value, depth first (keys are not values: they stay as is)."""
    found: list[str] = []

    def visit(value: str) -> str:
        found.append(value)
        return value

    _walk(data, visit)
    return found


def _walk(data: Any, visit: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return visit(data)
    if isinstance(data, dict):
        return {key: _walk(value, visit) for key, value in data.items()}
    if isinstance(data, list):
        return [_walk(value, visit) for value in data]
    return data


class Masker:
    """Replaces detected entities with session-stable placeholders, and restores them."""

    def __init__(self, detector: Detector, vault: Vault) -> None:
        self.detector = detector
        self.vault = vault

    def detect(self, texts: Sequence[str], known_names: Sequence[str] = ()) -> list[list[Entity]]:
        """Entities of each text. Pure: safe to run in a worker thread."""
        return [self.detector.detect(text, known_names) for text in texts]

    def mask(self, session_id: str, text: str, found: Sequence[Entity]) -> Masked:
        """``text`` with each of ``found`` replaced by its placeholder."""
        parts: list[str] = []
        masked: list[MaskedEntity] = []
        cursor = 0
        for entity in sorted(found):
            placeholder = self.vault.tokenise(session_id, entity.type, entity.value)
            parts.append(text[cursor : entity.start])
            parts.append(placeholder)
            cursor = entity.end
            masked.append(
                MaskedEntity(entity.type, placeholder, entity.start, entity.end, entity.score)
            )
        parts.append(text[cursor:])
        return Masked("".join(parts), masked)

    def mask_data(
        self, session_id: str, data: dict[str, Any], found: Sequence[Sequence[Entity]]
    ) -> tuple[dict[str, Any], list[MaskedEntity]]:
        """``data`` with every string value masked; ``found`` follows :func:`collect_strings`."""
        pending = iter(found)
        entities: list[MaskedEntity] = []

        def visit(value: str) -> str:
            result = self.mask(session_id, value, next(pending))
            entities.extend(result.entities)
            return result.text

        masked: dict[str, Any] = _walk(data, visit)
        return masked, entities

    def restore(
        self, session_id: str, data: dict[str, Any], allowed_types: Collection[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """``data`` with placeholders of allowed types replaced by their originals.

        Returns the data and the placeholders left in place: those of types not allowed, and
        those the vault does not know (never issued, erased or expired), each listed once.
        """
        allowed = frozenset(allowed_types)
        refused: list[str] = []

        def replace(match: Any) -> str:
            placeholder: str = match.group(0)
            if match.group(1) in allowed:
                revealed = self.vault.reveal(session_id, placeholder)
                if revealed is not None and revealed[0] == match.group(1):
                    return revealed[1]
            if placeholder not in refused:
                refused.append(placeholder)
            return placeholder

        restored: dict[str, Any] = _walk(data, lambda value: PLACEHOLDER_RE.sub(replace, value))
        return restored, refused
