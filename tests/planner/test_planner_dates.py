"""The day a customer names (``transform: date``), and a rebooking asked for another day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from services.planner.dates import counted_from, named_day
from services.planner.flows import FlowBook
from services.planner.plans import StepResult

#: a Wednesday
TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("words", "day"),
    [
        ("2026-11-27", "2026-11-27"),
        ("today", "2026-11-25"),
        ("tomorrow", "2026-11-26"),
        ("tomorrow's", "2026-11-26"),
        ("the day after tomorrow", "2026-11-27"),
        ("friday", "2026-11-27"),
        ("next Friday", "2026-11-27"),
        # A weekday is the coming one, never today.
        ("Wednesday", "2026-12-02"),
        ("the 28th", "2026-11-28"),
        ("on the 3rd", "2026-12-03"),
        ("the 31st", "2026-12-31"),
        ("Nov 28", "2026-11-28"),
        ("November 28th", "2026-11-28"),
        ("28 November", "2026-11-28"),
        ("the 28th of November", "2026-11-28"),
        ("Fri 27 Nov", "2026-11-27"),
        ("friday the 27th", "2026-11-27"),
        # Passed this year: next year's.
        ("Oct 3", "2027-10-03"),
        # Counted from the day under discussion, which is not known here.
        ("the day after", "+1"),
        ("the next day", "+1"),
        ("the following day", "+1"),
        ("a day later", "+1"),
        ("two days later", "+2"),
        ("3 days later", "+3"),
        ("the day before", "-1"),
        ("a day earlier", "-1"),
        # No day.
        ("the 30th of February", ""),
        ("the 28", ""),
        ("hello", ""),
        ("", ""),
    ],
)
def test_the_day_a_customer_names(words: str, day: str) -> None:
    assert named_day(words, TODAY) == day


def _listed(book: FlowBook) -> tuple[dict[str, str], list[StepResult]]:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "rebook me please", "C-1001")
    trip = {
        "pnr": "SBX7Q2",
        "segments": [{"flight_number": "UA123", "cabin": "economy", "date": "2026-11-26"}],
    }
    flights = [
        {
            "flight_number": "UA891",
            "date": "2026-11-26",
            "scheduled_departure": "2026-11-26T21:10:00Z",
        }
    ]
    results = [
        StepResult("trips", "listCustomerReservations", "succeeded", {"reservations": [trip]}),
        StepResult("trip", "getReservation", "succeeded", trip),
        StepResult("alternatives", "searchFlights", "succeeded", {"flights": flights}),
    ]
    return {**asked, **flow.listed(asked, results)}, results


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("what about the day after?", "+1"),
        ("anything on Friday?", "2026-11-27"),
        ("how about Nov 27", "2026-11-27"),
        ("Friday?", "2026-11-27"),
        ("is there anything two days later?", "+2"),
        ("can I fly the next day instead?", "+1"),
        ("I'd rather fly on the 28th", "2026-11-28"),
        ("tomorrow morning?", "2026-11-26"),
        ("no, what about the day after?", "+1"),
        ("can you rebook me on Friday instead?", "2026-11-27"),
        ("can you rebook me onto the day after instead?", "+1"),
        ("could you look into Friday's flights for me, please?", "2026-11-27"),
        ("tomorrow's flights?", "2026-11-26"),
        ("any chance of Friday?", "2026-11-27"),
        ("I'd prefer Friday", "2026-11-27"),
        ("I would like to fly the day after instead", "+1"),
        ("perhaps on the 28th?", "2026-11-28"),
    ],
)
def test_another_day_answers_the_listed_flights_with_that_days_search(
    book: FlowBook, text: str, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.planner.flows.date", _Today)
    flow = book.get("rebook_flight")
    assert flow is not None
    known, _ = _listed(book)
    assert "new_flight" in flow.awaited(known)
    # Not a choice from the list, and not one asked again: the flow's answer, another day's list.
    assert flow.answers(known, text, "C-1001"), text
    assert flow.undecided(known, text) == [], text
    filled = flow.fill(known, text, "C-1001", flow.awaited(known), answered=True)
    assert filled["travel_date"] == when
    assert "new_flight" not in filled
    assert flow.missing(filled, "C-1001") == []
    steps = {s.id: s for s in flow.steps(filled, "C-1001")}
    assert "rebook" not in steps
    assert steps["alternatives"].arguments["date"] == (
        "${steps.trip.segments.0.date.day:" + when + "}"
    )


def test_the_day_asked_for_is_kept_for_the_answer_that_picks_a_flight(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    known, _ = _listed(book)
    known = flow.fill(known, "what about the day after?", "C-1001", ["new_flight"], answered=True)
    # That turn's list, as the reply showed it, is what the answer picks from.
    later = [
        StepResult("trip", "getReservation", "succeeded", {"pnr": "SBX7Q2"}),
        StepResult(
            "alternatives",
            "searchFlights",
            "succeeded",
            {
                "flights": [
                    {"flight_number": "UA459", "scheduled_departure": "2026-11-27T08:15:00Z"},
                    {"flight_number": "UA893", "scheduled_departure": "2026-11-27T19:40:00Z"},
                ]
            },
        ),
    ]
    known = {**known, **flow.listed(known, later)}
    assert flow.answers(known, "the first one", "C-1001")
    picked = flow.fill(known, "the first one", "C-1001", ["new_flight"], answered=True)
    assert (picked["new_flight"], picked["travel_date"]) == ("UA459", "+1")
    steps = {s.id: s for s in flow.steps(picked, "C-1001")}
    assert steps["chosen"].arguments["date"] == "${steps.trip.segments.0.date.day:+1}"
    assert steps["rebook"].arguments["flight_number"] == "UA459"
    # A turn that answers nothing forgets it: the next rebooking searches the trip's own day.
    later_on = flow.fill(picked, "rebook me please", "C-1001")
    assert "travel_date" not in later_on
    search = next(s for s in flow.steps(later_on, "C-1001") if s.id == "alternatives")
    assert search.arguments["date"] == "${steps.trip.segments.0.date.day:}"


def test_another_day_after_another_day_counts_from_the_last(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    known, _ = _listed(book)
    three = flow.fill(known, "anything three days later?", "C-1001", ["new_flight"], answered=True)
    assert three["travel_date"] == "+3"
    four = flow.fill(three, "and the day after?", "C-1001", ["new_flight"], answered=True)
    assert four["travel_date"] == "+4"
    named = flow.fill(four, "what about 2026-12-01?", "C-1001", ["new_flight"], answered=True)
    assert named["travel_date"] == "2026-12-01"
    after = flow.fill(named, "the day before?", "C-1001", ["new_flight"], answered=True)
    assert after["travel_date"] == "2026-11-30"


@pytest.mark.parametrize(
    ("before", "day", "counted"),
    [
        ("+3", "+1", "+4"),
        ("+1", "-1", "+0"),
        ("2026-11-27", "+1", "2026-11-28"),
        ("2026-12-31", "+1", "2027-01-01"),
        ("+1", "2026-12-01", "2026-12-01"),
        ("", "+2", "+2"),
    ],
)
def test_an_offset_counts_from_the_day_before_it(before: str, day: str, counted: str) -> None:
    assert counted_from(before, day) == counted


def test_a_message_with_no_day_is_no_answer(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    known, _ = _listed(book)
    for text in ("what's the weather in Denver?", "thanks", "the 2nd one", "is it on time?"):
        assert "travel_date" not in flow.details(text), text
    assert not flow.answers(known, "what's the weather in Denver?", "C-1001")
    # A day named in a message about something else is no answer either.
    for text in (
        "what's the weather like in Denver today?",
        "my bag didn't arrive yesterday or today",
        "I'll call you back tomorrow about my refund",
        "I'd like to know the weather on Friday",
        "I want a refund by Friday",
    ):
        assert not flow.answers(known, text, "C-1001"), text


@pytest.mark.parametrize(
    ("text", "when"),
    [
        # The day names the trip held, whatever day the clock makes it: the trip's own is searched.
        ("My flight tomorrow got cancelled because of the storm, get me on the next one", None),
        ("our flights on Friday were cancelled, rebook us", None),
        ("my booking for the 28th was cancelled, please rebook", None),
        ("my trip tomorrow is cancelled - anything on Friday instead?", "2026-11-27"),
        ("rebook my flight to Friday", "2026-11-27"),
        ("is there a flight tomorrow instead?", "2026-11-26"),
    ],
)
def test_a_day_that_names_the_trip_held_is_no_day_to_search(
    book: FlowBook, text: str, when: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.planner.flows.date", _Today)
    flow = book.get("rebook_flight")
    assert flow is not None
    assert flow.details(text).get("travel_date") == when, text


def test_a_slot_that_refines_is_optional_and_read_from_the_text(
    load_errors: Callable[..., str],
) -> None:
    message = load_errors(
        """
industry: airline
flows:
  boarding_pass:
    slots:
      pnr: {patterns: ['([A-Z0-9]{6})'], question: 'Which code?'}
      day: {patterns: ['(tomorrow)'], transform: date, refines: true, question: 'Which day?'}
      when: {patterns: ['(friday)'], transform: date, required: false, refines: true}
    steps:
      - {id: trip, tool: getReservation, arguments: {pnr: '${slots.pnr}'}}
    replies:
      - {text: 'Done.'}
""",
        "refines.yaml",
    )
    assert "slot day: refines needs an optional slot read from the text" in message
    assert "slot when" not in message


class _Today(date):
    """The planner's clock on TODAY."""

    @classmethod
    def today(cls) -> _Today:
        return cls(TODAY.year, TODAY.month, TODAY.day)
