"""The day a customer names: "tomorrow", "Friday", "the 28th", "Nov 28", "the day after".

A flow's slot with ``transform: date`` reads the words its patterns matched with :func:`named_day`.
A day named on its own ("Friday", "the 28th") is the next such day from today; a day named against
the day already under discussion ("the day after", "two days later", "the day before") is not known
here, so it is returned as an offset, ``+1`` or ``-2``, for a step reference's ``day:`` segment to
apply to that day (``${steps.trip.segments.0.date.day:${slots.travel_date}}``; see
:mod:`services.tool_broker.references`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from services.tool_broker.dates import MONTHS
from services.tool_broker.references import DAY_OFFSET

WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for name in names
}
ORDINAL_DAY = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)")

_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_LATER = frozenset(("after", "later"))
_EARLIER = frozenset(("before", "earlier"))
_WORD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[a-z0-9]+")


def named_day(text: str, today: date) -> str:
    """The day the words name: an ISO date, an offset from the day under discussion (``+1``,
    ``-1``), or "" when they name none.

    - "2026-11-27"; "today", "tonight", "tomorrow", "the day after tomorrow";
    - "Friday", "next Friday": the coming Friday, never today (said on a Sunday, "next Tuesday" is
      the coming Tuesday, its usual reading);
    - "the 28th": the next 28th from today; "Nov 28", "28 November", "the 28th of November":
      that day this year, or next year once it has passed;
    - "the day after", "the next day", "the following day", "a day later", "two days later": +N;
      "the day before", "a day earlier": -N.
    """
    words = _WORD.findall(text.casefold().replace("’", "'"))
    words = [w for w in words if w not in ("the", "on", "for", "of", "s")]
    if not words:
        return ""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", words[0]):
        try:
            return date.fromisoformat(words[0]).isoformat()
        except ValueError:
            return ""
    if words[:3] == ["day", "after", "tomorrow"]:
        return (today + timedelta(days=2)).isoformat()
    if words[0] in ("today", "tonight"):
        return today.isoformat()
    if words[0] == "tomorrow":
        return (today + timedelta(days=1)).isoformat()
    offset = _offset(words)
    if offset is not None:
        return f"{offset:+d}"
    weekday = WEEKDAYS.get(words[-1].removesuffix("s"))
    if weekday is not None:
        return (today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)).isoformat()
    return _calendar_day(words, today)


def _offset(words: list[str]) -> int | None:
    """Days from the day under discussion: "next day" +1, "day before" -1, "2 days later" +2."""
    if words in (["next", "day"], ["following", "day"], ["day", "after"]):
        return 1
    if words == ["day", "before"]:
        return -1
    if len(words) == 3 and words[1] in ("day", "days") and words[2] in _LATER | _EARLIER:
        count = _COUNTS.get(words[0]) or (int(words[0]) if words[0].isdigit() else 0)
        if count:
            return count if words[2] in _LATER else -count
    return None


def _calendar_day(words: list[str], today: date) -> str:
    """ "the 28th", "Nov 28", "28 November": the next such day from today, or ""."""
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    days = [d for w in words if (d := day_number(w)) is not None]
    if len(days) != 1 or (month is None and ORDINAL_DAY.fullmatch(_day_word(words)) is None):
        return ""
    day = days[0]
    if month is not None:
        for year in (today.year, today.year + 1):
            found = _day(year, month, day)
            if found is not None and found >= today:
                return found.isoformat()
        return ""
    year, month = today.year, today.month
    for _ in range(13):
        found = _day(year, month, day)
        if found is not None and found >= today:
            return found.isoformat()
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ""


def _day_word(words: list[str]) -> str:
    return next((w for w in words if day_number(w) is not None), "")


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def day_number(word: str) -> int | None:
    """The day of the month a word names: "14th" or "14" -> 14; None for anything else."""
    match = ORDINAL_DAY.fullmatch(word)
    digits = match.group(1) if match else word if word.isdigit() and len(word) <= 2 else ""
    return int(digits) if digits and 1 <= int(digits) <= 31 else None


def counted_from(before: str, day: str) -> str:
    """``day`` as :func:`named_day` read it, where an offset counts from ``before`` (the day asked
    about last, itself a date or an offset): "+1" after "2026-11-27" is "2026-11-28", after "+3"
    it is "+4". A date named outright stands as it is."""
    if not DAY_OFFSET.fullmatch(day):
        return day
    if DAY_OFFSET.fullmatch(before):
        return f"{int(before) + int(day):+d}"
    try:
        return (date.fromisoformat(before) + timedelta(days=int(day))).isoformat()
    except ValueError:
        return day
