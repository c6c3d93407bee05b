"""Small helpers that render records as the JSON the contracts describe."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def iso_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix."""
    return value.isoformat().replace("+00:00", "Z")


def local_datetime(value: datetime, zone: str | None) -> str | None:
    """RFC 3339 in the IANA ``zone``'s local time, with its offset; None without a zone, or on a
    system whose time zone database lacks it (the field is then left out)."""
    if not zone:
        return None
    try:
        return value.astimezone(ZoneInfo(zone)).isoformat()
    except ZoneInfoNotFoundError:
        return None


def iso_date(value: date) -> str:
    return value.isoformat()


def maybe_datetime(value: datetime | None) -> str | None:
    return iso_datetime(value) if value is not None else None


def parse_date(value: str | None) -> date | None:
    """A date parameter the contract already validated, or None."""
    return date.fromisoformat(value) if value else None
