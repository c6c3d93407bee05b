"""What the detector finds: typed character spans with a confidence."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

# The entity types the service masks. Declared patterns (config) may add more.
CARD = "CARD"
IBAN = "IBAN"
BANK_ACCOUNT = "BANK_ACCOUNT"
SSN = "SSN"
NATIONAL_ID = "NATIONAL_ID"
EMAIL = "EMAIL"
PHONE = "PHONE"
DOB = "DOB"
ADDRESS = "ADDRESS"
PERSON = "PERSON"
PASSPORT = "PASSPORT"
DRIVER_LICENSE = "DRIVER_LICENSE"
IP_ADDRESS = "IP_ADDRESS"
LOYALTY = "LOYALTY"
MEMBER_ID = "MEMBER_ID"
POLICY_NUMBER = "POLICY_NUMBER"

# Quasi-identifiers: found, but masked only when configured (see PiiSettings.masked_types).
LOCATION = "LOCATION"
NATIONALITY = "NATIONALITY"
AGE = "AGE"
DATE = "DATE"
ORGANIZATION = "ORGANIZATION"
URL = "URL"
#: a job title ("bus driver"): said of a person, but many people share one
OCCUPATION = "OCCUPATION"

DIRECT_IDENTIFIERS: frozenset[str] = frozenset(
    {
        CARD,
        IBAN,
        BANK_ACCOUNT,
        SSN,
        NATIONAL_ID,
        EMAIL,
        PHONE,
        DOB,
        ADDRESS,
        PERSON,
        PASSPORT,
        DRIVER_LICENSE,
        IP_ADDRESS,
        LOYALTY,
        MEMBER_ID,
        POLICY_NUMBER,
    }
)
QUASI_IDENTIFIERS: frozenset[str] = frozenset(
    {LOCATION, NATIONALITY, AGE, DATE, ORGANIZATION, URL, OCCUPATION}
)


@dataclass(frozen=True, order=True)
class Entity:
    """One piece of personal data: ``text[start:end]`` (code points, end-exclusive)."""

    start: int
    end: int
    type: str
    score: float
    value: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Entity) -> bool:
        return self.start < other.end and other.start < self.end


def _weight(entity: Entity) -> float:
    return entity.score * entity.length


def resolve_overlaps(candidates: Iterable[Entity]) -> list[Entity]:
    """The non-overlapping subset with the most confidently covered text, in text order.

    Weighted interval scheduling with weight score x length: a confident span beats a less
    confident one of the same extent, a whole address beats the city inside it, and a phone
    number next to a card is kept with the card rather than lost to a Luhn-valid window that
    straddles both.
    """
    ordered = sorted(candidates, key=lambda e: (e.end, e.start, -e.score, e.type))
    ends = [e.end for e in ordered]
    best: list[float] = [0.0] * (len(ordered) + 1)  # best[i]: the first i candidates
    take: list[bool] = [False] * len(ordered)
    previous: list[int] = []
    for i, entity in enumerate(ordered):
        j = bisect.bisect_right(ends, entity.start, 0, i)  # candidates ending at or before it
        previous.append(j)
        with_it = _weight(entity) + best[j]
        take[i] = with_it > best[i]
        best[i + 1] = with_it if take[i] else best[i]
    kept: list[Entity] = []
    i = len(ordered)
    while i > 0:
        if take[i - 1]:
            kept.append(ordered[i - 1])
            i = previous[i - 1]
        else:
            i -= 1
    return sorted(kept)
