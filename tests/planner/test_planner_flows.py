"""The shipped flows: every intent has one, slots are read right, failures get honest replies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from harness import SHIPPED_INTENTS, LoopThread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocks.config import MocksSettings
from mocks.server import MockCluster, start_mocks
from services.config import load_settings
from services.planner.choices import Choice, Shown, choose, chosen_position, place_names
from services.planner.flows import FlowBook
from services.planner.planner import ComposeInput, PlanInput, Planner
from services.planner.plans import Plan, Step, StepResult
from services.planner.tools import ToolIndex

INTENTS = SHIPPED_INTENTS
ALL_INTENTS = [intent for intents in INTENTS.values() for intent in intents]


def test_every_intent_has_a_flow_in_its_industry(book: FlowBook) -> None:
    assert sorted(book.names()) == sorted(ALL_INTENTS)
    for industry, intents in INTENTS.items():
        assert {book.get(i).industry for i in intents} == {industry}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Is flight UA 123 on time?", "UA123"),
        ("is ua123 delayed", "UA123"),
        ("what about UA-9", "UA9"),
        ("my flight leaves in 2 hours", None),
        ("card <CARD_1> please", None),
    ],
)
def test_flight_numbers_are_read_and_normalised(
    book: FlowBook, text: str, expected: str | None
) -> None:
    assert book.get("flight_status").extract(text).get("flight_number") == expected  # type: ignore[union-attr]


def test_reservation_codes_are_not_confused_with_flight_numbers(book: FlowBook) -> None:
    flow = book.get("cancel_reservation")
    assert flow is not None
    assert flow.extract("cancel sbx7q2 please") == {"pnr": "SBX7Q2"}
    assert flow.extract("cancel my flight UA1234") == {}
    assert flow.extract("CANCEL MY TRIP") == {}


def test_which_flight_the_7am_one(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    first = flow.fill({}, "my flight was cancelled, get me on another one", "C-1001")
    assert first == {"customer_id": "C-1001"}
    assert [s.tool for s in flow.steps(first, "C-1001")] == [
        "listCustomerReservations",
        "getReservation",
        "getFlightStatus",
        "getFareRules",
        "searchFlights",
    ]
    second = flow.fill(first, "the 7am one", "C-1001")
    assert second == {"customer_id": "C-1001", "departure_time": "07:00"}
    third = flow.fill(second, "ok, book UA 127", "C-1001")
    steps = flow.steps(third, "C-1001")
    assert [s.tool for s in steps] == [
        "listCustomerReservations",
        "getReservation",
        "searchFlights",
        "rebookReservation",
        "getBoardingPass",
        "addInteractionNote",
    ]
    # The chosen flight's date is its own, from the search it was chosen from.
    assert steps[3].arguments["flight_number"] == "UA127"
    assert steps[3].arguments["date"] == "${steps.chosen.flights.flight_number=UA127.only.date}"
    assert set(steps[4].depends_on) == {"rebook", "trip"}


def test_the_dental_office_question_fetches_eligibility_and_benefits_at_once(
    book: FlowBook,
) -> None:
    # The claim it names is claim_status's part of the answer: the planner joins that flow.
    flow = book.get("eligibility_check")
    assert flow is not None
    text = "Is member M-3001 eligible for a ceramic crown next Tuesday, and where is claim CL-9001?"
    slots = flow.fill({}, text, "P-7001")
    tuesday = date.today() + timedelta(days=1)
    while tuesday.weekday() != 1:
        tuesday += timedelta(days=1)
    assert slots == {
        "provider_id": "P-7001",
        "member_id": "M-3001",
        "procedure_code": "D2740",
        "treatment": "crown",
        "procedure_words": "ceramic crown",
        "date_of_service": tuesday.isoformat(),
    }
    steps = flow.steps(slots, "P-7001")
    assert [s.tool for s in steps] == ["checkEligibility", "getBenefits"]
    assert all(not s.depends_on for s in steps)


@pytest.mark.parametrize(
    "said",
    [
        "is a filling covered on the 3rd of December?",
        "is a filling covered on Dec 3?",
        "is a filling covered on December 3rd",
    ],
)
def test_a_treatment_date_may_be_a_day_of_the_calendar(book: FlowBook, said: str) -> None:
    flow = book.get("eligibility_check")
    assert flow is not None
    today = date.today()
    third = date(today.year, 12, 3)
    if third < today:
        third = date(today.year + 1, 12, 3)
    slots = flow.fill({}, said, "M-3001")
    assert slots["date_of_service"] == third.isoformat(), slots
    assert flow.missing(slots, "M-3001") == []


def test_a_treatment_date_counted_from_another_day_is_not_read(book: FlowBook) -> None:
    # Nothing to count from: "the day after" would give an offset, not a date.
    flow = book.get("eligibility_check")
    assert flow is not None
    slots = flow.fill({}, "is a filling covered the day after?", "M-3001")
    assert "date_of_service" not in slots
    after = flow.fill({}, "is a filling covered the day after tomorrow?", "M-3001")
    assert after["date_of_service"] == (date.today() + timedelta(days=2)).isoformat()


def test_a_customer_id_is_not_taken_for_a_provider_id(book: FlowBook) -> None:
    flow = book.get("claim_status")
    assert flow is not None
    assert flow.missing(flow.fill({}, "where is claim CL-9001?", "C-1001")) == ["provider_id"]


@pytest.mark.parametrize("intent", ALL_INTENTS)
@pytest.mark.parametrize("outcome", ["unavailable", "timed_out"])
def test_every_flow_replies_honestly_when_its_systems_are_down(
    book: FlowBook, tools: ToolIndex, intent: str, outcome: str
) -> None:
    flow = book.get(intent)
    assert flow is not None
    slots = dict.fromkeys(flow.spec.slots, "X")
    steps = flow.steps(slots, "C-1001")
    results = [StepResult(s.id, s.tool, outcome, {}, "backend unavailable") for s in steps]
    context = flow.context(slots, results)
    reply = flow.reply(context)
    assert reply
    if steps:
        assert "couldn't" in reply
        assert flow.media(context, tools) == []


#: stands in for a step's error text: a backend's problem detail or the mesh's own diagnostic
DIAGNOSTIC = "booking answered HTTP 409: Conflict: internal detail 7f3a"


@pytest.mark.parametrize("intent", ALL_INTENTS)
@pytest.mark.parametrize(
    ("outcome", "status"),
    [("failed", 400), ("failed", 403), ("failed", 404), ("failed", 409), ("failed", 500)]
    + [("rejected", 0)],
)
def test_no_reply_quotes_a_steps_error_text(
    book: FlowBook, intent: str, outcome: str, status: int
) -> None:
    flow = book.get(intent)
    assert flow is not None
    for slots in (dict.fromkeys(flow.spec.slots, "X"), {"customer_id": "C-1001", "seat": "12C"}):
        steps = flow.steps(slots, "C-1001")
        results = [StepResult(s.id, s.tool, outcome, {}, DIAGNOSTIC, status) for s in steps]
        reply = flow.reply(flow.context(slots, results))
        assert reply and "7f3a" not in reply and "Conflict" not in reply, reply


def test_a_reply_quoting_a_steps_error_fails_to_load(load_errors: Callable[..., str]) -> None:
    message = load_errors(
        """
