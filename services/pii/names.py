"""Person-name recognisers: known names, cues, honorifics, first-name lists and name shapes.

Without a statistical model, a name is found by what surrounds it ("my name is", "Ms."), by a
known given name, by the CRM's names for the customer, or by its shape: a middle initial between
two capitalised words, a typical surname ending, letters beyond ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from services.pii import entities as et
from services.pii import wordlists
from services.pii.entities import Entity
from services.pii.lexicon import (
    CAP_WORD,
    UPPER,
    WORD_RE,
    common,
    place_word,
    plural_of,
    strip_possessive,
)

_INITIAL_NAME_RE = re.compile(rf"\b({CAP_WORD})[ \t]+[{UPPER}]\.?[ \t]+({CAP_WORD})\b")
# Endings common in European surnames (patronymics, -ski, -ová, -enko, -escu, -opoulos, ...).
_SURNAME_END_RE = re.compile(
    r"(?:sson|sen|ssen|ski|ska|sky|cki|cka|wicz|ewicz|ová|ova|ov|ev|eva|ин|ина|enko|chuk|"
    r"escu|ović|ovic|ić|ini|elli|etti|ucci|opoulos|akis|idis|oglu|ian|yan|shvili|dze|berg|mann|"
    r"stein|feld|macher|dóttir|dottir|ez|nen|aari)$"
)
# One capitalised word after a lower-case word or a comma, not followed by another capital.
_LONE_WORD_RE = re.compile(rf"(?<=[a-z,] )(?P<word>{CAP_WORD})(?![ \t]+[{UPPER}])")
# A lookahead, so overlapping pairs are all seen ("Kyle Alpatu Shervashidze").
_PAIR_RE = re.compile(rf"(?=\b({CAP_WORD})[ \t]+({CAP_WORD})\b)")

# Digits right after a word: "UA 123", "BA2490" — a flight or a code, not a name.
_CODE_AFTER_RE = re.compile(r"[ \t]?\d")

# The CRM's names for the customer: above every other name recogniser, and never overridden
# by the tagger.
KNOWN_NAME_SCORE = 0.95

# After these a name may be written in lower case ("my name is anna").
_STRONG_CUES = (
    "my name is",
    "my name's",
    "name is",
    "name:",
    "named",
    "maiden name is",
    "surname is",
    "surname:",
    "last name is",
    "last name:",
    "family name is",
)
_CUE_RES = [
    (re.compile(rf"(?<![a-z]){re.escape(cue)}[ \t]*\n?[ \t]*$"), cue in _STRONG_CUES)
    for cue in wordlists.NAME_CUES
]
# "Hi, Luiza here." "Luiza Costa here, about my withdrawal": a name introducing its writer, at
# the start of the text or of a sentence, or after a greeting.
_HERE_RE = re.compile(
    r"(?:^|[.!?\n][ \t]*"
    r"|\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Gg]ood (?:morning|afternoon|evening))[,!]?[ \t]+)"
    rf"(?P<name>{CAP_WORD}(?:[ \t]+{CAP_WORD}){{0,2}})[ \t]+here\b"
    r"(?![ \t]+(?:is|are|was|in|at|to|for|on)\b)"
)


def find_known_names(text: str, known_names: Sequence[str]) -> Iterator[Entity]:
    """The CRM's names for the customer, whole or by part, in any case."""
    variants: set[str] = set()
    for name in known_names:
        name = " ".join(name.split())
        if not name:
            continue
        variants.add(name)
        variants.update(
            part
            for part in name.split(" ")
            if len(part) > 1
            and part.lower().strip(".") not in wordlists.NOT_NAMES
            and part.lower().strip(".") not in wordlists.TITLES
        )
    for variant in sorted(variants, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(variant)}(?!\w)", re.IGNORECASE)
        for m in pattern.finditer(text):
            yield Entity(m.start(), m.end(), et.PERSON, KNOWN_NAME_SCORE, m.group())


def find_cued_names(text: str) -> Iterator[Entity]:
    """Names after an honorific or a cue, and names starting with a known given name."""
    words = list(WORD_RE.finditer(text))
    lowered = text.lower()
    for i, word in enumerate(words):
        token = word.group()
        key = strip_possessive(token).lower()
        if common(key) or plural_of(key, wordlists.NATIONALITIES):
            continue
        if key in wordlists.COUNTRIES and not _given_name_of_a_pair(text, words, i):
            continue
        capitalised = token[0].isupper()
        previous = words[i - 1].group().lower() if i > 0 else ""
        gap = text[words[i - 1].end() : word.start()] if i > 0 else ""
        if previous in wordlists.TITLES and re.fullmatch(r"\.?[ \t]+", gap) and capitalised:
            # The honorific belongs to the name: "Ms. Jones" is masked whole.
            chain = _chain(text, words, i, 0.82, lowercase=False)
            start = words[i - 1].start()
            yield Entity(start, chain.end, et.PERSON, 0.82, text[start : chain.end])
            continue
        cue = _cue_before(lowered, word.start())
        if cue is not None and not _CODE_AFTER_RE.match(text, word.end()):
            strong, score = cue
            if capitalised or (strong and token.islower()):
                yield _chain(text, words, i, score, lowercase=not capitalised)
        if capitalised and key in wordlists.FIRST_NAMES:
            chain = _chain(text, words, i, 0.75, lowercase=False)
            if chain.end == word.end():
                chain = Entity(chain.start, chain.end, et.PERSON, 0.6, chain.value)
            yield chain


