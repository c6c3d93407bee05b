"""The PII corpus, checked with the pii service's own detector.

The leak tests hold the mesh to every value of the corpus the detector finds; this module keeps
that set honest. A value the detector misses must be marked ``detector_gap`` in
corpus/conversations.yaml (it is then a reported gap, left out of the leak assertions), and a
marked value the detector has come to find fails here, so the mark is removed and the value
joins the leak checks.
"""

from __future__ import annotations

import pytest
from guarantees_support import Conversation, PiiValue, load_corpus

from services.config import load_settings
from services.pii.entities import Entity
from services.pii.service import build_detector, masked_types

CORPUS = load_corpus()
SETTINGS = load_settings().pii
DETECTOR = build_detector(SETTINGS)
MASKED = masked_types(SETTINGS)

CASES = [(c, v) for c in CORPUS for v in c.pii]


def covering(conversation: Conversation, value: PiiValue) -> list[Entity]:
    """The masked entities that cover the value wherever a turn carries it."""
    found: list[Entity] = []
    for text in conversation.turns:
        start = text.find(value.value)
        if start < 0:
            continue
        end = start + len(value.value)
        found += [e for e in DETECTOR.detect(text) if e.start <= start and e.end >= end]
    return found


def case_id(case: tuple[Conversation, PiiValue]) -> str:
    conversation, value = case
    return f"{conversation.id}-{value.type}-{value.value}"


def test_the_corpus_types_are_masked_by_default() -> None:
    assert {v.type for _, v in CASES} <= MASKED


@pytest.mark.parametrize("case", [c for c in CASES if not c[1].detector_gap], ids=case_id)
def test_the_detector_masks_each_guarded_value(case: tuple[Conversation, PiiValue]) -> None:
    conversation, value = case
    entities = covering(conversation, value)
    assert entities, f"not detected: mark it detector_gap in corpus/conversations.yaml ({value})"
    assert value.type in {e.type for e in entities}, entities


@pytest.mark.parametrize("case", [c for c in CASES if c[1].detector_gap], ids=case_id)
def test_each_marked_gap_is_still_a_gap(case: tuple[Conversation, PiiValue]) -> None:
    conversation, value = case
    assert not covering(conversation, value), (
        f"the detector now finds {value.value!r}: remove its detector_gap mark"
    )
