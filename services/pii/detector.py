"""Finding personal data in text: regular expressions, validation libraries and small word lists.

Each recogniser (:mod:`identifiers`, :mod:`addresses`, :mod:`names`, :mod:`quasi`, and the
patterns declared in settings) proposes candidate entities with a score; candidates below the
minimum score or of types not asked for are dropped, and overlapping ones are resolved to the
best span (:func:`services.pii.entities.resolve_overlaps`). A small sequence tagger
(:mod:`services.pii.tagger`, a CRF shipped as a file) then reads the text and the rules' output and
adds the names, addresses, places and organisations that have no fixed shape. No network.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.pii import entities as et
from services.pii import wordlists
from services.pii.addresses import find_addresses
from services.pii.config import PatternSpec
from services.pii.entities import Entity, resolve_overlaps
from services.pii.identifiers import (
    MONTHS,
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
from services.pii.names import (
    KNOWN_NAME_SCORE,
    find_cued_names,
    find_introductions,
    find_known_names,
    find_name_shapes,
)
from services.pii.quasi import find_quasi_identifiers
from services.pii.tagger import DEFAULT_MODEL, SequenceTagger

# A placeholder the service wrote earlier; text inside one is never detected again.
PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z0-9_]*?)_(\d+)>")


# What the tagger finds: the types without a fixed shape. The rules still find them too (their
# output is one of the tagger's features), but where the tagger has a say its span wins.
TAGGED_TYPES: frozenset[str] = frozenset(
    {et.PERSON, et.ADDRESS, et.LOCATION, et.ORGANIZATION, et.NATIONALITY, et.OCCUPATION}
)


@functools.cache
def _load_tagger(path: Path) -> SequenceTagger:
    if not path.is_file():
        raise ValueError(
            f"the PII tagger model {path} does not exist: rebuild it with `switchboard pii train` "
            "or run without the tagger (tagger_model=None)"
        )
    return SequenceTagger.load(path)


@dataclass
class Detector:
    """Detects personal data in text. Thread-safe: it holds only immutable configuration."""

    phone_regions: Sequence[str] = ("US", "GB", "DE", "FR", "NL", "BE", "IT", "ES", "AU", "IN")
    patterns: Sequence[PatternSpec] = ()
    min_score: float = 0.5
    #: the entity types to report; None: all of them
    types: frozenset[str] | None = None
    #: the sequence tagger's model file; None: rules only
    tagger_model: Path | None = DEFAULT_MODEL
    #: organisations the deployment knows by name (its brands, partners, competitors)
    organizations: Sequence[str] = ()
    _declared: list[tuple[PatternSpec, re.Pattern[str]]] = field(init=False, repr=False)
    _organizations: re.Pattern[str] | None = field(init=False, repr=False)
    _tagger: SequenceTagger | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._declared = [(spec, re.compile(spec.regex)) for spec in self.patterns]
        self._organizations = _alternatives(self.organizations)
        self._tagger = None if self.tagger_model is None else _load_tagger(self.tagger_model)

    def detect(
        self, text: str, known_names: Sequence[str] = (), *, context: bool = True
    ) -> list[Entity]:
        """Non-overlapping entities in ``text``, in text order.

        ``context=False`` tags without the encoder's contextual read-out where the tagger
        allows it (:meth:`SequenceTagger.tag`): for the many short values of a tool result.
        """
        candidates = self._rule_candidates(text, known_names)
        wanted = [e for e in candidates if self._reported(e)]
        # A known organisation is never read as a person, even where organisations are not
        # reported: it takes its span, then leaves.
        shields = [e for e in candidates if not self._reported(e) and _known_organization(e)]
        if self._tagger is None:
            return [e for e in resolve_overlaps([*wanted, *shields]) if self._reported(e)]
        # The tagger reads what the rules found of every type, as it did in training; the
        # types not asked for are dropped only afterwards, so they never hide one that was.
        protected = _placeholders(text)
        tagged = [
            entity
            for found in self._tagger.tag(text, resolve_overlaps(candidates), context=context)
            for entity in _split_at_blank_lines(found)
            if entity.type in TAGGED_TYPES
            and (self.types is None or entity.type in self.types)
            and entity.score >= self.min_score
            and not _inside(entity, protected)
            and not _field_label(entity)
        ]
        return [
            e
            for e in combine([*wanted, *shields], tagged)
            if self._reported(e)
            and not _person_holding_a_code(e)
            and not _person_heading_a_reference(e, text)
            and not _person_holding_a_locator(e, text)
            and not _person_holding_a_date(e, text)
            and not _person_naming_a_thing(e, text)
            and not _sign_off(e)
            and not _person_inside_a_place(e, candidates)
            and not _address_from_a_quantity(e)
            and not _address_from_a_card_ending(e, text)
        ]

    def _reported(self, entity: Entity) -> bool:
        return self.types is None or entity.type in self.types

    def rule_entities(self, text: str, known_names: Sequence[str] = ()) -> list[Entity]:
        """What the rule recognisers alone find, of every type, without overlaps."""
        return resolve_overlaps(self._rule_candidates(text, known_names))

    def _rule_candidates(self, text: str, known_names: Sequence[str]) -> list[Entity]:
        protected = _placeholders(text)
        return [
            entity
            for entity in self._candidates(text, known_names)
            if entity.score >= self.min_score
            and entity.end > entity.start
            and not _inside(entity, protected)
        ]

    def _candidates(self, text: str, known_names: Sequence[str]) -> Iterator[Entity]:
        yield from find_emails(text)
        yield from find_cards(text)
        yield from find_ibans(text)
        yield from find_national_ids(text)
        yield from find_context_ids(text)
        yield from self._declared_patterns(text)
        if self._organizations is not None:
            # As sure as a known name: "Hello Delta, my flight is late" greets no person.
            for m in self._organizations.finditer(text):
                yield Entity(m.start(), m.end(), et.ORGANIZATION, KNOWN_NAME_SCORE, m.group())
        yield from find_ips(text)
        yield from find_phones(text, self.phone_regions)
        yield from find_dobs(text)
        yield from find_addresses(text)
        yield from find_known_names(text, known_names)
        yield from find_cued_names(text)
        yield from find_introductions(text)
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


def _known_organization(entity: Entity) -> bool:
    return entity.type == et.ORGANIZATION and entity.score >= KNOWN_NAME_SCORE


def _alternatives(names: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for whole-word, case-sensitive matches of ``names``, longest first."""
    variants = sorted({" ".join(name.split()) for name in names} - {""}, key=len, reverse=True)
    if not variants:
        return None
    alternation = "|".join(re.escape(v).replace(r"\ ", r"[ \t]+") for v in variants)
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")