industry: airline
flows:
  flight_status:
    steps:
      - {id: status, tool: getFlightStatus, arguments: {flight_number: UA123}}
    replies:
      - {when: steps.status.ok, text: 'Fine.'}
      - {when: "'409' in steps.status['error']", text: 'Busy.'}
      - {text: "No: {{ steps.status.error or 'it failed' }}."}
  boarding_pass:
    slots:
      pnr: {patterns: ['([A-Z0-9]{6})'], question: 'Which code?', lookup: '${steps.nowhere.pnr}'}
    steps:
      - {id: trip, tool: getReservation, arguments: {pnr: '${slots.pnr}'}}
    replies:
      - {text: 'Done.'}
""",
        "quoting.yaml",
    )
    assert message.count("flight_status: a reply quotes a step's `error`") == 2, message
    assert "boarding_pass: slot pnr: lookup names no step of the flow: 'nowhere'" in message


def test_a_reservation_code_is_looked_up_for_a_known_customer_and_asked_for_otherwise(
    book: FlowBook,
) -> None:
    for intent in ("seat_selection", "boarding_pass"):
        flow = book.get(intent)
        assert flow is not None
        # A reservation is read as its customer's, or by its code and a passenger's surname:
        # a chat that names no customer is asked for the code and the surname.
        anonymous = flow.fill({}, "my trip on UA 457 please", "")
        assert flow.missing(anonymous) == ["pnr", "last_name"]
        assert flow.missing(flow.fill({}, "seat 12C on SBX7Q2", "")) == ["last_name"]
        by_surname = flow.fill({}, "seat 12C on SBX7Q2, surname <PERSON_1>", "")
        assert flow.missing(by_surname) == []
        trip = next(s for s in flow.steps(by_surname, "") if s.id == "trip")
        assert trip.arguments == {"last_name": "<PERSON_1>", "pnr": "SBX7Q2"}
        # A number given instead: the customer's reservation is looked up (after the proof).
        assert flow.missing(flow.fill({}, "my trip on UA 457, I'm C-5607", "")) == []
        known = flow.fill({}, "my trip on UA 457 please", "C-5607")
        assert flow.missing(known, "C-5607") == []
        trips, trip, *_ = flow.steps(known, "C-5607")
        assert (trips.tool, trips.arguments) == (
            "listCustomerReservations",
            {"customer_id": "C-5607", "status": "confirmed", "flight_number": "UA457"},
        )
        # Only an unambiguous answer is used: with several reservations the step does not run.
        assert trip.arguments == {
            "customer_id": "C-5607",
            "pnr": "${steps.trips.reservations.only.pnr}",
        }
        assert trip.depends_on == ("trips",)
        named = flow.steps(flow.fill(known, "it's SBX7Q2", "C-5607"), "C-5607")
        assert (named[0].tool, named[0].arguments) == (
            "getReservation",
            {"customer_id": "C-5607", "pnr": "SBX7Q2"},
        )


@pytest.mark.parametrize("intent", ["cancel_reservation", "seat_selection", "boarding_pass"])
def test_a_code_of_letters_only_is_read_after_a_cue_or_as_the_answer_to_its_question(
    book: FlowBook, intent: str
) -> None:
    flow = book.get(intent)
    assert flow is not None
    code = "ZGGJQS"  # the booking mock issues codes of letters only
    cued = ["reservation ZGGJQS", "Booking code: ZGGJQS", "my booking is ZGGJQS please"]
    for text in cued:
        assert flow.extract(text).get("pnr") == code, text
    answers = ["ZGGJQS", "it's ZGGJQS.", "ZGGJQS please"]
    for text in answers:
        assert "pnr" not in flow.extract(text), text  # a message like any other
        assert flow.extract(text, asked=["pnr"]).get("pnr") == code, text
        assert flow.answers({}, text, "C-1001"), text
    # Words typed in capitals and flight numbers are no code, whether asked for or not.
    for text in ["THANKS", "HELLO", "OK THANKS", "MY BOOKING PLEASE", "UA1234", "on UA 457"]:
        assert "pnr" not in flow.extract(text, asked=["pnr"]), text
        assert not flow.answers({}, text, "C-1001"), text
    # Known already, the code is not waited for: a later message is no answer.
    assert not flow.answers({"pnr": "SBX7Q2"}, code, "C-1001")


def test_answer_patterns_belong_to_a_required_slot_from_text(
    load_errors: Callable[..., str],
) -> None:
    message = load_errors(
        """
