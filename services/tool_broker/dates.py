"""A date the customer wrote, in the form a contract's ``format: date`` wants (YYYY-MM-DD).

A placeholder the planner passed ("<DOB_1>") is restored in the tool-broker to the customer's own
words: "14 March 1988", "March 14th, 1988", "14/03/1988". A backend wants "1988-03-14". Only a
date whose reading is certain is rewritten: a month written out, a year first, or a numeric date
whose day is above 12 (14/03/1988 and 03/14/1988 read alike). "03/04/1988" is the 3rd of April in
most of the world and March 4th in the US, so it is left as written, breaks the contract and is
never sent; the flow then asks for year, month and day.
"""

from __future__ import annotations

import re
from datetime import date

#: month names and their common abbreviations ("sept" too), lower case: month number
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>[0-9]{4})"
_WRITTEN = (
    # 14 March 1988, 14th of March, 1988, 14-Mar-1988
    re.compile(rf"{_DAY}(?:\s+of)?[\s\-/]+{_MONTH}[\s,\-/]+{_YEAR}", re.IGNORECASE),
    # March 14, 1988, Mar 14th 1988
    re.compile(rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}", re.IGNORECASE),
)
# 1988-03-14, 1988/3/14, 1988.03.14: the year first is read year, month, day everywhere.
_YEAR_FIRST = re.compile(r"(?P<year>[0-9]{4})[\-/.](?P<month>[0-9]{1,2})[\-/.](?P<day>[0-9]{1,2})")
# 14/03/1988, 03-14-1988, 14.3.1988: which is the day is known only when one is above 12.
_NUMERIC = re.compile(r"(?P<a>[0-9]{1,2})[\-/.](?P<b>[0-9]{1,2})[\-/.](?P<year>[0-9]{4})")


def iso_date(text: str) -> str | None:
    """``text`` as YYYY-MM-DD when it is one date whose reading is certain, else None."""
    written = text.strip().strip(".")
    if (found := _YEAR_FIRST.fullmatch(written)) is not None:
        return _iso(found["year"], found["month"], found["day"])
    for pattern in _WRITTEN:
        if (found := pattern.fullmatch(written)) is not None:
            return _iso(found["year"], str(MONTHS[found["month"].lower()]), found["day"])
    if (found := _NUMERIC.fullmatch(written)) is not None:
        first, second = int(found["a"]), int(found["b"])
        if first > 12 >= second:
            return _iso(found["year"], found["b"], found["a"])
        if second > 12 >= first:
            return _iso(found["year"], found["a"], found["b"])
        if first == second:
            return _iso(found["year"], found["a"], found["b"])
    return None


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:  # the 31st of February, a 13th month
        return None
