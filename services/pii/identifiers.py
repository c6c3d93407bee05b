"""Recognisers of formatted identifiers: emails, cards, IBANs, national ids, phones, IPs, DOBs.

Checksummed identifiers are validated with ``python-stdnum`` (Luhn for cards, ISO 13616 for
IBANs, the SSA rules for SSNs, the national check digits elsewhere) and phone numbers with
``phonenumbers``. Identifiers without a checksum (passport, driver's licence, bank account) need
a context word before them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.ca import sin as ca_sin
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.gb import nhs as gb_nhs
from stdnum.in_ import aadhaar as in_aadhaar
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.us import rtn as us_rtn
from stdnum.us import ssn as us_ssn

from services.pii import entities as et
from services.pii.entities import Entity
from services.pii.lexicon import has_context

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# A run of digit groups separated by single spaces or hyphens; cards are looked for inside it.
_DIGIT_RUN_RE = re.compile(r"(?<![\d-])\d+(?:[ -]\d+)*")
_GROUP_RE = re.compile(r"\d+")
_IBAN_RES = (
    re.compile(r"\b[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}\b"),
    # The printed form, in groups of four: "GB82 WEST 1234 5698 7654 32".
    re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?\b"),
)
_SSN_RE = re.compile(r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])")
_NINE_DIGITS_RE = re.compile(r"(?<![\d-])\d{9}(?![\d-])")
# UK National Insurance number; the excluded prefixes are never issued.
_NINO_RE = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
)
_CODICE_FISCALE_RE = re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b")
_DNI_RE = re.compile(r"\b(?:\d{8}|[XYZ]\d{7})-?[A-Z]\b")
_IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6_RE = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![:\w])")
# An upper-case alphanumeric id with at least one digit (passport, licence, national id).
_ALNUM_ID_RE = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{4,17}[A-Z0-9]\b")
_DIGITS_RE = re.compile(r"(?<![\d-])\d{6,17}(?![\d-])")
# "+1-984-182-0190", "+46 (0)8 928 571 38", "(99) 645-791", "0490 39 07 81", "07700900123".
_PHONE_CANDIDATE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(0\)[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?"
    r"\d{1,8}(?:[ .-]\d{1,8}){0,5}(?![\w])"
)
#: the month names and abbreviations, as a regex alternation (no groups that capture)
MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
# ISO dates (with an optional time), numeric dates, "12 March 1990", "March 12, 1990".
DATE_RE = re.compile(
    rf"(?i)\b(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}(?:[ T]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?"
    rf"|\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\.?,?\s+\d{{4}}"
    rf"|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b"
)

_PHONE_CONTEXT = (
    "phone",
    "call",
    "tel",
    "mobile",
    "cell",
    "fax",
    "number",
    "reach me",
    "text me",
    "whatsapp",
    "sms",
    "messages to",
    "contact",
    "registered",
)
_PHONE_AFTER = ("office", "fax", "mobile", "home", "work", "cell")
_DOB_CONTEXT = ("born", "date of birth", "birth date", "birthdate", "dob", "birthday", "d.o.b")


@dataclass(frozen=True)
class _ContextId:
    """An identifier format recognised only after a context word."""

    type: str
    regex: re.Pattern[str]
    context: tuple[str, ...]
    score: float
    window: int = 40
    validate: Callable[[str], bool] | None = None


def _valid(module: object) -> Callable[[str], bool]:
    check: Callable[[str], bool] = module.is_valid  # type: ignore[attr-defined]
    return check


_CONTEXT_IDS: tuple[_ContextId, ...] = (
    _ContextId(et.SSN, _NINE_DIGITS_RE, ("ssn", "social security"), 0.85, validate=_valid(us_ssn)),
    _ContextId(et.PASSPORT, _ALNUM_ID_RE, ("passport",), 0.85),
    _ContextId(
        et.DRIVER_LICENSE,
        _ALNUM_ID_RE,
        (
            "driver's license",
            "drivers license",
            "driver license",
            "driving licence",
            "driver's licence",
            "license number",
            "licence number",
            "license no",
            "dl#",
            "dl no",
        ),
        0.85,
    ),
    _ContextId(et.BANK_ACCOUNT, _NINE_DIGITS_RE, ("routing", "aba"), 0.9, validate=_valid(us_rtn)),
    _ContextId(
        et.BANK_ACCOUNT,
        _DIGITS_RE,
        ("account number", "account no", "account #", "acct", "bank account", "a/c", "sort code"),
        0.75,
    ),
    _ContextId(
        et.NATIONAL_ID,
        re.compile(r"\b\d{3} ?\d{3} ?\d{4}\b"),
        ("nhs",),
        0.85,
        validate=_valid(gb_nhs),
    ),
    _ContextId(
        et.NATIONAL_ID,
        re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{3}\b"),
        ("sin", "social insurance"),
        0.85,
        validate=_valid(ca_sin),
    ),
    _ContextId(
        et.NATIONAL_ID,
        re.compile(r"\b\d{9}\b"),
        ("bsn", "burgerservicenummer"),
        0.85,
        validate=_valid(nl_bsn),
    ),
    _ContextId(
        et.NATIONAL_ID,
        re.compile(r"\b\d{4} ?\d{4} ?\d{4}\b"),
        ("aadhaar", "aadhar"),
        0.85,
        validate=_valid(in_aadhaar),
    ),
    _ContextId(
        et.NATIONAL_ID,
        _ALNUM_ID_RE,
        (
            "national id",
            "id number",
            "identity number",
            "identity card",
            "id card",
            "national insurance",
        ),
        0.7,
    ),
)


def find_emails(text: str) -> Iterator[Entity]:
    for m in _EMAIL_RE.finditer(text):
        yield Entity(m.start(), m.end(), et.EMAIL, 1.0, m.group())


def find_cards(text: str) -> Iterator[Entity]:
    """12-19 digits passing Luhn, anywhere in a run of digit groups.

    A card can sit next to other numbers ("IBAN ... 32 4111 1111 1111 1111"), so every window of
    whole groups is a candidate, not only the longest match: one ungrouped number, or groups of
    3-6 digits (4-4-4-4, 4-6-5) with a shorter last one. Overlap resolution keeps the longest.
    """
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = [
            (run.start() + m.start(), run.start() + m.end())
            for m in _GROUP_RE.finditer(run.group())
        ]
        for first in range(len(groups)):
            digits = 0
            for last in range(first, len(groups)):
                if last > first and not 3 <= groups[last - 1][1] - groups[last - 1][0] <= 6:
                    break  # only the last group of a card may be short
                digits += groups[last][1] - groups[last][0]
                if digits > 19:
                    break
                start, end = groups[first][0], groups[last][1]
                number = re.sub(r"[ -]", "", text[start:end])
                # A run of one digit passes Luhn ("0000 0000 0000 0000") but is no card.
                if digits >= 12 and luhn.is_valid(number) and len(set(number)) > 1:
                    yield Entity(start, end, et.CARD, 0.95, text[start:end])


def find_ibans(text: str) -> Iterator[Entity]:
    for regex in _IBAN_RES:
        for m in regex.finditer(text):
            value = m.group()
            # The printed form may run into following groups of digits: drop them one by one.
            while len(value) > 15 and not stdnum_iban.is_valid(value.upper()):
                value = value.rsplit(" ", 1)[0] if " " in value else ""
            if value and stdnum_iban.is_valid(value.upper()):
                yield Entity(m.start(), m.start() + len(value), et.IBAN, 1.0, value)


def find_national_ids(text: str) -> Iterator[Entity]:
    for m in _SSN_RE.finditer(text):
        if us_ssn.is_valid(m.group().replace(" ", "-")):
            cued = has_context(text, m.start(), ("ssn", "social security"), 40)
            yield Entity(m.start(), m.end(), et.SSN, 0.95 if cued else 0.8, m.group())
    for m in _NINO_RE.finditer(text):
        yield Entity(m.start(), m.end(), et.NATIONAL_ID, 0.85, m.group())
    for m in _CODICE_FISCALE_RE.finditer(text):
        if it_cf.is_valid(m.group()):
            yield Entity(m.start(), m.end(), et.NATIONAL_ID, 0.9, m.group())
    for m in _DNI_RE.finditer(text):
        if es_dni.is_valid(m.group()) or es_nie.is_valid(m.group()):
            yield Entity(m.start(), m.end(), et.NATIONAL_ID, 0.85, m.group())


def find_context_ids(text: str) -> Iterator[Entity]:
    """Passport, driver's licence, bank account and national ids announced by a context word."""
    for spec in _CONTEXT_IDS:
        for m in spec.regex.finditer(text):
            if not has_context(text, m.start(), spec.context, spec.window):
                continue
            if spec.validate is not None and not spec.validate(m.group()):
                continue
            yield Entity(m.start(), m.end(), spec.type, spec.score, m.group())