industry: airline
flows:
  boarding_pass:
    slots:
      pnr: {patterns: ['([A-Z0-9]{6})'], question: 'Which code?', answer_patterns: ['^(\\w+)$']}
      flight: {patterns: ['(UA[0-9]+)'], required: false, answer_patterns: ['^(\\w+)$']}
    steps:
      - {id: trip, tool: getReservation, arguments: {pnr: '${slots.pnr}'}}
    replies:
      - {text: 'Done.'}
""",
        "answers.yaml",
    )
    assert "slot flight: answer_patterns need a required slot filled from text" in message
    assert "slot pnr" not in message


@pytest.fixture(scope="module")
def booking(loop_thread: LoopThread) -> Iterator[MockCluster]:
    settings = MocksSettings(ports={"booking": 0}, customers=50, members=10)
    cluster = loop_thread.run(start_mocks(settings, ["booking"]))
    yield cluster
    loop_thread.run(cluster.stop())


async def _collect(planner: Planner, request: PlanInput | ComposeInput) -> list[object]:
    if isinstance(request, PlanInput):
        return [item async for item in planner.plan(request)]
    return [item async for item in planner.compose(request)]


def test_flight_status_reply_is_grounded_in_the_real_booking_backend(
    loop_thread: LoopThread, booking: MockCluster, book: FlowBook, tools: ToolIndex
) -> None:
    planner = Planner(load_settings().planner, book, tools, None)
    items = loop_thread.run(
        _collect(planner, PlanInput(intent="flight_status", text="Is flight UA 123 on time?"))
    )
    plan = items[-1]
    assert isinstance(plan, Plan) and [s.tool for s in plan.steps] == ["getFlightStatus"]
    step: Step = plan.steps[0]
    response = httpx.get(
        f"{booking.base_urls['booking']}/flights/{step.arguments['flight_number']}/status",
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    result = StepResult(step.id, step.tool, "succeeded", body, http_status=200)

    reply = loop_thread.run(_collect(planner, ComposeInput(plan=plan, results=[result])))
    text = "".join(item for item in reply if isinstance(item, str))
    assert body["flight_number"] in text and body["origin"] in text
    assert body["status"].replace("_", " ") in text or body["status"] in ("on_time", "scheduled")
    if body["reason"]:
        assert body["reason"] in text


def test_an_action_is_never_replayed_from_an_earlier_turns_slots(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    booked = flow.fill({}, "book UA 127", "C-1001")
    assert booked["new_flight"] == "UA127"
    later = flow.fill(booked, "my flight was cancelled again, what are my options?", "C-1001")
    assert "new_flight" not in later
    assert "rebookReservation" not in [s.tool for s in flow.steps(later, "C-1001")]
    limit = book.get("deposit_limit")
    assert limit is not None
    known = limit.fill({}, "set a weekly limit of $200", "C-1002")
    assert [
        s.tool for s in limit.steps(limit.fill(known, "what are my limits?", "C-1002"), "")
    ] == ["getWallet"]


CONTRACT_SHAPES = {
    ("flight_status", "flight_number"): r"^[A-Z0-9]{2}[0-9]{1,4}$",
    ("cancel_reservation", "pnr"): r"^[A-Z0-9]{6}$",
    ("claim_status", "claim_id"): r"^CL-[0-9]{4,8}$",
    ("withdrawal_status", "withdrawal_id"): r"^W-[0-9]{4,8}$",
    ("eligibility_check", "procedure_code"): r"^D[0-9]{4}$",
    ("eligibility_check", "date_of_service"): r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    ("deposit_limit", "amount_cents"): r"^[0-9]+$",
}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("UAsbx7q2CLWMDP- 0123456789:apmnextuesdaycrown<>_")),
        max_size=40,
    )
)
def test_extracted_slots_always_have_the_contracts_shape(book: FlowBook, text: str) -> None:
    for (intent, slot), shape in CONTRACT_SHAPES.items():
        flow = book.get(intent)
        assert flow is not None
        value = flow.extract(text).get(slot)
        assert value is None or re.fullmatch(shape, value), (intent, slot, text, value)


def test_flows_and_intent_packs_agree(book: FlowBook) -> None:
    packs = Path(load_settings().planner.flows_dir).parent / "intents"
    declared: dict[str, list[str]] = {}
    for path in sorted(packs.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        intents = document["intents"]
        declared[path.stem] = (
            list(intents) if isinstance(intents, dict) else [i["name"] for i in intents]
        )
    assert declared == INTENTS
    for industry, names in declared.items():
        for name in names:
            flow = book.get(name)
            assert flow is not None and flow.industry == industry


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("the second one", 1),
        ("Second one, please.", 1),
        ("the first", 0),
        ("I'll take the third reservation", 2),
        ("the last one", 4),
        ("#2", 1),
        ("number 3", 2),
        ("no. 1", 0),
        ("2", 1),
        ("the 4th", 3),
        ("the ninth one", 8),
        ("wait a second", None),
        ("I have 2 bags", None),
        ("second flight to Paris", None),
        ("12", None),
    ],
)
def test_a_position_is_read_only_when_named_on_its_own(text: str, position: int | None) -> None:
    assert chosen_position(text, 5) == position


LISTED = [
    Shown(
        "ZGGJQS",
        {"flight": "UA1658", "origin": "MIA", "destination": "MSP", "date": "2026-12-04"},
    ),
    Shown(
        "DMJ5SB",
        {"flight": "UA457", "origin": "ORD", "destination": "SFO", "date": "2026-11-25"},
    ),
]
PLACES = place_names({"MSP": ["Minneapolis"], "ORD": ["Chicago"], "SFO": ["San Francisco"]})


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("the December one", 0),
        ("it's the December one, thanks", 0),
        ("December", 0),
        ("the one on the 25th", 1),
        ("the 4 Dec one", 0),
        ("Nov 25", 1),
        ("the Dec 4th one", 0),
        ("the Wednesday one", 1),
        ("the one on 2026-12-04", 0),
        ("the UA457 one", 1),
        ("UA 457", 1),
        ("ua1658", 0),
        ("the ZGGJQS one", 0),
        ("the one to Minneapolis", 0),
        ("the Chicago one", 1),
        ("from Chicago", 1),
        ("I mean the MIA one please", 0),
        ("the one in November to San Francisco", 1),
        ("the second one", 1),  # a position comes first
    ],
)
def test_a_choice_is_named_by_what_the_list_showed(text: str, index: int) -> None:
    assert choose(text, LISTED, PLACES) == Choice(index=index)


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("the one from Minneapolis", ()),  # shown as the destination
        ("the 14th of December", ()),
        ("the one to Denver", ()),  # a place no choice touches (not even in the places given)
        ("the November one to Minneapolis", ()),  # everything said must hold
        ("UA999", ()),
        ("the United one", ()),  # an answer's shape, words not shown
        ("the <PERSON_1> one", ()),  # a word the pii service masked is never read
        ("no, the one to San <PERSON_1>", ()),
        ("the 4th", ()),  # a bare ordinal is a position (past the list), never a day
        ("the third one", ()),
    ],
)
def test_an_answer_naming_none_of_the_choices_is_asked_again(
    text: str, fits: tuple[int, ...]
) -> None:
    assert choose(text, LISTED, PLACES) == Choice(again=True, fits=fits)


def test_an_answer_fitting_several_choices_is_asked_again_with_those_it_fits() -> None:
    same_month = [LISTED[0], Shown("K4M9TZ", {**LISTED[0].facts, "date": "2026-12-09"})]
    assert choose("the December one", same_month) == Choice(again=True, fits=(0, 1))
    assert choose("the Dec 9 one", same_month) == Choice(index=1)
    assert choose("the one to MSP", same_month) == Choice(again=True, fits=(0, 1))


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather in Chicago in December?",
        "the flight to Denver got cancelled",
        "thanks",
        "the one",
        "wait a second",
        "show me the seat map",
        "<PERSON_1>",
    ],
)
def test_a_message_that_is_no_answer_names_no_choice(text: str) -> None:
    assert choose(text, LISTED, PLACES) is None


def test_what_the_list_showed_is_read_only_while_the_flow_waits_for_it(book: FlowBook) -> None:
    flow = book.get("seat_selection")
    assert flow is not None
    listed = {
        "customer_id": "C-5607",
        "pnr_options": "ZGGJQS DMJ5SB",
        "pnr_shown": "flight=UA1658 origin=MIA destination=MSP date=2026-12-04; "
        "flight=UA457 origin=ORD destination=SFO date=2026-11-25",
    }
    # The shipped places name the airports: "the one to Minneapolis" is the MIA->MSP trip.
    for text, code in [("the one to Minneapolis", "ZGGJQS"), ("the San Francisco one", "DMJ5SB")]:
        assert flow.answers(listed, text, "C-5607"), text
        assert flow.fill(listed, text, "C-5607", ["pnr"]).get("pnr") == code, text
        assert "pnr" not in flow.fill(listed, text, "C-5607"), text  # not waiting: no answer
    assert flow.answers(listed, "the one to Denver", "C-5607")  # answered: asked again
    assert flow.undecided(listed, "the one to Denver") == ["pnr"]
    # Kept codes without what was shown (an older session): positions only.
    codes = {k: v for k, v in listed.items() if k != "pnr_shown"}
    assert flow.fill(codes, "the second one", "C-5607", ["pnr"]).get("pnr") == "DMJ5SB"
    assert not flow.answers(codes, "the one to Minneapolis", "C-5607")
    # A cancellation has no list to choose from: it still needs the code.
    cancel = book.get("cancel_reservation")
    assert cancel is not None and "pnr" not in cancel.fill(listed, "the December one", "", ["pnr"])


def test_a_preference_is_kept_for_the_answer_to_its_question_only(book: FlowBook) -> None:
    flow = book.get("seat_selection")
    assert flow is not None
    asked = flow.fill({}, "I'd like a window seat and seat 12C", "C-5607")
    assert (asked["kind"], asked["seat"]) == ("window", "12C")
    answered = flow.fill(asked, "the second one", "C-5607", ["pnr"], answered=True)
    # The preference carries to the answer; the seat to assign (an action) never does.
    assert answered.get("kind") == "window" and "seat" not in answered
    later = flow.fill(answered, "show me the seat map", "C-5607")
    assert "kind" not in later
    assert flow.forgotten() == {"kind", "seat"} and flow.forgotten(answered=True) == {"seat"}


def test_shown_and_ask_again_describe_a_lookups_list(load_errors: Callable[..., str]) -> None:
    message = load_errors(
        """
