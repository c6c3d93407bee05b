"""The address recogniser: a street "core", then the unit, city, postcode and country after it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.pii import entities as et
from services.pii import wordlists
from services.pii.entities import Entity
from services.pii.lexicon import CAP_WORD, UPPER, common, has_context

_STREET_ALT = "|".join(sorted(wordlists.STREET_WORDS, key=len, reverse=True))
# Suffixes that end a compound street name (Bundesstrasse, Koskikatu, Vesterbrogade).
_COMPOUND_SUFFIXES = (
    "strasse|straße|str|weg|gasse|allee|platz|ring|damm|laan|straat|gracht|plein|dijk|kade|vej|"
    "gade|gatan|vägen|gata|veien|vegen|tie|katu|kuja|polku|tori|väg"
)
_STREET_PREFIXES = (
    r"Rue|Via|Vicolo|Calle|Avenida|Rua|Viale|Piazza|Corso|Ulica|ul\.|Aleja|Avenue|Boulevard"
)
_UNIT_AHEAD = r"(?=[ \t]*,?[ \t]*\n?[ \t]*(?:Apt\.?|Apartment|Suite|Unit|Flat)[ \t]*\d)"
_CORE_RES = (
    # "90 Whitchurch Road", "1436 Redbud Drive", "12B Baker St."
    re.compile(rf"\b\d{{1,6}}[A-Za-z]?(?:[ \t]+{CAP_WORD}){{1,4}}?[ \t]+(?i:{_STREET_ALT})\b\.?"),
    # "Bundesstrasse 31", "6750 Koskikatu 25", "Gesterbyntie 68"
    re.compile(
        rf"\b(?:\d{{1,6}}[ \t]+)?(?:{CAP_WORD}[ \t]+){{0,2}}"
        rf"[{UPPER}][^\W\d_]*?(?i:{_COMPOUND_SUFFIXES})[ \t]+\d{{1,5}}[A-Za-z]?\b"
    ),
    # "Rue de la Paix 5", "Via Roma 12", "Calle Mayor 7"
    re.compile(rf"\b(?:{_STREET_PREFIXES})(?:[ \t]+[^\W\d_]+){{1,4}}[ \t]+\d{{1,5}}[A-Za-z]?\b"),
    # "Canónigo Valiño 70\n Apt. 758": any street name and house number when a unit follows.
    re.compile(
        rf"\b(?:\d{{1,6}}[ \t]+)?{CAP_WORD}\.?(?:[ \t]+(?:{CAP_WORD}|de|del|la|u\.|ul\.)){{0,3}}"
        rf"[ \t]+\d{{1,5}}[A-Za-z]?\.?{_UNIT_AHEAD}"
    ),
    # "PO Box 123", "PSC 3294, Box 9168", "Unit 7401 Box 2312"
    re.compile(r"\b(?:P\.?\s?O\.?\s?Box|(?:PSC|Unit|USNS|USNV|USS)\s+\d+,?\s+Box)\s*\d+"),
)
_LEADING_NUMBER_RE = re.compile(r"(?<![\w.,-])\d{1,6}[ \t]+$")
_STREET_ABBREVIATIONS = frozenset("st rd ave av blvd ln dr ct pl sq hwy pkwy cir str".split())
_ZIP_RE = re.compile(r"\b\d{3,6}(?:-\d{3,4})?\b")

# The parts that may follow a core.
_SEPARATOR_RE = re.compile(r"[ \t]*(?:,[ \t]*)?(?:\n[ \t]*)?(?:,[ \t]*)?")
_UNIT_SEG_RE = re.compile(
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|Box|Room)[ \t]*#?\d+[A-Za-z]?\b"
)
_MILITARY_SEG_RE = re.compile(r"(?:APO|FPO|DPO)\b")
_CITY_SEG_RE = re.compile(
    rf"{CAP_WORD}\b(?:[ \t]+(?:{CAP_WORD}|de|di|la|le|am|an|upon|on)\b){{0,3}}"
)
_STATE_SEG_RE = re.compile(r"[A-Z]{2}\b")
# A postcode part, unless more digits follow on its line (then it is a phone number's start).
_ZIP_SEG_RE = re.compile(r"\d{3,6}(?:-\d{3,4})?\b(?![ \t]*\d)")
# UK ("NW1 6XE"), Canadian ("K1A 0B1") and Dutch ("1012 AB") postcodes.
_POSTCODE_SEG_RE = re.compile(
    r"(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4} ?[A-Z]{2})\b"
)
_SEGMENT_RES = (_UNIT_SEG_RE, _MILITARY_SEG_RE, _POSTCODE_SEG_RE, _ZIP_SEG_RE, _STATE_SEG_RE)
_REGION_NUMBER_RE = re.compile(r"\d{1,2}\b")
_HOUSE_NUMBER_RE = re.compile(r"[ \t]+\d{1,5}[A-Za-z]?\b(?:\.(?=[ \t]*(?:\n|,|Apt|Suite|Unit)))?")
_STREET_TAIL_RE = re.compile(
    rf"(?:{CAP_WORD}[ \t]+){{1,2}}(?i:{_STREET_ALT}|squares|streets|extensions?|gateway|heights|"
    rf"crossing|junction|meadows|villages?|passage|roads|lanes|drives|courts)\b"
)


def find_addresses(text: str) -> Iterator[Entity]:
    for regex in _CORE_RES:
        for m in regex.finditer(text):
            end = m.end()
            last = text[m.start() : end].split()[-1]
            if last.endswith(".") and last[:-1].lower() not in _STREET_ABBREVIATIONS:
                end -= 1  # "Road." ends a sentence; "St." is an abbreviation
            end = _extend(text, end)
            start = m.start()
            leading = _LEADING_NUMBER_RE.search(text, 0, start)
            if leading is not None:
                start = leading.start()  # "1987 74 Diakou Street": a building number first
            yield Entity(start, end, et.ADDRESS, 0.85, text[start:end])
    for m in _ZIP_RE.finditer(text):
        if has_context(text, m.start(), ("zip", "postal code", "postcode", "post code"), 20):
            yield Entity(m.start(), m.end(), et.ADDRESS, 0.75, m.group())


def _extend(text: str, end: int) -> int:
    """Extend an address over the unit, city, state, postcode and country parts that follow.

    A line break or a comma starts a new part freely; on the same line only a unit, a postcode,
    a state code or (after a unit or postcode) a place name carries the address on, so a
    sentence that merely continues after an address is not swallowed.
    """
    after_part = False  # the last part was a unit or a postcode
    number = _HOUSE_NUMBER_RE.match(text, end)
    if number is not None:
        end = number.end()  # "Hegedûs Gyula utca 76.": the house number after the street
        after_part = True
    for _ in range(8):
        sep = _SEPARATOR_RE.match(text, end)
        separator = sep.group() if sep else ""
        if not separator:
            break
        at = end + len(separator)
        new_line = "\n" in separator or "," in separator
        # A sentence may end at "Rd."; on the same line only a unit or a postcode carries on.
        same_line_after_period = text[end - 1] == "." and not new_line
        if same_line_after_period:
            segments: tuple[re.Pattern[str], ...] = (_UNIT_SEG_RE, _ZIP_RE)
        elif new_line:
            segments = (*_SEGMENT_RES, _REGION_NUMBER_RE)
        else:
            segments = _SEGMENT_RES
        seg = next((m for m in (regex.match(text, at) for regex in segments) if m), None)
        if seg is not None:
            after_part = seg.re is not _STATE_SEG_RE
        elif new_line or (after_part and not same_line_after_period):
            city = _CITY_SEG_RE.match(text, at)
            if city is not None and not common(city.group().split()[0]):
                seg = city
                after_part = False
        elif not same_line_after_period:
            # "14 Crown Street Kishiev Squares": a second street name on the same line.
            seg = _STREET_TAIL_RE.match(text, at)
        if seg is None:
            break
        end = seg.end()
    return end
