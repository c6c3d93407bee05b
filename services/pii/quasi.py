"""Quasi-identifiers: URLs, ages, dates, places, nationalities, organisations and occupations.

None identifies a person alone, but together they can; the service masks them only when
``PiiSettings.masked_types`` lists them (a health-insurance pack may mask ages and dates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.pii import entities as et
from services.pii import wordlists
from services.pii.entities import Entity
from services.pii.identifiers import DATE_RE
from services.pii.lexicon import CAP_WORD, WORD_RE, common, plural_of

_URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]")
_AGE_RE = re.compile(
    r"\b(?P<age_after>\d{1,3})(?=[ -]?(?:years?|yrs?|y/?o)\b)"
    r"|(?i:\b(?:age(?:d| of|:)?|is a))[ \t]+(?P<age_before>\d{1,3})\b(?![(%$]|\s*percent)"
)
_WEEKDAY_RE = re.compile(
    r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday)\b"
)
_YEAR_RE = re.compile(
    r"(?i:\b(?:in|since|of|during|from|until|by|year|founded|born)[ \t]+)(?P<year>(?:19|20)\d{2})\b"
)
_PLACE_CUE_RE = re.compile(
    r"(?i:\b(?:i am in|i'm in|i live in|lives? in|living in|located in|based in|"
    r"travel(?:l?ing)? to|fl(?:y|ew|ying) to|moved to|from|visit(?:ing)?|returned to|city of|"
    r"town of))"
    rf"[ \t]+(?P<place>{CAP_WORD}(?:[ \t]+(?:de|da|do|del|la|le|am|an|{CAP_WORD})){{0,2}})"
)
_ORG_RE = re.compile(
    rf"\b(?:{CAP_WORD}[ \t,]+){{0,3}}?{CAP_WORD}[ \t]+(?:Inc\.?|LLC|Ltd\.?|Limited|Corp\.?|"
    r"Corporation|Group|GmbH|AG|PLC|plc|Company|Partners|Software|Research|Consulting|Systems|"
    r"Technologies|Solutions|Labs|Bank|Holdings|Industries|Ventures|Associates|and Sons|"
    r"Foundation|Institute|University)(?![\w])"
    # "Hawkins, Richardson and Santana": a partnership's name.
    rf"|\b{CAP_WORD},[ \t]+{CAP_WORD}[ \t]+and[ \t]+{CAP_WORD}\b"
)


# "I work for Citigroup", "employed by Chemical Abstracts Service": an employer after its cue.
_EMPLOYER_RE = re.compile(
    r"(?i:\b(?:work(?:s|ed|ing)?[ \t]+(?:for|at)|employed[ \t]+(?:by|at)|employer[ \t]+is|"
    r"job[ \t]+at))"
    rf"[ \t]+(?P<org>{CAP_WORD}(?:[ \t]+{CAP_WORD}){{0,3}})"
)


# A job title: an occupation's head noun after up to five modifiers ("Local transit bus driver",
# "Children's librarian", "Court, municipal, and license clerk"), or before "of" and what it
# heads ("Director of human resources").
_TITLE_WORD = r"[^\W\d_]+(?:['’-][^\W\d_]+)*"
_HEAD = (
    "(?:"
    + "|".join(sorted(wordlists.OCCUPATIONS, key=len, reverse=True))
    + rf"|[^\W\d_]+(?:{'|'.join(wordlists.OCCUPATION_SUFFIXES)}))"
)
# A line that holds a job title and nothing else: a signature's or a CV's line under the name.
_TITLE_LINE_RE = re.compile(
    rf"^[ \t>]*(?P<title>(?:{_TITLE_WORD}(?:,?[ \t]+|[ \t]*-[ \t]*)){{0,5}}{_HEAD}"
    rf"(?:[ \t]+(?:of|for)(?:[ \t]+{_TITLE_WORD}){{1,3}})?)[ \t]*[.,]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# A job title after its cue: "Marie, the technical writer, said", "I work as a bus driver",
# "I'm a nurse", "occupation: accountant".
_TITLE_CUE_RE = re.compile(
    r"(?:,[ \t]+the|\bas[ \t]+an?|\b(?:i[ \t]+am|i'm|is|was)[ \t]+an?|"
    r"\b(?:job[ \t]+title|occupation|profession)[ \t]*(?::|is))"
    rf"[ \t]+(?P<title>(?:{_TITLE_WORD}[ \t]+){{0,3}}{_HEAD})(?![\w'’-])",
    re.IGNORECASE,
)
# Words no job title holds: a line or a phrase with one is a sentence, not a title.
_NOT_IN_TITLES = frozenset(
    """
    i me my you your we our he she it they his her its their the a an this that is are was am
    be been have has had do does did will would can could to from with at in on by about
    not no yes please thanks thank hi hello dear regards best sincerely cheers
    """.split()
)


def find_occupations(text: str) -> Iterator[Entity]:
    """Job titles (OCCUPATION): a line holding one alone, or one after a cue.

    A name on its own line is no title even when its last word is one ("John Baker", "Kyle
    Cook"): a title whose other words hold a given name or an honorific is left to the names.
    """
    for regex, score in ((_TITLE_LINE_RE, 0.75), (_TITLE_CUE_RE, 0.7)):
        for m in regex.finditer(text):
            title = m.group("title")
            words = [w.lower() for w in WORD_RE.findall(title)]
            if any(
                w in _NOT_IN_TITLES or w in wordlists.FIRST_NAMES or w in wordlists.TITLES
                for w in words
            ):
                continue
            yield Entity(m.start("title"), m.end("title"), et.OCCUPATION, score, title)


def find_quasi_identifiers(text: str) -> Iterator[Entity]:
    for m in _URL_RE.finditer(text):
        yield Entity(m.start(), m.end(), et.URL, 0.9, m.group())
    for m in _AGE_RE.finditer(text):
        group = "age_after" if m.group("age_after") else "age_before"
        if int(m.group(group)) <= 120:
            yield Entity(m.start(group), m.end(group), et.AGE, 0.8, m.group(group))
    for m in DATE_RE.finditer(text):
        # A full timestamp is unambiguous; a bare date could be part of a longer number.
        score = 0.85 if ":" in m.group() else 0.7
        yield Entity(m.start(), m.end(), et.DATE, score, m.group())
    for m in _WEEKDAY_RE.finditer(text):
        yield Entity(m.start(), m.end(), et.DATE, 0.6, m.group())
    for m in _YEAR_RE.finditer(text):
        yield Entity(m.start("year"), m.end("year"), et.DATE, 0.6, m.group("year"))
    yield from _gazetteer(text)
    for m in _PLACE_CUE_RE.finditer(text):
        place = m.group("place")
        if not common(place.split()[0]):
            yield Entity(m.start("place"), m.end("place"), et.LOCATION, 0.55, place)
    for m in _ORG_RE.finditer(text):
        yield Entity(m.start(), m.end(), et.ORGANIZATION, 0.65, m.group())
    for m in _EMPLOYER_RE.finditer(text):
        org = m.group("org")
        if not common(org.split()[0]):
            yield Entity(m.start("org"), m.end("org"), et.ORGANIZATION, 0.6, org)
    yield from find_occupations(text)


def _gazetteer(text: str) -> Iterator[Entity]:
    """Countries and cities (up to three words) and nationalities (one word, or its plural)."""
    words = list(WORD_RE.finditer(text))
    i = 0
    while i < len(words):
        step = 1
        for n in (3, 2, 1):
            run = words[i : i + n]
            gaps = [text[a.end() : b.start()] for a, b in zip(run, run[1:], strict=False)]
            if len(run) < n or any(gap not in (" ", "\t") for gap in gaps):
                continue
            phrase = text[run[0].start() : run[-1].end()]
            lowered = phrase.lower()
            if lowered in wordlists.COUNTRIES or (
                lowered in wordlists.CITIES and phrase[0].isupper()
            ):
                yield Entity(run[0].start(), run[-1].end(), et.LOCATION, 0.7, phrase)
                step = n
                break
            if n == 1 and plural_of(lowered, wordlists.NATIONALITIES):
                yield Entity(run[0].start(), run[0].end(), et.NATIONALITY, 0.7, phrase)
        i += step