industry: airline
flows:
  boarding_pass:
    slots:
      customer_id: {from: customer_id, required: false}
      pnr:
        patterns: ['([A-Z0-9]{6})']
        question: 'Which code?'
        lookup: '${steps.trips.reservations.0.pnr}'
        shown: {flight: segments.0.flight_number}
        ask_again: '{{ fits | join(", ") '
      flight:
        patterns: ['(UA[0-9]+)']
        question: 'Which flight?'
        lookup: '${steps.trips.reservations.only.segments.0.flight_number}'
        shown: {value: pnr, Date: segments.0.date, date: 'segments..date'}
      pnr_shown: {patterns: ['(x)'], required: false}
    steps:
      - {id: trips, when: not slots.pnr, tool: listCustomerReservations,
         arguments: {customer_id: '${slots.customer_id}'}}
      - {id: trip, tool: getReservation, arguments: {pnr: '${slots.pnr}'}}
    replies:
      - {text: 'Done.'}
""",
        "shown.yaml",
    )
    assert "slot pnr: shown, ask_again and offer need a lookup through a list (`.only.`)" in message
    assert "slot pnr: ask_again: template error" in message
    assert "slot pnr_shown: a slot's name must not end in '_shown'" in message
    assert "slot flight: shown: 'value' must be a lower-case word, not 'value'" in message
    assert "slot flight: shown: 'Date' must be a lower-case word, not 'value'" in message
    assert "slot flight: shown: date: 'segments..date' is no path into an item" in message
    assert "slot flight: shown and ask_again" not in message


# The flights the rebooking offered: an action's choices, offered even when there is one.
FLIGHTS = [Shown("UA457", {"time": "17:30"}), Shown("UA891", {"time": "21:10"})]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("the second one", 1),
        ("the first", 0),
        ("the 21:10 one", 1),
        ("the 9:10 pm one", 1),
        ("the 5:30pm one please", 0),
        ("the 9pm one", 1),  # the hour alone
        ("the 17:30 UTC flight", 0),
        ("UA 891", 1),
        ("the UA457 one", 0),
        ("the evening one", 0),  # a part of the day, of the time shown
        ("the night flight please", 1),
    ],
)
def test_an_offered_flight_is_named_by_position_time_or_number(text: str, index: int) -> None:
    assert choose(text, FLIGHTS) == Choice(index=index)


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("yes", (0, 1)),  # assent fits every flight offered
        ("that one", (0, 1)),
        ("ok book it", (0, 1)),
        ("the later one is fine", (0, 1)),
        ("the 8pm one", ()),  # the hour of neither
        ("the 18:00 one", ()),
        ("the blue one", ()),
        ("the third one", ()),
        ("the morning one", ()),  # neither leaves in the morning
        ("the afternoon flight", ()),
    ],
)
def test_an_answer_fitting_several_or_none_of_the_offered_flights_is_asked_again(
    text: str, fits: tuple[int, ...]
) -> None:
    assert choose(text, FLIGHTS) == Choice(again=True, fits=fits)


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Yes please",
        "that one",
        "ok book it",
        "yes, go ahead",
        "sure, book that one",
        "the later one is fine",
        "the 21:10 one",
        "the first one",
        "UA891",
        "that's the one, thanks",
    ],
)
def test_assent_names_the_only_flight_offered(text: str) -> None:
    assert choose(text, FLIGHTS[1:]) == Choice(index=0)


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "thanks",
        "great",
        "no, the one",
        "yes 2 bags",
        "<PERSON_1>",
        "what about tomorrow?",
    ],
)
def test_a_message_that_is_no_assent_names_no_flight(text: str) -> None:
    choice = choose(text, FLIGHTS[1:])
    assert choice is None or choice.index is None, choice


def test_a_part_of_the_day_names_a_flight_only_as_an_answer() -> None:
    listed = [Shown("UA459", {"time": "08:15"}), Shown("UA893", {"time": "19:40"})]
    for text in ("the morning one", "in the morning please", "morning flight"):
        assert choose(text, listed) == Choice(index=0), text
    assert choose("the evening flight", listed) == Choice(index=1)
    # A greeting names nothing.
    for text in ("morning", "good morning", "evening!"):
        assert choose(text, listed) is None, text


def test_a_flight_is_named_by_either_clock_the_list_showed() -> None:
    # UTC and Chicago's local time (UTC-6), as rebook_flight lists them.
    listed = [
        Shown("UA459", {"time": "14:15", "local": "08:15"}),
        Shown("UA893", {"time": "19:40", "local": "13:40"}),
    ]
    for text, index in [
        ("the 14:15 one", 0),
        ("the 8:15 am one", 0),
        ("the 1:40 pm one", 1),
        ("the 19:40 one", 1),
        # A part of the day is the traveller's: of the local time.
        ("the morning one", 0),
        ("the afternoon flight", 1),
    ]:
        assert choose(text, listed) == Choice(index=index), text
    assert choose("the evening one", listed) == Choice(again=True, fits=())


def _offer(flights: list[dict[str, object]]) -> list[StepResult]:
    trip = {"pnr": "SBX7Q2", "segments": [{"flight_number": "UA123", "cabin": "economy"}]}
    return [
        StepResult("trips", "listCustomerReservations", "succeeded", {"reservations": [trip]}),
        StepResult("alternatives", "searchFlights", "succeeded", {"flights": flights}),
    ]


def test_the_rebooking_offers_even_a_single_flight_and_waits_for_the_answer(
    book: FlowBook,
) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "I need to rebook SBX7Q2 onto a later flight", "C-1001")
    steps = flow.steps(asked, "C-1001")
    # The flight is looked up, not asked for; no step gets the lookup, nothing is rebooked.
    assert flow.missing(asked, "C-1001") == []
    assert "rebookReservation" not in [s.tool for s in steps]
    search = next(s for s in steps if s.tool == "searchFlights")
    assert search.arguments["cabin"] == "${steps.trip.segments.0.cabin}"
    one = _offer([{"flight_number": "UA891", "scheduled_departure": "2026-11-26T21:10:00Z"}])
    # A list of one is offered as well, never taken: the flow waits for the answer.
    assert flow.still_missing(asked, one) == ["new_flight"]
    kept = flow.listed(asked, one)
    assert kept == {"new_flight_options": "UA891", "new_flight_shown": "time=21:10"}
    text = flow.reply(flow.context(asked, one))
    assert "Flights with seats that day: UA891 at 21:10 UTC." in text

    for answer in ("the later one is fine", "yes", "that one", "ok book it", "the 21:10 one"):
        known = {**asked, **kept}
        assert flow.answers(known, answer, "C-1001"), answer
        filled = flow.fill(known, answer, "C-1001", flow.awaited(known))
        assert filled["new_flight"] == "UA891", answer
        rebook = next(s for s in flow.steps(filled, "C-1001") if s.tool == "rebookReservation")
        assert rebook.arguments["flight_number"] == "UA891"
    # Without the list kept, a bare "yes" names no flight.
    assert not flow.answers(asked, "yes", "C-1001")
    assert "new_flight" not in flow.fill(asked, "yes", "C-1001", flow.awaited(asked))


def test_an_unclear_answer_to_the_offered_flights_is_asked_again(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "rebook me please", "C-1001")
    two = _offer(
        [
            {"flight_number": "UA457", "scheduled_departure": "2026-11-26T17:30:00Z"},
            {"flight_number": "UA891", "scheduled_departure": "2026-11-26T21:10:00Z"},
        ]
    )
    known = {**asked, **flow.listed(asked, two)}
    assert flow.undecided(known, "yes") == ["new_flight"]
    assert flow.questions(["new_flight"], known, "yes") == (
        "Both UA457 and UA891 fit that. Which one should I book: UA457 at 17:30 UTC or UA891 at "
        '21:10 UTC? You can say, for example, "book UA457" or "the first one".'
    )
    one = {**asked, **flow.listed(asked, two[:1] + [replace_flights(two[1])])}
    assert flow.questions(["new_flight"], one, "the blue one") == (
        'I can\'t tell which flight you mean. Should I book UA891 at 21:10 UTC? Say "book UA891" '
        "if so."
    )
    assert flow.fill(known, "the second one", "C-1001", ["new_flight"])["new_flight"] == "UA891"


def replace_flights(result: StepResult) -> StepResult:
    """The search result with only its last flight."""
    flights = result.result["flights"]
    return StepResult(result.step_id, result.tool, result.outcome, {"flights": flights[-1:]})


def _refused(flights: list[dict[str, object]]) -> list[StepResult]:
    """A rebooking onto a flight that is not bookable: the trip, and the search that lists the
    flights that are."""
    segment = {
        "segment_id": "S1",
        "flight_number": "UA123",
        "origin": "ORD",
        "destination": "SFO",
        "date": "2026-11-26",
        "cabin": "economy",
    }
    trip = {"pnr": "SBX7Q2", "segments": [segment]}
    return [
        StepResult("trip", "getReservation", "succeeded", trip),
        StepResult("chosen", "searchFlights", "succeeded", {"flights": flights}),
    ]


def test_a_flight_that_cannot_be_booked_is_asked_for_again_from_the_list_shown(
    book: FlowBook,
) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "book UA999 for SBX7Q2", "C-1001")
    assert asked["new_flight"] == "UA999"
    # The trip's day had nothing: the search listed the next day's flights.
    results = _refused(
        [
            {
                "flight_number": "UA459",
                "date": "2026-11-27",
                "scheduled_departure": "2026-11-27T14:15:00Z",
            },
            {
                "flight_number": "UA893",
                "date": "2026-11-27",
                "scheduled_departure": "2026-11-27T19:40:00Z",
            },
        ]
    )
    context = flow.context(asked, results)
    assert flow.reply(context).startswith("I can't move your trip onto flight UA999")
    waits, keep = flow.waiting(context, asked, results)
    # The flow waits for the flight again: the refused one is forgotten, the list shown is kept,
    # and so is its day, for "the day after" to count from.
    assert waits == ["new_flight"]
    assert keep == {
        "new_flight": "",
        "new_flight_options": "UA459 UA893",
        "new_flight_shown": "time=14:15; time=19:40",
        "travel_date": "2026-11-27",
    }
    known = {**asked, **keep}
    assert flow.awaited(known) == ["new_flight"]
    picked = flow.fill(known, "the second one", "C-1001", ["new_flight"], answered=True)
    assert picked["new_flight"] == "UA893"
    search = next(s for s in flow.steps(picked, "C-1001") if s.id == "chosen")
    assert search.arguments["date"] == "${steps.trip.segments.0.date.day:2026-11-27}"
    assert flow.answers(known, "what about the day after?", "C-1001")
    later = flow.fill(known, "what about the day after?", "C-1001", ["new_flight"], answered=True)
    assert later["travel_date"] == "2026-11-28" and not later.get("new_flight")
    # An empty list is no list to choose from: the reply offers a colleague, nothing waits.
    none = _refused([])
    context = flow.context(asked, none)
    assert "connect you with a colleague" in flow.reply(context)
    assert flow.waiting(context, asked, none) == ([], {})


def test_a_list_on_the_next_day_keeps_that_day_for_the_answer(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "rebook me please", "C-1001")
    later = _offer(
        [
            {
                "flight_number": "UA459",
                "date": "2026-11-27",
                "scheduled_departure": "2026-11-27T14:15:00Z",
            }
        ]
    )
    waits, keep = flow.waiting(flow.context(asked, later), asked, later)
    assert waits == ["new_flight"] and keep["travel_date"] == "2026-11-27"
    # No list, no day to count from.
    nothing = _offer([])
    assert flow.waiting(flow.context(asked, nothing), asked, nothing) == (["new_flight"], {})


def test_what_a_reply_asks_again_and_keeps_is_checked_at_load(
    load_errors: Callable[..., str],
) -> None:
    message = load_errors(
        """
