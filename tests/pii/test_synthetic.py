"""The synthetic training texts: well-formed templates, exact spans, the same texts every run."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from services.pii.evaluation import DATASET_TO_OURS, Sample
from services.pii.synthetic import (
    FIRST_TEMPLATE_ID,
    KINDS,
    Slot,
    Template,
    generate,
    load_templates,
    parse,
)

pytest.importorskip("faker")

COUNT = 600  # more than one round of the templates


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return generate(COUNT, seed=7)


def test_every_template_parses_into_known_kinds() -> None:
    templates = load_templates()
    assert len(templates) >= 300
    for template in templates:
        slots = [p for p in template.parts if isinstance(p, Slot)]
        assert all(slot.kind in KINDS for slot in slots)
    with pytest.raises(ValueError, match="unknown slot kind"):
        parse("Hello {nickname}")
    with pytest.raises(ValueError, match="malformed"):
        parse("Hello {first_name")


def test_template_ids_are_ours_and_one_per_template() -> None:
    ids = [t.template_id for t in load_templates()]
    assert len(set(ids)) == len(ids)
    assert min(ids) == FIRST_TEMPLATE_ID


def test_same_count_and_seed_give_the_same_samples(samples: list[Sample]) -> None:
    assert generate(100, seed=7) == samples[:100]
    assert generate(100, seed=8) != samples[:100]
    assert [s.index for s in samples] == list(range(COUNT))


def test_spans_are_the_inserted_values_with_dataset_labels(samples: list[Sample]) -> None:
    templates = {t.template_id: t for t in load_templates()}
    for sample in samples:
        spans = sorted(sample.spans, key=lambda span: span[1])
        parts = templates[sample.template_id].parts
        position = 0
        # Walk the template over the text: literals sit where expected and each labelled slot's
        # value is exactly its span. A look-alike (no span) ends where the literals up to the
        # next span, or the following literal, start.
        for i, part in enumerate(parts):
            if isinstance(part, str):
                assert sample.text.startswith(part, position), (sample.text, part)
                position += len(part)
                continue
            label = KINDS[part.kind]
            if label is None:
                rest = parts[i + 1 :]
                literals = list(itertools.takewhile(lambda p: isinstance(p, str), rest))
                tail = sum(len(p) for p in literals if isinstance(p, str))
                after = rest[len(literals)] if len(literals) < len(rest) else None
                if after is None:
                    position = len(sample.text) - tail
                elif isinstance(after, Slot) and KINDS[after.kind] is not None:
                    position = spans[0][1] - tail
                else:
                    assert literals, "two look-alikes side by side cannot be told apart"
                    position = sample.text.index(str(literals[0]), position + 1)
                continue
            label_, start, end = spans.pop(0)
            assert label_ == label and start == position, (sample.text, label_, part)
            value = sample.text[start:end]
            assert label in DATASET_TO_OURS and value and value == value.strip(), sample.text
            position = end
        assert position == len(sample.text)
        assert not spans


def test_slots_of_one_person_share_a_value() -> None:
    line = "{full_name} is {first_name}; {full_name2} too"
    custom = [Template(FIRST_TEMPLATE_ID, "test", parse(line))]
    for sample in generate(30, seed=1, templates=custom):
        (_, s1, e1), (_, s2, e2), _ = sorted(sample.spans, key=lambda span: span[1])
        full, first = sample.text[s1:e1], sample.text[s2:e2]
        assert full.lower().startswith(first.lower()), sample.text


def test_a_share_of_samples_hold_no_entity(samples: list[Sample]) -> None:
    empty = sum(not s.spans for s in samples) / len(samples)
    assert 0.15 <= empty <= 0.4
    labels = Counter(label for s in samples for label, _, _ in s.spans)
    # Every label the generator knows appears in a few hundred samples.
    assert set(labels) == {label for label in KINDS.values() if label is not None}


def test_every_template_is_used_before_any_is_used_twice(samples: list[Sample]) -> None:
    count = len(load_templates())
    assert len({s.template_id for s in samples[:count]}) == count
