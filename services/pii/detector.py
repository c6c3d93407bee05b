"""Finding personal data in text: regular expressions, validation libraries and small word lists.

Each recogniser (:mod:`identifiers`, :mod:`addresses`, :mod:`names`, :mod:`quasi`, and the
patterns declared in settings) proposes candidate entities with a score; candidates below the
minimum score or of types not asked for are dropped, and overlapping ones are resolved to the
best span (:func:`services.pii.entities.resolve_overlaps`). No model, no network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.pii.addresses import find_addresses
from services.pii.config import PatternSpec
from services.pii.entities import Entity, resolve_overlaps
from services.pii.identifiers import (
    find_cards,
    find_context_ids,
    find_dobs,
    find_emails,
    find_ibans,
    find_ips,
    find_national_ids,
    find_phones,
)
from services.pii.lexicon import has_context
from services.pii.names import find_cued_names, find_known_names, find_name_shapes
from services.pii.quasi import find_quasi_identifiers

# A placeholder the service wrote earlier; text inside one is never detected again.
PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")


@dataclass
class Detector:
    """Detects personal data in text. Thread-safe: it holds only immutable configuration."""

    phone_regions: Sequence[str] = ("US", "GB", "DE", "FR", "NL", "BE", "IT", "ES", "AU", "IN")
    patterns: Sequence[PatternSpec] = ()
    min_score: float = 0.5
    #: the entity types to report; None: all of them
    types: frozenset[str] | None = None
    _declared: list[tuple[PatternSpec, re.Pattern[str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._declared = [(spec, re.compile(spec.regex)) for spec in self.patterns]

    def detect(self, text: str, known_names: Sequence[str] = ()) -> list[Entity]:
        """Non-overlapping entities in ``text``, in text order."""
        protected = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]
        candidates = [
            entity
            for entity in self._candidates(text, known_names)
            if entity.score >= self.min_score
            and (self.types is None or entity.type in self.types)
            and entity.end > entity.start
            and not any(entity.start < end and start < entity.end for start, end in protected)
        ]
        return resolve_overlaps(candidates)

    def _candidates(self, text: str, known_names: Sequence[str]) -> Iterator[Entity]:
        yield from find_emails(text)
        yield from find_cards(text)
        yield from find_ibans(text)
        yield from find_national_ids(text)
        yield from find_context_ids(text)
        yield from self._declared_patterns(text)
        yield from find_ips(text)
        yield from find_phones(text, self.phone_regions)
        yield from find_dobs(text)
        yield from find_addresses(text)
        yield from find_known_names(text, known_names)
        yield from find_cued_names(text)
        yield from find_name_shapes(text)
        yield from find_quasi_identifiers(text)

    def _declared_patterns(self, text: str) -> Iterator[Entity]:
        for spec, regex in self._declared:
            for m in regex.finditer(text):
                if spec.context and not has_context(
                    text, m.start(), spec.context, spec.context_window
                ):
                    continue
                yield Entity(m.start(), m.end(), spec.type, spec.score, m.group())