# A flight number or similar code: two letters (or a letter and a digit) and one to four digits.
_CODE_RE = re.compile(r"(?<!\w)[A-Z][A-Z0-9][ \t]?\d{1,4}(?!\w)")


def _person_holding_a_code(entity: Entity) -> bool:
    """A "name" that holds a flight number ("Hi UA 123 is late"): the tagger's reading of a
    greeting's cue. Names hold no digits, and the code must reach the tools unmasked. Nor is a
    flight number on its own an address ("what about UA 891?" read as a house number): masked,
    the flow kept the flight of the turn before and answered about the wrong one."""
    if entity.type == et.PERSON:
        return _CODE_RE.search(entity.value) is not None
    return entity.type == et.ADDRESS and _CODE_RE.fullmatch(entity.value) is not None


def _person_heading_a_reference(entity: Entity, text: str) -> bool:
    """A "name" that is the letters of a reference: "C" of "I'm C-1002", read as a name after
    "I'm". Masked, the customer number cannot reach the tools; no name goes on into a hyphen and
    digits (a double-barrelled name goes on into letters)."""
    return entity.type == et.PERSON and _REFERENCE_TAIL_RE.match(text, entity.end) is not None


_REFERENCE_TAIL_RE = re.compile(r"-[0-9]")

# A booking's record locator: six capitals or digits, as airlines issue them ("ZGGJQS").
_LOCATOR_RE = re.compile(r"[A-Z0-9]{6}")
# What a customer writes before one: "PNR ZGGJQS", "booking code: NMVYHB", "reservation ...".
_LOCATOR_CUES = ("pnr", "booking", "reservation", "confirmation", "locator", "reference", "ref")
_LOCATOR_WORDS = frozenset((*_LOCATOR_CUES, "record", "code", "number", "no"))


