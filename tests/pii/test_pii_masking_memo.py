"""Clean data values are detected once: the memo changes no result, only how often the detector
runs, and it keeps nothing readable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pii import entities as et
from services.pii.config import PiiSettings
from services.pii.detector import Detector
from services.pii.entities import Entity
from services.pii.masking import CleanValues, Masker
from services.pii.service import build_detector, masked_types
from services.pii.vault import InMemoryVaultStore, Vault, load_key, new_key

STATUS = {
    "flight_number": "UA123",
    "carrier": "UA",
    "origin": "ORD",
    "destination": "SFO",
    "scheduled_departure": "2026-11-25T14:05:00Z",
    "status": "cancelled",
    "delay_minutes": 0,
    "reason": "weather: winter storm at Chicago O'Hare (ORD)",
}


@dataclass
class CountingDetector(Detector):
    """A rule detector of the masked types, counting the texts it is asked about."""

    calls: list[str] = field(default_factory=list)

    def detect(self, text: str, known_names: Sequence[str] = (), **options: Any) -> list[Entity]:
        self.calls.append(text)
        return super().detect(text, known_names, **options)


def new_vault() -> Vault:
    return Vault(InMemoryVaultStore(), load_key(new_key()), ttl_s=3600)


@pytest.fixture
def detector() -> CountingDetector:
    return CountingDetector(tagger_model=None, types=masked_types(PiiSettings()))


def test_clean_values_are_detected_once_and_come_back_unchanged(
    detector: CountingDetector,
) -> None:
    masker = Masker(detector, new_vault())
    first, _ = masker.redact_data("s1", STATUS)
    detected_once = len(detector.calls)
    second, entities = masker.redact_data("s1", STATUS)
    assert first == second == STATUS
    assert entities == []
    assert detected_once == 7  # the string values; the number is not text
    assert len(detector.calls) == detected_once


def test_clean_values_are_shared_by_sessions_with_the_same_known_names(
    detector: CountingDetector,
) -> None:
    masker = Masker(detector, new_vault())
    masker.redact_data("s1", {"status": "cancelled"})
    masker.redact_data("s2", {"status": "cancelled"})
    assert detector.calls == ["cancelled"]


def test_values_holding_personal_data_are_detected_every_time(
    detector: CountingDetector,
) -> None:
    masker = Masker(detector, new_vault())
    data = {"contact": "mail anna.berg@example.com", "status": "cancelled"}
    first, _ = masker.redact_data("s1", data)
    second, entities = masker.redact_data("s1", data)
    assert first == second == {"contact": "mail <EMAIL_1>", "status": "cancelled"}
    assert [e.type for e in entities] == [et.EMAIL]
    assert detector.calls == [
        "mail anna.berg@example.com",
        "cancelled",
        "mail anna.berg@example.com",
    ]


def test_a_value_clean_before_a_name_was_known_is_masked_once_it_is(
    detector: CountingDetector,
) -> None:
    vault = new_vault()
    masker = Masker(detector, vault)
    data = {"note": "booked by berg"}
    assert masker.redact_data("s1", data)[0] == data
    vault.tokenise("s1", et.PERSON, "Anna Berg")
    assert masker.redact_data("s1", data)[0] == {"note": "booked by <PERSON_2>"}
    # ... and names given by the caller count as well, in a session whose vault has none.
    masked, _ = masker.redact_data("s2", data, ["Jon Berg"])
    assert masked == {"note": "booked by <PERSON_1>"}


def test_the_memo_forgets_the_least_recently_seen_beyond_its_capacity(
    detector: CountingDetector,
) -> None:
    masker = Masker(detector, new_vault(), clean_values=CleanValues(capacity=2))
    for value in ("one", "two", "one", "three", "one", "two"):
        masker.redact_data("s1", {"v": value})
    # "one" stayed (seen again before "three" came); "two" was forgotten and detected again.
    assert detector.calls == ["one", "two", "three", "two"]
    assert len(masker.clean_values) == 2


def test_a_memo_of_capacity_zero_is_off(detector: CountingDetector) -> None:
    masker = Masker(detector, new_vault(), clean_values=CleanValues(capacity=0))
    masker.redact_data("s1", {"status": "cancelled"})
    masker.redact_data("s1", {"status": "cancelled"})
    assert detector.calls == ["cancelled", "cancelled"]
    with pytest.raises(ValueError, match="capacity"):
        CleanValues(capacity=-1)


def test_free_text_is_not_memoised(detector: CountingDetector) -> None:
    masker = Masker(detector, new_vault())
    masker.redact("s1", "hello there")
    masker.redact("s1", "hello there")
    assert detector.calls == ["hello there", "hello there"]


def test_the_memo_holds_neither_values_nor_names(detector: CountingDetector) -> None:
    masker = Masker(detector, new_vault())
    value, name = "booked by someone", "Anna Berg"
    masker.redact_data("s1", {"note": value}, [name])
    memo = masker.clean_values
    assert len(memo) == 1
    (digest,) = memo._seen  # the one thing it keeps
    assert len(digest) == 16
    for secret in (value, name, "someone", "Berg"):
        assert secret.encode() not in digest
    # Keyed per process: another memo's digest of the same value differs.
    assert CleanValues().digest(value, [name]) != digest
    assert memo.digest(value, [name]) == digest


def test_digests_tell_names_and_values_apart() -> None:
    memo = CleanValues()
    assert memo.digest("a b", []) != memo.digest("a", ["b"])
    assert memo.digest("a", ["b", "c"]) != memo.digest("a", ["b c"])
    assert memo.digest("a", ["b", "c"]) != memo.digest("a", ["c", "b"])


# The property, with the shipped detector (rules, tagger and its contextual read-out): masking
# a sequence of results with the memo gives exactly what masking them without it gives.
SHIPPED = build_detector(PiiSettings())
VALUES = [
    "UA123",
    "cancelled",
    "on_time",
    "ORD",
    "SFO",
    "2026-11-25T14:05:00Z",
    "01:15:13-08:30",  # the tagger reads this time as an address: found, so never memoised
    "weather: winter storm at Chicago O'Hare (ORD)",
    "Anna Berg",
    "call Linda Nguyen on (415) 555-2671",
    "anna.berg@example.com",
    "88 Oak Street, San Jose",
    "booked by berg",
]
results = st.lists(
    st.dictionaries(
        st.sampled_from(["a", "b", "name", "note"]),
        st.sampled_from(VALUES) | st.lists(st.sampled_from(VALUES), max_size=3),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=25, deadline=None)
@given(results, st.lists(st.sampled_from(["Anna Berg", "Linda Nguyen"]), max_size=1))
def test_masking_with_the_memo_equals_masking_without_it(
    sequence: list[dict[str, Any]], given_names: list[str]
) -> None:
    fields = PiiSettings().person_fields
    key = load_key(new_key())
    with_memo = Masker(SHIPPED, Vault(InMemoryVaultStore(), key, 3600), fields)
    without = Masker(
        SHIPPED, Vault(InMemoryVaultStore(), key, 3600), fields, CleanValues(capacity=0)
    )
    for data in sequence:
        assert with_memo.redact_data("s", data, given_names) == without.redact_data(
            "s", data, given_names
        )


def test_a_value_repeated_within_one_result_is_detected_once(
    detector: CountingDetector,
) -> None:
    masker = Masker(detector, new_vault())
    contact = "mail anna.berg@example.com"
    data = {"items": [{"contact": contact}, {"contact": contact}, {"contact": "none"}]}
    masked, entities = masker.redact_data("s1", data)
    assert masked == {"items": [{"contact": "mail <EMAIL_1>"}] * 2 + [{"contact": "none"}]}
    assert [(e.type, e.placeholder) for e in entities] == [("EMAIL", "<EMAIL_1>")] * 2
    assert detector.calls == [contact, "none"]


def test_another_detector_starts_from_an_empty_memo(detector: CountingDetector) -> None:
    masker = Masker(CountingDetector(tagger_model=None), new_vault())
    masker.redact_data("s1", {"status": "cancelled"})
    masker.detector = detector
    masker.redact_data("s1", {"status": "cancelled"})
    assert detector.calls == ["cancelled"]