def find_ips(text: str) -> Iterator[Entity]:
    for regex in (_IPV4_RE, _IPV6_RE):
        for m in regex.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            yield Entity(m.start(), m.end(), et.IP_ADDRESS, 0.9, m.group())


def _phone_context(text: str, start: int, end: int) -> bool:
    after = text[end : end + 12].lower()
    return has_context(text, start, _PHONE_CONTEXT, 40) or any(
        re.match(rf"\W{{0,3}}{word}", after) for word in _PHONE_AFTER
    )


def find_phones(text: str, regions: Sequence[str]) -> Iterator[Entity]:
    """Phone numbers: candidates by shape, checked with ``phonenumbers`` against each region.

    A number valid in one of the regions (with at least nine digits, or international) scores
    higher; a shorter or merely possible one, or a local format no region parses
    ("60-56-85-91"), needs a context word. A candidate that runs into other numbers ("+44 20
    7946 0958 4111 1111 ...") is also tried cut back group by group. ``PhoneNumberMatcher`` is
    not used: on long digit-heavy texts it takes seconds per region.
    """
    position = 0
    while (m := _PHONE_CANDIDATE_RE.search(text, position)) is not None:
        position = m.end()
        ends = [m.start() + g.end() for g in _GROUP_RE.finditer(m.group())]
        # Every qualifying prefix is a candidate; overlap resolution picks among them and the
        # numbers around them. Scanning resumes after the shortest, so a second phone number
        # in the same run is found too.
        for end in reversed(ends):
            raw = text[m.start() : end]
            score = _phone_score(raw, regions)
            if score < 0.8 and not (score and _phone_context(text, m.start(), end)):
                continue
            yield Entity(m.start(), end, et.PHONE, score, raw)
            position = end


def _phone_score(raw: str, regions: Sequence[str]) -> float:
    """0.8 valid, 0.7 possible or short, 0.65 phone-shaped only, 0 not a phone number."""
    return _cached_phone_score(raw, tuple(regions))


# Parsing is the costly part (about 20 µs per region); texts repeat numbers (signatures, tables).
@functools.lru_cache(maxsize=4096)
def _cached_phone_score(raw: str, regions: tuple[str, ...]) -> float:
    digits = sum(ch.isdigit() for ch in raw)
    if not 7 <= digits <= 15:
        return 0.0
    score = 0.65
    for region in regions:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            # Short local numbers look like many other figures; they need context too.
            return 0.8 if digits >= 9 or raw.startswith("+") else 0.7
        if phonenumbers.is_possible_number(number):
            score = 0.7
    return score


def find_dobs(text: str) -> Iterator[Entity]:
    """Dates announced as a birth date; other dates are quasi-identifiers (DATE)."""
    for m in DATE_RE.finditer(text):
        if has_context(text, m.start(), _DOB_CONTEXT, 40):
            yield Entity(m.start(), m.end(), et.DOB, 0.9, m.group())
