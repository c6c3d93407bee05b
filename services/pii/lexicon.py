"""Shared text helpers of the recognisers: word shapes, context look-back, word-list lookups."""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.pii import wordlists

# Capital letters: Latin, Latin-1 and Extended-A, Greek, Cyrillic.
UPPER = "A-ZÀ-ÖØ-ÞĀ-ŽΆ-ΏΑ-ΩА-Я"
# A capitalised word, with apostrophes and hyphens inside ("O'Neil", "Kędzierzyn-Koźle").
CAP_WORD = rf"[{UPPER}][^\W\d_]*(?:['’-][^\W\d_]+)*"
WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def has_context(text: str, start: int, words: Iterable[str], window: int) -> bool:
    """Whether one of ``words`` occurs in the ``window`` characters before ``start``."""
    before = text[max(0, start - window) : start].lower()
    return any(re.search(rf"(?<![a-z]){re.escape(word)}", before) for word in words)


def plural_of(phrase: str, words: frozenset[str]) -> bool:
    """Whether ``phrase`` (lower case) is one of ``words`` or its plural."""
    if phrase in words:
        return True
    return (phrase.endswith("s") and phrase[:-1] in words) or (
        phrase.endswith("es") and phrase[:-2] in words
    )


def place_word(word: str) -> bool:
    """A country or a nationality: never part of a person's name."""
    lowered = word.lower()
    return lowered in wordlists.COUNTRIES or plural_of(lowered, wordlists.NATIONALITIES)


def common(word: str) -> bool:
    """A word that is never a name on its own (function words, street words, service terms)."""
    lowered = word.lower()
    return lowered in wordlists.NOT_NAMES or lowered in wordlists.STREET_WORDS


def strip_possessive(token: str) -> str:
    return re.sub(r"['’]s$", "", token)