def _person_holding_a_locator(entity: Entity, text: str) -> bool:
    """A "name" that is a record locator: after a booking's cue ("PNR NMVYHB", "booking code
    ZGGJQS"), or a whole message of six capitals with at most one vowel and no given name
    ("NMVYHB" answering "which reservation?"). The tagger reads such capitals as a surname;
    masked, the code cannot reach the booking tools. Six capitals with more vowels ("JORDAN")
    alone stay masked: a missed name leaks, an extra placeholder does not."""
    if entity.type != et.PERSON:
        return False
    if _glued_to_digits(entity, text):
        return True  # "MAX" of "PNR MAX2F8": a name holds no digits, nor is it glued to any
    *lead, last = entity.value.split() or [""]
    if not _LOCATOR_RE.fullmatch(last):
        return False
    if any(ch.isdigit() for ch in last):
        return True
    if lead:  # "PNR ZGGJQS", "Record locator NMVYHB" read as one name
        return all(word.lower().strip(":#") in _LOCATOR_WORDS for word in lead)
    if has_context(text, entity.start, _LOCATOR_CUES, 30):
        return True
    alone = text.strip(" \t\n.!?") == entity.value
    vowels = sum(entity.value.count(v) for v in "AEIOU")
    return alone and vowels <= 1 and entity.value.lower() not in wordlists.FIRST_NAMES


_DAY = r"(?:3[01]|[12][0-9]|0?[1-9])(?:st|nd|rd|th)?"
_MONTH_RE = re.compile(rf"(?i)(?:{MONTHS})\.?(?:[ \t]+{_DAY})?")
_DAY_BEFORE_RE = re.compile(rf"(?<!\w){_DAY}[ \t]*$")
_DAY_AFTER_RE = re.compile(rf"\.?[ \t]*{_DAY}(?!\w)")


# "the Jan one", "that May booking": a month picking one of several things a customer has.
_CHOOSER_BEFORE_RE = re.compile(r"(?i)(?<!\w)(?:the|that|this)[ \t]+$")
_CHOSEN_AFTER_RE = re.compile(
    r"(?i)[ \t]+(?:one|ones|flight|flights|trip|booking|reservation|appointment|visit|claim|bet"
    r"|payment|deposit|withdrawal|statement|bill|invoice)(?!\w)"
)


def _person_holding_a_date(entity: Entity, text: str) -> bool:
    """A "name" that is a month beside a day: "Jan 2", "the 2 Jan one", "May 3rd". Jan and May
    are given names, so the rules and the tagger read them as persons; next to a day number they
    are a date, which a customer gives to say which trip they mean. So is a month between "the"
    (or "that", "this") and what it picks: "the Jan one", "that May booking". A month otherwise
    alone ("Jan called") stays masked: it may be a name."""
    if entity.type != et.PERSON or not _MONTH_RE.fullmatch(entity.value):
        return False
    if any(ch.isdigit() for ch in entity.value):
        return True
    if _CHOOSER_BEFORE_RE.search(text, 0, entity.start) and _CHOSEN_AFTER_RE.match(
        text, entity.end
    ):
        return True
    return bool(
        _DAY_BEFORE_RE.search(text, 0, entity.start) or _DAY_AFTER_RE.match(text, entity.end)
    )


# What a lost or damaged thing is called, right after its maker's name ("a Samsonite suitcase",
# "Tumi backpacks"). Words that are also surnames ("case", "watch") are left out.
_THING_AFTER_RE = re.compile(
    r"(?i)[ \t]+(?:suitcases?|bags?|handbags?|backpacks?|rucksacks?|holdalls?|duffel|duffle"
    r"|luggage|carry-on|wallets?|purses?|laptops?|headphones|earbuds|sunglasses"
    r"|umbrellas?|strollers?|pushchairs?|jackets?)(?!\w)"
)
# A colour or a material between an article (or "my") and the maker: "a black Samsonite", "my
# grey aluminium Rimowa". Sizes are left out: "my little Timmy" is a child.
_DESCRIBED_BEFORE_RE = re.compile(
    r"(?i)(?<!\w)(?:a|an|the|my|our|his|her|their)(?:[ \t]+(?:black|white|gr[ae]y|blue|navy|red"
    r"|green|yellow|pink|purple|brown|silver|golden|orange|beige|tan|dark|light|leather|plastic"
    r"|metal|aluminium|aluminum|hard[ -]?shell|canvas|denim)){1,3}[ \t]+$"
)


