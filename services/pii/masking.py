"""Masking and restoring: detections become placeholders, placeholders become originals.

Detection (CPU-bound, possibly slow) and masking (fast, touches the vault) are separate steps so
the caller can run detection under a time budget and mask only once it has succeeded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from services.pii import entities as et
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
    return [value for _, value in collect_fields(data)]


def collect_fields(data: Any) -> list[tuple[str, str]]:
    """(key, value) of every string value, depth first, in :func:`collect_strings`' order;
    the key is that of the nearest enclosing object ("" at the top or in a top-level list)."""
    found: list[tuple[str, str]] = []

    def visit(key: str, value: str) -> str:
        found.append((key, value))
        return value

    _walk_keyed(data, "", visit)
    return found


def _walk(data: Any, visit: Callable[[str], str]) -> Any:
    return _walk_keyed(data, "", lambda _key, value: visit(value))


def _walk_keyed(data: Any, key: str, visit: Callable[[str, str], str]) -> Any:
    if isinstance(data, str):
        return visit(key, data)
    if isinstance(data, dict):
        return {k: _walk_keyed(value, str(k), visit) for k, value in data.items()}
    if isinstance(data, list):
        return [_walk_keyed(value, key, visit) for value in data]
    return data


def whole_value(value: str, entity_type: str) -> list[Entity]:
    """The value, trimmed of surrounding blanks, as one entity of ``entity_type``."""
    stripped = value.strip()
    if not stripped or PLACEHOLDER_RE.fullmatch(stripped):
        return []
    start = value.index(stripped)
    return [Entity(start, start + len(stripped), entity_type, 1.0, stripped)]


#: how many clean values :class:`CleanValues` remembers by default (~130 bytes each, ~2 MiB)
CLEAN_VALUES_REMEMBERED = 16_384
_DIGEST_BYTES = 16


class CleanValues:
    """The data values detection found nothing in, remembered so they are not detected again.

    Tool results repeat their values (statuses, codes, carriers, airports, reasons), and the
    detector costs milliseconds per value. Detection is a pure function of the text and the known
    names, so a value found clean with the same known names is clean again. Only clean values are
    remembered: such a value leaves the service exactly as it came in, so remembering it keeps
    nothing the service would mask, and a value holding personal data is always detected afresh.
    The memo holds neither values nor names, only a keyed BLAKE2b digest of both under a random
    per-process key (it cannot be read back, and there is nothing in it for an erase to remove).
    Bounded: the least recently seen are forgotten first. Thread-safe.
    """

    def __init__(self, capacity: int = CLEAN_VALUES_REMEMBERED) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be 0 (off) or more, not {capacity}")
        self.capacity = capacity
        self._key = os.urandom(32)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def digest(self, text: str, known_names: Sequence[str]) -> bytes:
        # JSON of the list is an unambiguous encoding: no two (text, names) share one.
        material = json.dumps([text, *known_names], ensure_ascii=False).encode()
        return hashlib.blake2b(material, key=self._key, digest_size=_DIGEST_BYTES).digest()

    def seen(self, digest: bytes) -> bool:
        with self._lock:
            if digest not in self._seen:
                return False
            self._seen.move_to_end(digest)
            return True

    def add(self, digest: bytes) -> None:
        if not self.capacity:
            return
        with self._lock:
            self._seen[digest] = None
            self._seen.move_to_end(digest)
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)


class Masker:
    """Replaces detected entities with session-stable placeholders, and restores them."""

    def __init__(
        self,
        detector: Detector,
        vault: Vault,
        person_fields: Collection[str] = (),
        clean_values: CleanValues | None = None,
    ) -> None:
        #: data values found clean (RedactData); free text (Redact) is always detected
        self.clean_values = CleanValues() if clean_values is None else clean_values
        self.detector = detector
        self.vault = vault
        self.person_fields = frozenset(key.lower() for key in person_fields)

    @property
    def detector(self) -> Detector:
        return self._detector

    @detector.setter
    def detector(self, detector: Detector) -> None:
        # What one detector found clean says nothing about another.
        self._detector = detector
        self.clean_values.clear()

    def detect(self, texts: Sequence[str], known_names: Sequence[str] = ()) -> list[list[Entity]]:
        """Entities of each text. Pure: safe to run in a worker thread."""
        return [self.detector.detect(text, known_names) for text in texts]

    def detect_fields(
        self, fields: Sequence[tuple[str, str]], known_names: Sequence[str] = ()
    ) -> list[list[Entity]]:
        """Entities of each (key, value) of :func:`collect_fields`: a value under one of the
        person fields is a name whole; the others go through the detector, unless the same
        value was found clean with the same known names before (:class:`CleanValues`)."""
        # A value repeated within one result (a list of records) is detected once, whatever it
        # holds; only clean values are remembered beyond this call.
        found: dict[str, list[Entity]] = {}
        result: list[list[Entity]] = []
        for key, value in fields:
            if key.lower() in self.person_fields:
                result.append(whole_value(value, et.PERSON))
                continue
            if value not in found:
                found[value] = self._detect_value(value, known_names)
            result.append(list(found[value]))
        return result

    def _detect_value(self, value: str, known_names: Sequence[str]) -> list[Entity]:
        # Data values are tagged without the encoder's contextual read-out: a result holds many
        # short values and the encoder costs ~1 ms even for one word (test F2 0.762 without it,
        # 0.783 with it, on prose; services/pii/README.md).
        if not self.clean_values.capacity:
            return self.detector.detect(value, known_names, context=False)
        digest = self.clean_values.digest(value, known_names)
        if self.clean_values.seen(digest):
            return []
        found = self.detector.detect(value, known_names, context=False)
        if not found:
            self.clean_values.add(digest)
        return found

    def known_names(self, session_id: str, given: Sequence[str] = ()) -> list[str]:
        """The names to mask in this session: those the caller gave and every person name the
        session's vault already holds (so a name seen once is masked wherever it appears)."""
        return [*given, *self.vault.originals(session_id, et.PERSON)]

    def redact(
        self,
        session_id: str,
        text: str,
        given_names: Sequence[str] = (),
        *,
        shown: Sequence[str] = (),
    ) -> Masked:
        """``text`` detected and masked, with the session's known names (blocking: vault I/O).

        A span that is exactly one of ``shown`` (references the assistant listed for the
        customer, such as record locators) is left as typed: the detector can take a code of
        capitals sent alone for a name, and masking it would also keep it in the vault as one,
        so that the same code in a backend's answer would be masked too.
        """
        (found,) = self.detect([text], self.known_names(session_id, given_names))
        quoted = {value.casefold() for value in shown}
        if quoted:
            found = [e for e in found if e.value.casefold() not in quoted]
        return self.mask(session_id, text, found)

    def redact_data(
        self, session_id: str, data: dict[str, Any], given_names: Sequence[str] = ()
    ) -> tuple[dict[str, Any], list[MaskedEntity]]:
        """Every string value of ``data`` detected and masked, person fields whole."""
        found = self.detect_fields(collect_fields(data), self.known_names(session_id, given_names))
        return self.mask_data(session_id, data, found)

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