def _given_name_of_a_pair(text: str, words: Sequence[re.Match[str]], i: int) -> bool:
    """A country's name that a cue puts before a surname: "I'm Jordan Patel", "this is Chad
    Miller". Alone after a cue, a country stays a place ("I'm in Jordan")."""
    if i + 1 >= len(words) or not re.fullmatch(
        r"[ \t]+", text[words[i].end() : words[i + 1].start()]
    ):
        return False
    following = words[i + 1].group()
    return (
        words[i].group()[0].isupper()
        and following[0].isupper()
        and not common(following)
        and not place_word(following)
        and _cue_before(text.lower(), words[i].start()) is not None
    )


def find_introductions(text: str) -> Iterator[Entity]:
    """A name that introduces the writer: "Hi, Luiza here" (a place's name too: "Jordan")."""
    for m in _HERE_RE.finditer(text):
        start, value = m.start("name"), m.group("name")
        # "Hello Jordan Patel here" at the start of the text: the greeting is no part of the name.
        while (lead := re.match(r"(\S+)[ \t]+", value)) and common(lead.group(1)):
            start, value = start + lead.end(), value[lead.end() :]
        if any(common(word) for word in value.split()):
            continue
        # As sure as a known name: the tagger does not get to split it ("Jordan" the country).
        yield Entity(start, m.end("name"), et.PERSON, KNOWN_NAME_SCORE, value)


def find_name_shapes(text: str) -> Iterator[Entity]:
    """Names recognised by their shape alone."""
    # "Ravil G Yefimov", "Janka M. Szász": a middle initial between two capitalised words.
    for m in _INITIAL_NAME_RE.finditer(text):
        if not common(m.group(1)) and not common(m.group(2)):
            yield Entity(m.start(), m.end(), et.PERSON, 0.8, m.group())
    # "Miklós Hajdu" (letters beyond ASCII), "Hedvig Arvidsson" (a surname ending).
    for m in _PAIR_RE.finditer(text):
        first, last = m.group(1), m.group(2)
        if common(first) or common(last) or place_word(first) or place_word(last):
            continue
        start, end = m.start(1), m.end(2)
        if _SURNAME_END_RE.search(last):
            yield Entity(start, end, et.PERSON, 0.7, text[start:end])
        elif not text[start:end].isascii():
            yield Entity(start, end, et.PERSON, 0.6, text[start:end])
    # "the verses from Nielsen's tales": one capitalised word mid-sentence that looks like a
    # surname (a typical ending, or letters beyond ASCII).
    for m in _LONE_WORD_RE.finditer(text):
        word = strip_possessive(m.group("word"))
        if common(word) or place_word(word) or len(word) < 4:
            continue
        if _SURNAME_END_RE.search(word) or not word.isascii():
            start = m.start("word")
            yield Entity(start, start + len(word), et.PERSON, 0.55, word)


def _cue_before(lowered: str, start: int) -> tuple[bool, float] | None:
    """Whether a name cue ends right before ``start``: (strong, score) or None."""
    before = lowered[max(0, start - 30) : start]
    for regex, strong in _CUE_RES:
        if regex.search(before):
            return strong, 0.85 if strong else 0.65
    return None


def _chain(
    text: str, words: Sequence[re.Match[str]], i: int, score: float, *, lowercase: bool
) -> Entity:
    """The name starting at word ``i``: it and up to three following name-like words."""
    start = words[i].start()
    first = strip_possessive(words[i].group())
    end = start + len(first)
    if first != words[i].group():
        return Entity(start, end, et.PERSON, score, text[start:end])  # "Anna's": ends here
    j = i + 1
    while j < len(words) and j <= i + 3:
        gap = text[words[j - 1].end() : words[j].start()]
        token = words[j].group()
        initial = len(words[j - 1].group()) == 1
        if not re.fullmatch(r"\.?[ \t]+" if initial else r"[ \t]+", gap):
            break
        bare = strip_possessive(token)
        if bare.lower() in wordlists.NOT_NAMES or bare.lower() in wordlists.STREET_WORDS:
            break
        if not (token[0].isupper() or (lowercase and token.islower())):
            break
        end = words[j].start() + len(bare)
        if bare != token:
            break
        j += 1
    return Entity(start, end, et.PERSON, score, text[start:end])