def _person_naming_a_thing(entity: Entity, text: str) -> bool:
    """A "name" that is a maker's, describing a thing: "a black samsonite suitcase", "they're
    black Tumi backpacks", "a grey Samsonite with stickers". Brands are often surnames or given
    names (Vuitton, Louis, Tumi), so the tagger reads persons; masked, the description a customer
    gives of a lost bag loses the very word that finds it. A name followed by what the thing is,
    or following an article and its colour or material, describes; a name in a possessive
    ("Anna's bag") or after a cue ("my name is ...", kept by its own rule) does not."""
    if entity.type != et.PERSON or any(ch.isdigit() for ch in entity.value):
        return False
    if len(entity.value.split()) > 2 or entity.value.endswith(("'s", "’s")):
        return False
    if entity.end < len(text) and text[entity.end] in "'’":
        return False
    return bool(
        _THING_AFTER_RE.match(text, entity.end)
        or _DESCRIBED_BEFORE_RE.search(text, 0, entity.start)
    )


def _sign_off(entity: Entity) -> bool:
    """A "name" that is a message's closing word alone: "Thanks! Bye". Signatures ("Thanks!\n
    Anna") taught the tagger that the word after a thank-you may be a name, and it read "Bye" as
    one at 0.80. Such words name nobody, so the whole entity being one of them is dropped."""
    return entity.type == et.PERSON and (
        entity.value.strip(" .,!?").casefold() in wordlists.SIGN_OFFS
    )


#: the score of a place the rules know by name (quasi.py), not one read from a cue ("from X")
_KNOWN_PLACE_SCORE = 0.7


def _person_inside_a_place(entity: Entity, candidates: Sequence[Entity]) -> bool:
    """A "name" that is part of a longer place the rules know by name: "Francisco" of "San
    Francisco". The tagger reads the given name; the whole is a city, which is not masked by
    default. A place read from a cue alone ("from Yuri Bulgakov's ...") does not count."""
    return entity.type == et.PERSON and any(
        place.type == et.LOCATION
        and place.score >= _KNOWN_PLACE_SCORE
        and place.start <= entity.start
        and entity.end <= place.end
        and place.end - place.start > entity.end - entity.start
        for place in candidates
    )


def _glued_to_digits(entity: Entity, text: str) -> bool:
    before = text[entity.start - 1] if entity.start > 0 else ""
    after = text[entity.end] if entity.end < len(text) else ""
    return before.isdigit() or after.isdigit()


# An amount: thousands separated ("84,000"), or a number with its unit ("3 bags", "40 minutes").
_QUANTITY_RE = re.compile(
    r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:[.,]\d+)?[ \t]+(?:miles|points|km|kilometers|kilometres|"
    r"dollars|euros|pounds|minutes|hours|days|nights|bags|kg|lbs)\b"
)


def _address_from_a_quantity(entity: Entity) -> bool:
    """An "address" that starts with an amount ("84,000 miles, Gold tier"): the tagger reading a
    house number into a balance. House numbers carry no thousands separator and no unit."""
    return entity.type == et.ADDRESS and _QUANTITY_RE.match(entity.value) is not None


# What comes before a card's last four digits: "ending 4242", "ends in 4242", "last four digits
# are 4242", "last 4: 4242".
_CARD_ENDING_RE = re.compile(
    r"(?i)(?:\bending|\bends?)(?:\s+(?:in|with))?\s+$"
    r"|\blast\s+(?:four|4)(?:\s+digits)?(?:\s+(?:are|is))?\s*:?\s*$"
)


def _address_from_a_card_ending(entity: Entity, text: str) -> bool:
    """An "address" that is a card's last four digits ("the card ending 4242"): the tagger
    reading them as a house number. Shown on every receipt and statement, they name a card among
    the customer's own, not a person, and a withdrawal or refund needs them to pick the card."""
    return (
        entity.type == et.ADDRESS
        and re.fullmatch(r"\d{4}", entity.value) is not None
        and _CARD_ENDING_RE.search(text, max(0, entity.start - 40), entity.start) is not None
    )


def _field_label(entity: Entity) -> bool:
    """A form's field labels ("Personal Info:\nPhone:"): every line ends in a colon. The value
    comes after its label; the tagger read the labels of a CV as an organisation or an
    address, and the scoring then joined the job title above them to the phone number below.
    A name before a colon is a speaker ("Maya Chen:"), and stays."""
    return entity.type != et.PERSON and all(
        line.rstrip().endswith(":") for line in entity.value.splitlines() if line.strip()
    )


