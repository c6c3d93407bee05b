"""Reference data the generated world draws from: airports, names, dental procedures, plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

AIRPORTS = {
    "ATL": "Atlanta",
    "BOS": "Boston",
    "DEN": "Denver",
    "DFW": "Dallas/Fort Worth",
    "EWR": "Newark",
    "IAH": "Houston",
    "JFK": "New York",
    "LAS": "Las Vegas",
    "LAX": "Los Angeles",
    "MIA": "Miami",
    "MSP": "Minneapolis",
    "ORD": "Chicago",
    "PHX": "Phoenix",
    "SEA": "Seattle",
    "SFO": "San Francisco",
    "DCA": "Washington",
}

#: each airport's IANA time zone: schedules are kept in UTC, drawn and shown in the airport's
#: local time
TIMEZONES = {
    "ATL": "America/New_York",
    "BOS": "America/New_York",
    "DEN": "America/Denver",
    "DFW": "America/Chicago",
    "EWR": "America/New_York",
    "IAH": "America/Chicago",
    "JFK": "America/New_York",
    "LAS": "America/Los_Angeles",
    "LAX": "America/Los_Angeles",
    "MIA": "America/New_York",
    "MSP": "America/Chicago",
    "ORD": "America/Chicago",
    "PHX": "America/Phoenix",
    "SEA": "America/Los_Angeles",
    "SFO": "America/Los_Angeles",
    "DCA": "America/New_York",
}


def local_zone(airport: str) -> tzinfo:
    """The airport's time zone; UTC where it is unknown or the system has no zone database."""
    try:
        return ZoneInfo(TIMEZONES[airport])
    except (KeyError, ZoneInfoNotFoundError):
        return UTC


CARRIERS = {"UA": "United Airlines", "DL": "Delta Air Lines", "AA": "American Airlines"}

DELAY_REASONS = (
    "weather: thunderstorms along the route",
    "late inbound aircraft",
    "air traffic control restrictions",
    "crew scheduling",
    "maintenance check",
)

CANCELLATION_REASONS = (
    "weather: winter storm at the origin airport",
    "mechanical: aircraft out of service",
    "crew unavailable",
)

FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Elijah Sophia James Isabella William Mia Benjamin Charlotte Lucas "
    "Amelia Henry Harper Alexander Evelyn Daniel Abigail Matthew Emily Jackson Ella Sebastian "
    "Aria David Scarlett Joseph Grace Samuel Chloe Carter Layla Owen Riley Wyatt Zoey John Nora "
    "Luke Lily Gabriel Hannah Anthony Priya Isaac Mei Dylan Fatima Leo Aisha Mateo Sofia Hiro "
    "Yuki Omar Ana Diego Lena Arjun Chen Kofi Nia Tomas Ingrid"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen "
    "Okafor Mensah Novak Kowalski Schmidt Rossi Silva Tanaka Haddad Johansson Murphy"
).split()

CITIES = (
    ("Springfield", "IL", "62701"),
    ("Oakland", "CA", "94612"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Portland", "OR", "97205"),
    ("Madison", "WI", "53703"),
    ("Raleigh", "NC", "27601"),
    ("Tampa", "FL", "33602"),
)

SPECIALTIES = (
    "general_dentistry",
    "general_dentistry",
    "general_dentistry",
    "pediatric_dentistry",
    "orthodontics",
    "endodontics",
    "periodontics",
    "oral_surgery",
)


@dataclass(frozen=True)
class Procedure:
    """A CDT procedure code, the class of benefit it falls in and how often a plan pays for it."""

    code: str
    name: str
    procedure_class: str  # preventive | basic | major | orthodontics
    typical_fee_cents: int
    frequency: str | None = None
    prior_authorization: bool = False


PROCEDURES = {
    p.code: p
    for p in (
        Procedure("D0120", "periodic oral evaluation", "preventive", 6500, "twice per year"),
        Procedure("D0150", "comprehensive oral evaluation", "preventive", 9500, "once per 3 years"),
        Procedure(
            "D0274", "bitewings, four radiographic images", "preventive", 7500, "once per year"
        ),
        Procedure("D1110", "prophylaxis (cleaning), adult", "preventive", 11000, "twice per year"),
        Procedure("D2391", "resin-based composite, one surface, posterior", "basic", 19500),
        Procedure("D3330", "root canal, molar", "basic", 125000),
        Procedure("D4341", "scaling and root planing, per quadrant", "basic", 26000),
        Procedure("D7140", "extraction, erupted tooth", "basic", 22000),
        Procedure(
            "D2740", "crown, porcelain/ceramic", "major", 145000, "once per tooth per 5 years"
        ),
        Procedure(
            "D2750",
            "crown, porcelain fused to high noble metal",
            "major",
            138000,
            "once per tooth per 5 years",
        ),
        Procedure("D6010", "endosteal implant", "major", 320000, None, True),
        Procedure(
            "D8080",
            "comprehensive orthodontic treatment, adolescent",
            "orthodontics",
            560000,
            None,
            True,
        ),
    )
}

PLANS = (
    # plan_id, name, annual maximum, deductible, coverage %, waiting months
    (
        "PLAN-PPO-PLUS",
        "Switchboard Dental PPO Plus",
        200000,
        5000,
        {"preventive": 100, "basic": 80, "major": 50, "orthodontics": 50},
        {"preventive": 0, "basic": 0, "major": 12, "orthodontics": 12},
    ),
    (
        "PLAN-PPO-BASIC",
        "Switchboard Dental PPO Basic",
        100000,
        7500,
        {"preventive": 100, "basic": 70, "major": 0, "orthodontics": 0},
        {"preventive": 0, "basic": 6, "major": 0, "orthodontics": 0},
    ),
    (
        "PLAN-DHMO",
        "Switchboard Dental HMO",
        150000,
        0,
        {"preventive": 100, "basic": 80, "major": 40, "orthodontics": 0},
        {"preventive": 0, "basic": 0, "major": 6, "orthodontics": 0},
    ),
)