industry: airline
flows:
  boarding_pass:
    slots:
      customer_id: {from: customer_id, required: false}
      pnr: {patterns: ['([A-Z0-9]{6})'], question: 'Which code?'}
      seat: {patterns: ['([0-9]+[A-F])'], required: false}
    steps:
      - id: trips
        tool: listCustomerReservations
        arguments: {customer_id: '${slots.customer_id}'}
    replies:
      - when: steps.trips.ok
        asks: {pnr: '${steps.trips.reservations.0.pnr}', seat: '', gate: ''}
        keeps: {pnr: 'steps.trips.result', seat: 'steps.trips.result[0', customer_id: '1'}
        text: 'Which one?'
      - asks: {pnr: '${steps.nowhere.reservations.only.pnr}'}
        text: 'Done.'
""",
        "asks.yaml",
    )
    assert "reply asks for an unknown slot 'gate'" in message
    assert "reply asks for slot seat: it must be required and from the text" in message
    assert "the list a reply asks from needs `only`: '${steps.trips.reservations.0.pnr}'" in message
    assert "reply asks: slot pnr: lookup names no step of the flow: 'nowhere'" in message
    assert "reply keeps slot 'pnr': it must be an optional slot of the text" in message
    assert "reply keeps slot 'customer_id': it must be an optional slot of the text" in message
    assert "reply keeps seat: template error" in message


def test_the_list_marks_the_travellers_own_flight_and_the_time_asked_for(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    asked = flow.fill({}, "can I move to the 3:10 pm one?", "C-1001")
    segment = {"flight_number": "UA457", "date": "2026-11-26", "origin": "ORD"}
    flights = [
        {
            "flight_number": number,
            "date": "2026-11-26",
            "scheduled_departure": f"2026-11-26T{utc}:00Z",
            "scheduled_departure_local": f"2026-11-26T{local}:00-06:00",
        }
        for number, utc, local in (("UA457", "17:30", "11:30"), ("UA891", "21:10", "15:10"))
    ]
    results = [
        StepResult("trip", "getReservation", "succeeded", {"segments": [segment]}),
        StepResult("alternatives", "searchFlights", "succeeded", {"flights": flights}),
    ]
    text = flow.reply(flow.context(asked, results))
    assert (
        "Flights with seats that day: UA457 at 11:30 local time (17:30 UTC), your flight now; "
        "UA891 at 15:10 local time (21:10 UTC), the 15:10 one."
    ) in text, text


def test_a_reference_left_empty_at_the_end_of_an_argument_leaves_no_space(book: FlowBook) -> None:
    flow = book.get("bet_settlement")
    assert flow is not None
    said = {"customer_id": "C-1006"}
    (case,) = flow.steps(flow.fill(said, "my Lakers pick should have won", "C-1006"), "C-1006")
    assert case.arguments["description"] == "The customer asked in chat how a bet was settled."
    told = flow.fill(said, "my parlay was voided", "C-1006")
    (case,) = flow.steps(told, "C-1006")
    assert case.arguments["description"] == (
        "The customer asked in chat how a bet was settled. my parlay was voided"
    )