_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n\s*")


def _split_at_blank_lines(entity: Entity) -> list[Entity]:
    """The tagger's entity in pieces, cut at blank lines: no name, place, organisation or
    address runs across one (none in the dataset does), but the tagger reads on across them
    ("Staff development specialist\n\nPersonal Info:"). Every piece stays masked."""
    parts: list[Entity] = []
    start = 0
    for m in [*_BLANK_LINE_RE.finditer(entity.value), None]:
        end = len(entity.value) if m is None else m.start()
        piece = entity.value[start:end]
        stripped = piece.strip()
        if stripped:
            offset = entity.start + start + piece.index(stripped)
            parts.append(
                Entity(offset, offset + len(stripped), entity.type, entity.score, stripped)
            )
        if m is not None:
            start = m.end()
    return parts


def _placeholders(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]


def _inside(entity: Entity, protected: Sequence[tuple[int, int]]) -> bool:
    return any(entity.start < end and start < entity.end for start, end in protected)


def combine(rules: Sequence[Entity], tagged: Sequence[Entity]) -> list[Entity]:
    """The rules' identifiers and known names, then the tagger's entities, then the other rules.

    ``rules`` are candidates (they may overlap), ``tagged`` the tagger's entities (they do not).
    Among the rules, overlaps are resolved first, so an identifier that lost to a longer span
    (a postcode read as a phone number inside an address) stays lost. Of what wins, the
    identifiers and known names are kept whatever the tagger says; then the tagger's entities
    that do not overlap them; then the rules' remaining names, addresses and places where the
    tagger found nothing.
    """
    resolved = resolve_overlaps(rules)
    hard = [e for e in resolved if e.type not in TAGGED_TYPES or e.score >= KNOWN_NAME_SCORE]
    taken = _Disjoint(hard)
    by_start: dict[int, list[Entity]] = {}
    for entity in resolved:
        by_start.setdefault(entity.start, []).append(entity)
    kept: list[Entity] = []
    titles = [e for e in resolved if e.type == et.OCCUPATION]
    for entity in tagged:
        if _inside_a_longer(entity, titles):
            continue  # "Court" of "Court, municipal, and license clerk": the line is the title
        if not taken.overlaps(entity):
            kept.extend(_split_leading(entity, by_start.get(entity.start, ())))
    taken = _Disjoint([*hard, *kept])
    soft = resolve_overlaps(
        entity
        for entity in rules
        if entity.type in TAGGED_TYPES
        and entity.score < KNOWN_NAME_SCORE
        and not taken.overlaps(entity)
    )
    return sorted([*hard, *kept, *soft])


def _inside_a_longer(entity: Entity, others: Sequence[Entity]) -> bool:
    return any(
        o.start <= entity.start and entity.end <= o.end and o.length > entity.length for o in others
    )


class _Disjoint:
    """Non-overlapping entities, for overlap queries in logarithmic time (texts can be long)."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        ordered = sorted(entities)
        self._starts = [e.start for e in ordered]
        self._ends = [e.end for e in ordered]

    def overlaps(self, entity: Entity) -> bool:
        # The last entity starting before ``entity`` ends is the only one that can reach it.
        i = bisect.bisect_left(self._starts, entity.end) - 1
        return i >= 0 and self._ends[i] > entity.start


_SEPARATOR_RE = re.compile(r"[\s,;:]+")


def _split_leading(entity: Entity, rules_at_start: Iterable[Entity]) -> list[Entity]:
    """``entity``, or a rule entity of another type at its start and the rest after it.

    "Linda Nguyen, 88 Oak Street, San Jose" tagged as one address keeps the rules' person and
    the address after the comma, so each is masked as what it is.
    """
    for rule in rules_at_start:
        if rule.end >= entity.end or rule.type == entity.type:
            continue
        separator = _SEPARATOR_RE.match(entity.value, rule.end - entity.start)
        if separator is None or entity.start + separator.end() >= entity.end:
            continue
        start = entity.start + separator.end()
        value = entity.value[start - entity.start :]
        return [rule, Entity(start, entity.end, entity.type, entity.score, value)]
    return [entity]
