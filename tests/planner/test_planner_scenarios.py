"""The demo scenarios on the embedded engine, executed against the real mock backends.

A small in-test executor stands in for the tool-broker (it resolves step references with the
broker's own module and maps arguments onto HTTP with the catalogue's bindings), so the flows'
arguments, references and reply templates meet the real contracts and the real seed data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from harness import LoopThread

from mocks.config import BACKENDS, MocksSettings
from mocks.server import MockCluster, start_mocks
from mocks.world.model import Reservation
from mocks.world.reference import TIMEZONES
from services.catalogue import Catalogue
from services.config import load_settings
from services.planner.flows import FlowBook, Media
from services.planner.planner import ComposeInput, PlanInput, Planner
from services.planner.plans import MissingSlots, Plan, StepResult
from services.planner.tools import ToolIndex
from services.tool_broker.references import UnresolvedReference, resolve


@pytest.fixture(scope="module")
def world(loop_thread: LoopThread) -> Iterator[MockCluster]:
    settings = MocksSettings(ports=dict.fromkeys(BACKENDS, 0), customers=50, members=10)
    cluster = loop_thread.run(start_mocks(settings, list(BACKENDS)))
    yield cluster
    loop_thread.run(cluster.stop())


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(load_settings().tool_broker.backends)


@pytest.fixture(scope="module")
def planner() -> Planner:
    settings = load_settings()
    tools = ToolIndex.load(settings.tool_broker.backends)
    return Planner(settings.planner, FlowBook.load(settings.planner.flows_dir, tools), tools, None)


class Turn:
    """Plan, execute against the mocks, compose: one turn of the embedded engine."""

    def __init__(
        self, loop: LoopThread, planner: Planner, catalogue: Catalogue, world: MockCluster
    ):
        self.loop, self.planner, self.catalogue, self.world = loop, planner, catalogue, world
        #: the slots the last reply asked for after its plan ran, as Compose named them
        self.asked: MissingSlots | None = None

    def __call__(self, request: PlanInput) -> tuple[Plan, list[StepResult], str, list[Media]]:
        plan = self.loop.run(self._plan(request))
        results = self._execute(plan)
        composing = ComposeInput(plan=plan, results=results, text=request.text)
        text, media = self.loop.run(self._compose(composing))
        return plan, results, text, media

    async def _plan(self, request: PlanInput) -> Plan:
        items = [item async for item in self.planner.plan(request)]
        assert isinstance(items[-1], Plan)
        return items[-1]

    async def _compose(self, request: ComposeInput) -> tuple[str, list[Media]]:
        items = [item async for item in self.planner.compose(request)]
        asked = [i for i in items if isinstance(i, MissingSlots)]
        assert len(asked) <= 1, items
        self.asked = asked[0] if asked else None
        text = "".join(i for i in items if isinstance(i, str))
        return text, [i for i in items if isinstance(i, Media)]

    def _execute(self, plan: Plan) -> list[StepResult]:
        done: dict[str, dict[str, Any]] = {}
        results = []
        for step in plan.steps:  # flows list steps in an order that respects dependencies
            if any(dependency not in done for dependency in step.depends_on):
                results.append(StepResult(step.id, step.tool, "skipped", {}, "a dependency failed"))
                continue
            spec = self.catalogue.get(step.tool)
            binding = self.catalogue.binding(step.tool)
            assert spec is not None and binding is not None
            try:
                arguments = resolve(step.arguments, done)
            except UnresolvedReference as error:  # as the broker does: the step is not sent
                results.append(StepResult(step.id, step.tool, "rejected", {}, str(error)))
                continue
            assert self.catalogue.validate_arguments(step.tool, arguments) == []
            path = spec.path
            for name in binding.of("path"):
                path = path.replace("{" + name + "}", str(arguments[name]))
            query = {n: arguments[n] for n in binding.of("query") if n in arguments}
            body = {n: arguments[n] for n in binding.of("body") if n in arguments}
            headers = {"Idempotency-Key": uuid.uuid4().hex} if binding.idempotent else {}
            response = httpx.request(
                spec.method,
                self.world.base_urls[spec.backend] + path,
                params=query,
                json=body or None,
                headers=headers,
                timeout=10,
            )
            payload = response.json()
            ok = response.status_code < 400
            assert self.catalogue.validate_response(step.tool, response.status_code, payload) == []
            if ok:
                done[step.id] = payload
            results.append(
                StepResult(
                    step.id,
                    step.tool,
                    "succeeded" if ok else "failed",
                    payload if ok else {},
                    "" if ok else _problem(step.tool, spec.backend, response.status_code, payload),
                    response.status_code,
                )
            )
        return results


def _problem(tool: str, backend: str, status: int, body: dict[str, Any]) -> str:
    """A failed step's error as the broker writes it: the backend's problem title and detail."""
    return f"{tool}: {backend} answered HTTP {status}: {body.get('title')}: {body.get('detail')}"


@pytest.fixture
def turn(
    loop_thread: LoopThread, planner: Planner, catalogue: Catalogue, world: MockCluster
) -> Turn:
    return Turn(loop_thread, planner, catalogue, world)


def test_cancelled_flight_rebooking_across_two_turns(turn: Turn) -> None:
    text = "My flight tomorrow got cancelled because of the storm, get me on the next one"
    plan, results, reply, _ = turn(
        PlanInput(intent="rebook_flight", text=text, customer_id="C-1001")
    )

    assert all(r.ok for r in results), results
    assert "UA123" in reply and "cancelled" in reply and "winter storm" in reply
    # The search asks only for flights with seats in the trip's cabin: what the reply offers.
    bookable = next(r for r in results if r.step_id == "alternatives").result["flights"]
    assert bookable and all(
        f["status"] != "cancelled" and f["seats_available"]["economy"] > 0 for f in bookable
    )
    # The seed: the next flight (UA457) is full, a later one is open.
    assert bookable[0]["flight_number"] in reply and "UA457" not in reply
    assert turn.asked is not None and turn.asked.keep == {
        "new_flight_options": " ".join(f["flight_number"] for f in bookable),
        "new_flight_shown": "; ".join(
            f"time={f['scheduled_departure'][11:16]} local={f['scheduled_departure_local'][11:16]}"
            for f in bookable
        ),
        # the day listed, which "the day after" would count from
        "travel_date": bookable[0]["date"],
    }

    follow_up = PlanInput(
        intent="rebook_flight",
        text=f"ok, book {bookable[0]['flight_number']}",
        customer_id="C-1001",
        slots=plan.slots,
    )
    plan, results, reply, media = turn(follow_up)
    assert [r.tool for r in results] == [
        "listCustomerReservations",
        "getReservation",
        "searchFlights",
        "rebookReservation",
        "getBoardingPass",
        "addInteractionNote",
    ]
    assert all(r.ok for r in results), results
    assert reply.startswith(
        "Done: reservation SBX7Q2 is now on flight " + bookable[0]["flight_number"]
    )
    (image,) = media
    assert image.kind == "image" and image.uri.startswith("data:image/svg+xml;base64,")
    assert image.data["flight_number"] == bookable[0]["flight_number"]


def test_flight_status_of_the_storm_cancelled_flight(turn: Turn) -> None:
    _, _, reply, media = turn(PlanInput(intent="flight_status", text="Is flight UA 123 on time?"))
    assert "UA123 from ORD to SFO" in reply and "is cancelled" in reply and "winter storm" in reply
    assert [m.kind for m in media] == ["card"]


def test_a_flight_on_time_is_told_so_however_the_status_was_asked(turn: Turn) -> None:
    for asked in ("what's the status of UA 891?", "is UA 891 on time?"):
        _, _, reply, _ = turn(PlanInput(intent="flight_status", text=asked))
        assert reply.startswith("Flight UA891 from ORD to SFO is on time, departing "), reply


def test_loyalty_balance_of_the_gold_member(turn: Turn) -> None:
    _, _, reply, _ = turn(
        PlanInput(intent="loyalty_balance", text="how many miles do I have", customer_id="C-1001")
    )
    assert "Gold tier with 84,000 miles" in reply


def test_a_withdrawal_pending_for_five_days(turn: Turn) -> None:
    _, _, reply, _ = turn(
        PlanInput(
            intent="withdrawal_status", text="my withdrawal hasn't arrived", customer_id="C-1002"
        )
    )
    assert "W-5001" in reply and "pending after 5 days" in reply


def test_a_deposit_limit_is_set(turn: Turn) -> None:
    _, results, reply, _ = turn(
        PlanInput(intent="deposit_limit", text="set a weekly limit of $200", customer_id="C-1002")
    )
    assert [r.tool for r in results] == ["setDepositLimit"] and results[0].ok, results
    assert "weekly deposit limit is set to 200.00 USD" in reply


@pytest.mark.parametrize(
    ("text", "period"),
    [("limit my deposits to 50 dollars a week", "weekly"), ("$300 per month max", "monthly")],
)
def test_a_deposit_limit_per_week_or_month_is_set(turn: Turn, text: str, period: str) -> None:
    _, results, reply, _ = turn(PlanInput(intent="deposit_limit", text=text, customer_id="C-1002"))
    assert [r.tool for r in results] == ["setDepositLimit"] and results[0].ok, results
    assert f"Your {period} deposit limit is set to" in reply, reply


def test_the_dental_office_gets_eligibility_benefits_and_the_claim(turn: Turn) -> None:
    text = "Is member M-3001 eligible for a ceramic crown next Tuesday, and where is claim CL-9001?"
    # Two requests, as the classifier reads the message: each flow answers its own, once.
    intents = ["eligibility_check", "claim_status"]
    _, results, reply, _ = turn(
        PlanInput(intent="eligibility_check", text=text, customer_id="P-7001", intents=intents)
    )
    assert [r.tool for r in results] == ["checkEligibility", "getBenefits", "getClaim"]
    assert all(r.ok for r in results), results
    # The procedure by name: its code is withheld from replies by the dental pack anyway.
    assert "Member M-3001 is eligible for crown, porcelain/ceramic on" in reply, reply
    assert "D2740" not in reply
    assert "annual maximum remains" in reply and reply.count("CL-9001") == 1, reply
    assert "Claim CL-9001 for member M-3001" in reply and "under review" in reply, reply


def test_baggage_rules_come_from_the_knowledge_base(turn: Turn) -> None:
    _, results, reply, media = turn(
        PlanInput(intent="baggage_policy", text="how many bags can I check?")
    )
    first = results[0].result["results"][0]
    assert reply.startswith(first["title"]) and [m.kind for m in media] == ["card"]


def test_an_unknown_reservation_gets_a_not_found_reply(turn: Turn) -> None:
    for pnr, customer in (("ZZ9Z9Z", "C-1001"), ("K4M9TZ", "C-1001")):
        # One that does not exist, and another customer's (C-1005's): answered alike.
        _, results, reply, media = turn(
            PlanInput(intent="boarding_pass", text=f"boarding pass for {pnr}", customer_id=customer)
        )
        assert results[0].http_status == 404
        assert reply == f"I couldn't find reservation {pnr}. Could you check the code?"
        assert media == []


def test_two_intents_in_one_message_are_both_served_responsible_gaming_first(turn: Turn) -> None:
    request = PlanInput(
        intent="withdrawal_status",
        text="my withdrawal hasn't arrived and I want a weekly deposit limit of $300",
        customer_id="C-1002",
        candidates=[("withdrawal_status", 0.55), ("deposit_limit", 0.41), ("greeting", 0.02)],
        intents=["withdrawal_status", "deposit_limit"],
    )
    plan, results, reply, _ = turn(request)
    # The deposit limit flow leads (responsible gaming), although the withdrawal came first.
    assert plan.flow == "deposit_limit+withdrawal_status"
    assert [r.tool for r in results] == ["setDepositLimit", "listWithdrawals"]
    assert all(r.ok for r in results), results
    first, second = reply.split("\n\n")
    assert "weekly deposit limit is set to 300.00 USD" in first and "W-5001" in second


def test_several_requests_are_answered_in_the_order_the_customer_raised_them(turn: Turn) -> None:
    # The classifier is surer of the second request; the reply still follows the customer.
    request = PlanInput(
        intent="loyalty_balance",
        text="has UA 123 been delayed and how many miles do I have",
        customer_id="C-1001",
        candidates=[("loyalty_balance", 0.97), ("flight_status", 0.02)],
        intents=["flight_status", "loyalty_balance"],
    )
    plan, results, reply, _ = turn(request)
    assert plan.flow == "flight_status+loyalty_balance"
    assert [r.tool for r in results] == ["getFlightStatus", "getLoyaltyAccount"]
    status, balance = reply.split("\n\n")
    assert "UA123" in status and "cancelled" in status
    assert "Gold tier with 84,000 miles" in balance


def test_two_requests_with_the_same_answer_say_it_once(turn: Turn) -> None:
    # Both flows read the trip by its code and a surname no passenger has (the mock gets the
    # placeholder, as no broker puts a name back here): each flow's reply is the unknown trip's.
    request = PlanInput(
        intent="flight_status",
        text="is my flight on time? can you rebook me? booking SBX7Q2, last name <PERSON_1>",
        intents=["flight_status", "rebook_flight"],
    )
    plan, results, reply, _ = turn(request)
    assert plan.flow == "flight_status+rebook_flight"
    assert [r.http_status for r in results if r.tool == "getReservation"] == [404, 404]
    assert reply == (
        "I couldn't find reservation SBX7Q2 under that surname. "
        "Could you check the code and the surname on the booking?"
    )


def test_a_second_intent_missing_its_slots_does_not_hold_up_the_first(turn: Turn) -> None:
    request = PlanInput(
        intent="flight_status",
        text="is UA 123 on time? also cancel my booking",
        candidates=[("cancel_reservation", 0.4)],
    )
    plan, results, reply, _ = turn(request)
    assert plan.flow == "flight_status" and [r.tool for r in results] == ["getFlightStatus"]
    assert "UA123" in reply


def test_clashing_step_ids_of_a_second_flow_are_renamed_and_mapped_back(turn: Turn) -> None:
    request = PlanInput(
        intent="loyalty_balance",
        text="how many miles do I have, and can I upgrade?",
        # Elena's only trip is on a cancelled flight whatever the other tests rebook: the plan's
        # upgrade is never made here, where no policy holds it for a confirmation.
        customer_id="C-1005",
        candidates=[("upgrade_with_miles", 0.45)],
    )
    plan, results, reply, _ = turn(request)
    assert [s.id for s in plan.steps] == [
        "loyalty",
        "trips",
        "trip",
        "upgrade_with_miles_loyalty",
        "offer",
        "redeem",
        "upgrade",
    ]
    assert all(r.ok for r in results if r.step_id.endswith("loyalty")), results
    balance, upgrade = reply.split("\n\n")
    assert "Platinum tier with 412,000 miles" in balance
    # K4M9TZ's flight is cancelled: nothing to upgrade, and the renamed step's miles are read.
    assert "K4M9TZ" in upgrade and "cancelled" in upgrade and "You have 412,000 miles" in upgrade


def _confirmed(cluster: MockCluster, customer_id: str) -> list[Reservation]:
    assert cluster.world is not None
    return [r for r in cluster.world.reservations_of(customer_id) if r.status == "confirmed"]


def _customer_with_trips(cluster: MockCluster, count: int) -> str:
    """A generated customer with ``count`` confirmed reservations, each on another flight."""
    assert cluster.world is not None
    return next(
        customer
        for customer in cluster.world.customers
        if customer.startswith("C-2")
        and len(_confirmed(cluster, customer)) == count
        and len({r.segments[0].flight_number for r in _confirmed(cluster, customer)}) == count
    )


def test_a_seat_request_without_a_code_uses_the_customers_trip_on_the_flight_named(
    turn: Turn, world: MockCluster
) -> None:
    customer = _customer_with_trips(world, 2)
    trip = _confirmed(world, customer)[-1]
    flight, cabin = trip.segments[0].flight_number, trip.segments[0].cabin
    plan, results, reply, media = turn(
        PlanInput(
            intent="seat_selection",
            text=f"I want a window seat on {flight}",
            customer_id=customer,
        )
    )
    assert plan.missing_slots == [] and "reservation code" not in reply
    assert [r.tool for r in results] == ["listCustomerReservations", "getReservation", "getSeatMap"]
    assert all(r.ok for r in results), results
    assert [r["pnr"] for r in results[0].result["reservations"]] == [trip.pnr]
    assert f"seat map for flight {flight}" in reply and f"(reservation {trip.pnr})" in reply
    assert [m.kind for m in media] == ["form"]
    # The window seats offered are free window seats of the passenger's cabin, as the map has them.
    (seats,) = [c for c in results[2].result["cabins"] if c["cabin"] == cabin]
    free = [
        s["seat"]
        for row in seats["rows"]
        for s in row["seats"]
        if s["available"] and s["features"][0] == "window"
    ]
    offered = re.search(rf"Free window seats in {cabin}: ([^.]*)\.", reply)
    if free:
        assert offered is not None, reply
        assert offered.group(1).split(", ") == free[:6]
    else:
        assert offered is None and f"no free window seats in {cabin}" in reply


def test_with_several_trips_a_seat_request_asks_which_and_changes_nothing(
    turn: Turn, world: MockCluster
) -> None:
    customer = _customer_with_trips(world, 2)
    plan, results, reply, _ = turn(
        PlanInput(intent="seat_selection", text="give me seat 12C", customer_id=customer)
    )
    assert [(r.tool, r.outcome) for r in results] == [
        ("listCustomerReservations", "succeeded"),
        ("getReservation", "rejected"),
        ("assignSeat", "skipped"),
    ]
    assert reply.startswith("You have 2 reservations:") and "Which one is it?" in reply
    assert all(trip.pnr in reply for trip in _confirmed(world, customer))
    assert "not exactly one" not in reply  # the reference diagnostic stays in the audit trail

    # Saying what the reply suggests settles it.
    suggested = re.search(r'Say, for example, "([^"]+)"', reply)
    assert suggested is not None, reply
    _, results, reply, _ = turn(
        PlanInput(
            intent="seat_selection",
            text=suggested.group(1),
            customer_id=customer,
            slots=plan.slots,
        )
    )
    assert [r.tool for r in results] == ["listCustomerReservations", "getReservation", "getSeatMap"]
    assert all(r.ok for r in results), results
    (trip,) = results[0].result["reservations"]
    assert f"(reservation {trip['pnr']})" in reply


def test_with_no_trip_or_no_customer_the_seat_request_asks_for_the_code(turn: Turn) -> None:
    _, results, reply, _ = turn(
        PlanInput(
            intent="seat_selection", text="I want a window seat on UA457", customer_id="C-1002"
        )
    )
    assert results[0].tool == "listCustomerReservations" and results[0].result["reservations"] == []
    assert reply.startswith(
        "I couldn't find a confirmed reservation on your account on flight UA457. "
        "What is the reservation code?"
    )
    # Without a customer nothing is read: a reservation is read as its customer's, or by its
    # code and a passenger's surname, which are asked for.
    plan, results, reply, _ = turn(
        PlanInput(intent="seat_selection", text="I want a window seat on UA457")
    )
    assert plan.missing_slots == ["pnr", "last_name"] and results == []
    assert reply.startswith("What is the reservation code?"), reply
    assert "What's the surname on the booking?" in reply, reply


def _boarding_pass(turn: Turn, text: str, customer_id: str = "") -> tuple[StepResult, str]:
    _, results, reply, media = turn(
        PlanInput(intent="boarding_pass", text=text, customer_id=customer_id)
    )
    (issued,) = [r for r in results if r.tool == "getBoardingPass"]
    assert issued.outcome == "failed" and issued.http_status == 409 and media == []
    # In the assistant's own words: the backend's problem detail never reaches the customer.
    assert issued.error and issued.error not in reply
    assert "409" not in reply and "conflict" not in reply.lower()
    return issued, reply


def test_a_boarding_pass_that_cannot_be_issued_is_explained_in_our_words(
    turn: Turn, world: MockCluster
) -> None:
    assert world.world is not None
    flights = world.world.flights
    _, reply = _boarding_pass(turn, "boarding pass for K4M9TZ please", "C-1005")
    assert reply.startswith("Flight DL2207 on ")
    assert "is cancelled, so there is no boarding pass for it" in reply

    landed = next(
        r
        for r in world.world.reservations.values()
        if r.status == "confirmed"
        and flights[(r.segments[0].flight_number, r.segments[0].date)].status == "landed"
        and re.search("[0-9]", r.pnr)  # a code of letters only is not read as one from text
    )
    _, reply = _boarding_pass(turn, f"boarding pass for {landed.pnr}", landed.customer_id)
    assert reply == (
        f"Flight {landed.segments[0].flight_number} has already landed, so its boarding pass "
        "can no longer be issued."
    )

    # Found by the customer's only trip, whose check-in opens 48 hours before departure.
    customer = next(
        c
        for c in world.world.customers
        if c.startswith("C-2")
        and len(trips := _confirmed(world, c)) == 1
        and (flight := flights[(trips[0].segments[0].flight_number, trips[0].segments[0].date)])
        and flight.status != "cancelled"
        and flight.scheduled_departure - world.world.now > timedelta(hours=49)
    )
    segment = _confirmed(world, customer)[0].segments[0]
    flight = flights[(segment.flight_number, segment.date)]
    departure = flight.scheduled_departure
    _, reply = _boarding_pass(turn, "can I have my boarding pass?", customer)
    assert reply.startswith(f"Check-in for flight {segment.flight_number} isn't open yet")
    # In UTC, and in the origin's own time where its zone is known.
    zone = TIMEZONES.get(flight.origin)
    utc = f"{departure:%H:%M} UTC"
    if zone is None:
        told = utc
    else:
        local = departure.astimezone(ZoneInfo(zone))
        if local.date() != departure.date():
            utc += f" on {departure:%a} {departure.day} {departure:%b}"
        told = f"{local:%H:%M} local time ({utc})"
    assert f"at {told}. Ask me again" in reply, reply


def test_the_code_alone_answers_which_reservation_and_the_seat_asked_for_is_not_replayed(
    turn: Turn, world: MockCluster
) -> None:
    assert world.world is not None
    customer, code = next(
        (customer, trip.pnr)
        for customer in sorted(world.world.customers)
        if len(trips := _confirmed(world, customer)) == 2
        and len({t.segments[0].flight_number for t in trips}) == 2
        for trip in trips
        if trip.pnr.isalpha()  # a code of letters only, read from a bare answer all the same
    )
    plan, results, reply, _ = turn(
        PlanInput(intent="seat_selection", text="give me seat 12C", customer_id=customer)
    )
    assert "Which one is it?" in reply and code in reply
    assert "assignSeat" not in [r.tool for r in results if r.ok]
    # The lookup found two: the reply asks, and the flow waits for the code like any slot asked.
    assert turn.asked is not None
    assert (turn.asked.flow, turn.asked.slots) == ("seat_selection", ("pnr",))

    # Alone the code means nothing to the classifier; it answers the flow's question.
    answer = PlanInput(
        intent="out_of_scope",
        text=code,
        customer_id=customer,
        slots=plan.slots,
        pending_flow="seat_selection",
        only_if_answered=True,
    )
    plan, results, reply, _ = turn(answer)
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == code
    # The seat named on the turn that asked triggers an action: it is not replayed.
    assert [r.tool for r in results] == ["getReservation", "getSeatMap"]
    assert all(r.ok for r in results), results
    assert f"(reservation {code})" in reply and turn.asked is None
    # Read as another request (the classifier may guess one for a bare code), it still answers.
    plan, _, _, _ = turn(replace(answer, intent="rebook_flight", only_if_answered=False))
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == code

    # Anything else the classifier cannot place is no answer: nothing is planned.
    for text in ("THANKS", "what's the capital of France?", "UA1234"):
        plan, results, _, _ = turn(replace(answer, text=text))
        assert (plan.flow, plan.steps, results) == ("", [], []), text


def test_with_no_trip_found_the_code_is_asked_for_and_waited_for(turn: Turn) -> None:
    turn(PlanInput(intent="boarding_pass", text="my boarding pass please", customer_id="C-1002"))
    assert turn.asked == MissingSlots(flow="boarding_pass", slots=("pnr",))
    # One trip found: nothing is left to ask.
    turn(PlanInput(intent="boarding_pass", text="boarding pass for K4M9TZ", customer_id="C-1005"))
    assert turn.asked is None


def test_a_code_of_letters_only_is_read_after_a_cue(turn: Turn, world: MockCluster) -> None:
    assert world.world is not None
    trip = next(r for r in world.world.reservations.values() if r.pnr.isalpha())
    owner = trip.customer_id
    for text in (f"I'd like a window seat on reservation {trip.pnr}", f"Booking code: {trip.pnr}"):
        plan, results, reply, _ = turn(
            PlanInput(intent="seat_selection", text=text, customer_id=owner)
        )
        assert plan.missing_slots == [] and plan.slots["pnr"] == trip.pnr, text
        assert results[0].tool == "getReservation" and results[0].ok, results
        assert f"reservation {trip.pnr}" in reply
    # Without a cue, and with no question waiting, six capitals are no code: the customer's
    # reservations are looked up instead.
    _, results, _, _ = turn(
        PlanInput(intent="seat_selection", text=f"a seat on {trip.pnr}", customer_id=owner)
    )
    assert results[0].tool == "listCustomerReservations", results


def test_which_reservation_is_answered_by_its_position_in_the_list_shown(
    turn: Turn, world: MockCluster
) -> None:
    customer = _customer_with_trips(world, 2)
    plan, results, reply, _ = turn(
        PlanInput(intent="seat_selection", text="I'd like a window seat", customer_id=customer)
    )
    shown = [r["pnr"] for r in results[0].result["reservations"]]
    assert "Which one is it?" in reply and reply.index(shown[0]) < reply.index(shown[1])
    # The codes the reply listed are kept, in the order shown, for the answer to name one, with
    # what the reply showed of each (and nothing else of the reservations).
    segments = [r["segments"][0] for r in results[0].result["reservations"]]
    facts = [
        f"flight={s['flight_number']} origin={s['origin']} destination={s['destination']} "
        f"date={s['date']}"
        for s in segments
    ]
    assert turn.asked == MissingSlots(
        flow="seat_selection",
        slots=("pnr",),
        keep={"pnr_options": " ".join(shown), "pnr_shown": "; ".join(facts)},
    )
    for code, s in zip(shown, segments, strict=True):
        assert f"{code} ({s['flight_number']} {s['origin']}→{s['destination']} on " in reply
    answer = PlanInput(
        intent="out_of_scope",
        text="the second one",
        customer_id=customer,
        slots={**plan.slots, **turn.asked.keep},
        pending_flow="seat_selection",
        only_if_answered=True,
    )
    plan, results, reply, _ = turn(answer)
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == shown[1]
    assert "pnr_options" not in plan.slots  # answered: the list is not kept any longer
    assert [r.tool for r in results] == ["getReservation", "getSeatMap"]
    assert all(r.ok for r in results), results
    assert f"(reservation {shown[1]})" in reply and turn.asked is None

    for text, code in [
        ("The first one please", shown[0]),
        ("2", shown[1]),
        ("#2", shown[1]),
        ("number 1", shown[0]),
        ("the 2nd", shown[1]),
        ("the last reservation", shown[1]),
    ]:
        plan, _, _, _ = turn(replace(answer, text=text))
        assert plan.slots.get("pnr") == code, text
    # The position names the code shown there, whatever the lookup would find now: no re-run.
    listed = {**answer.slots, "pnr_options": f"{shown[1]} SBX7Q2"}
    plan, results, _, _ = turn(replace(answer, slots=listed))
    assert plan.slots["pnr"] == "SBX7Q2" and results[0].tool == "getReservation", results

    # A position past the list is asked again, with the same list to answer from.
    plan, results, reply, _ = turn(replace(answer, text="the third one"))
    assert plan.flow == "seat_selection" and plan.missing_slots == ["pnr"] and results == []
    assert reply.startswith("I can't tell which reservation you mean. Which one is it: ")
    assert reply.index(shown[0]) < reply.index(shown[1])
    assert plan.slots["pnr_options"] == " ".join(shown)
    plan, _, _, _ = turn(replace(answer, slots=plan.slots))
    assert plan.slots["pnr"] == shown[1]

    # A position means nothing without the list the reply showed, nor inside another sentence.
    for request in (
        replace(answer, slots=dict(answer.slots, pnr_options="")),
        replace(answer, text="wait a second"),
        replace(answer, text="I have 2 bags"),
    ):
        plan, results, _, _ = turn(request)
        assert (plan.flow, plan.steps, results) == ("", [], []), request.text


_MONTHS = (
    "January February March April May June July August September October November December".split()
)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _city() -> dict[str, str]:
    """Each airport code's first name in the shipped airline pack's ``places``."""
    path = load_settings().planner.flows_dir / "airline.yaml"
    places = yaml.safe_load(path.read_text(encoding="utf-8"))["places"]
    return {code: names[0] for code, names in places.items()}


def _answers_by_content(segments: list[dict[str, Any]]) -> list[tuple[str, list[int]]]:
    """Answers naming a listed reservation by what the list showed of it, each with the positions
    of the reservations it fits, worked out here from the segments themselves."""
    city = _city()
    answers: list[tuple[str, list[int]]] = []
    for s in segments:
        day = date.fromisoformat(s["date"])

        def fits(holds: Any) -> list[int]:
            return [i for i, other in enumerate(segments) if holds(other)]

        answers += [
            (
                f"the {_MONTHS[day.month - 1]} one",
                fits(lambda o, d=day: date.fromisoformat(o["date"]).month == d.month),
            ),
            (
                f"the one on the {_ordinal(day.day)}",
                fits(lambda o, d=day: date.fromisoformat(o["date"]).day == d.day),
            ),
            (
                f"the one to {city[s['destination']]}",
                fits(lambda o, to=s["destination"]: o["destination"] == to),
            ),
            (
                f"the {city[s['origin']]} one",
                fits(lambda o, at=s["origin"]: at in (o["origin"], o["destination"])),
            ),
            (
                f"the {s['flight_number']} one",
                fits(lambda o, f=s["flight_number"]: o["flight_number"] == f),
            ),
        ]
    elsewhere = next(
        c for c in sorted(city) if all(c not in (s["origin"], s["destination"]) for s in segments)
    )
    answers.append((f"the one to {city[elsewhere]}", []))
    return answers


def test_which_reservation_is_answered_by_what_the_list_showed(
    turn: Turn, world: MockCluster
) -> None:
    assert world.world is not None
    # Two customers with two trips: one whose trips land at the same airport (fixed by the
    # world's seed, whatever the day), so that some answers fit both.
    shared = next(
        customer
        for customer in world.world.customers
        if len(trips := _confirmed(world, customer)) == 2
        and len(
            {
                world.world.flight(t.segments[0].flight_number, t.segments[0].date).destination
                for t in trips
            }
        )
        == 1
    )
    outcomes: set[int] = set()
    for customer in (_customer_with_trips(world, 2), shared):
        asked, results, listing, _ = turn(
            PlanInput(intent="seat_selection", text="I'd like a window seat", customer_id=customer)
        )
        assert turn.asked is not None and "Which one is it?" in listing
        codes = [r["pnr"] for r in results[0].result["reservations"]]
        segments = [r["segments"][0] for r in results[0].result["reservations"]]
        for s, code in zip(segments, codes, strict=True):
            shown = f"{code} ({s['flight_number']} {s['origin']}→{s['destination']} on "
            assert shown in listing, listing
        answer = PlanInput(
            intent="out_of_scope",
            text="",
            customer_id=customer,
            slots={**asked.slots, **turn.asked.keep},
            pending_flow="seat_selection",
            only_if_answered=True,
        )
        for text, fits in _answers_by_content(segments):
            plan, results, reply, _ = turn(replace(answer, text=text))
            outcomes.add(min(len(fits), 2))
            assert plan.flow == "seat_selection", text
            # The window seat asked for on the turn that asked is still wanted by its answer.
            assert plan.slots.get("kind") == "window", text
            if len(fits) == 1:
                assert plan.slots["pnr"] == codes[fits[0]], text
                assert [r.tool for r in results] == ["getReservation", "getSeatMap"], text
                assert f"(reservation {codes[fits[0]]})" in reply, text
                assert re.search(r"(Free|no free) window seats in", reply), reply
                assert turn.asked is None and not any(k.startswith("pnr_") for k in plan.slots)
                continue
            # None or several fit: asked again, never guessed, with the same list to choose from.
            assert plan.missing_slots == ["pnr"] and results == [] and "pnr" not in plan.slots
            assert {k: plan.slots[k] for k in ("pnr_options", "pnr_shown")} == {
                k: answer.slots[k] for k in ("pnr_options", "pnr_shown")
            }
            if fits:
                assert reply.startswith(f"Both {codes[fits[0]]} and {codes[fits[1]]} fit that."), (
                    reply
                )
            else:
                assert reply.startswith("I can't tell which reservation you mean."), reply
            assert "Which one is it: " in reply and all(code in reply for code in codes), reply
            # The answer after that still has the list, and the window seat.
            plan, results, reply, _ = turn(replace(answer, text=codes[0], slots=plan.slots))
            assert plan.slots["pnr"] == codes[0] and plan.slots["kind"] == "window"
            assert re.search(r"(Free|no free) window seats in", reply), reply
    assert outcomes == {0, 1, 2}  # picked, fitting none, fitting several: each was seen


def test_the_seat_kind_asked_for_carries_to_the_answer_and_no_further(
    turn: Turn, world: MockCluster
) -> None:
    customer = _customer_with_trips(world, 2)
    asked, _, reply, _ = turn(
        PlanInput(intent="seat_selection", text="I'd like a window seat", customer_id=customer)
    )
    assert turn.asked is not None and 'Say, for example, "window seat on' in reply
    waiting = PlanInput(
        intent="out_of_scope",
        text="the second one",
        customer_id=customer,
        slots={**asked.slots, **turn.asked.keep},
        pending_flow="seat_selection",
        only_if_answered=True,
    )
    answered, results, reply, _ = turn(waiting)
    assert [r.tool for r in results] == ["getReservation", "getSeatMap"]
    assert answered.slots["kind"] == "window"
    assert re.search(r"(Free|There are no free) window seats in", reply), reply

    # A later seat request, the question answered: the window seat is not wanted any more.
    later, results, reply, _ = turn(
        PlanInput(
            intent="seat_selection",
            text="can I see the seat map?",
            customer_id=customer,
            slots=answered.slots,
        )
    )
    assert [r.tool for r in results] == ["getReservation", "getSeatMap"]
    assert "kind" not in later.slots and "window" not in reply, reply
    # Nor while the flow waits, by a message of the flow's own that does not answer it.
    again, _, reply, _ = turn(
        replace(
            waiting, intent="seat_selection", text="can I see the seat map?", only_if_answered=False
        )
    )
    assert "kind" not in again.slots and "window" not in reply, reply
    assert "Which one is it?" in reply


def test_a_slot_not_remembered_is_not_brought_back_by_another_flow_of_the_turn(
    turn: Turn,
) -> None:
    plan, _, reply, _ = turn(
        PlanInput(
            intent="seat_selection",
            text="show me the seat map and how many miles do I have",
            intents=["seat_selection", "loyalty_balance"],
            customer_id="C-1001",
            slots={"kind": "window", "pnr": "SBX7Q2"},
        )
    )
    assert plan.flow == "seat_selection+loyalty_balance"
    assert "kind" not in plan.slots and "window" not in reply, reply


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("can I bring my dog on the plane?", "Travelling with pets"),
        ("how many bags can I check?", "Checked baggage allowance"),
        ("my suitcase is damaged", "Delayed, damaged or lost baggage"),
        ("how big can my carry-on be?", "Carry-on and personal items"),
    ],
)
def test_a_baggage_question_is_answered_from_the_article_on_it(
    turn: Turn, text: str, title: str
) -> None:
    plan, results, reply, media = turn(PlanInput(intent="baggage_policy", text=text))
    assert plan.steps[0].arguments["q"] == text
    assert reply.startswith(f"{title}: ") and [m.title for m in media] == [title], reply


def test_a_baggage_question_without_an_article_is_not_answered_with_another(turn: Turn) -> None:
    # "bring" is in the pets article: found, but not about surfboards.
    _, results, reply, media = turn(
        PlanInput(intent="baggage_policy", text="can I bring my surfboard?")
    )
    (hit,) = results[0].result["results"]
    assert hit["title"] == "Travelling with pets" and 0 < hit["score"] < 2.75
    assert reply == (
        "I don't have an article on that in our baggage rules, so I can't answer it here. "
        "I can connect you with a colleague who can."
    )
    assert media == []


def test_a_compensation_case_names_the_reservation_only_when_one_was_named(turn: Turn) -> None:
    for text, noted in (
        ("I want compensation for my cancelled flight, reservation SBX7Q2", "Reservation SBX7Q2."),
        ("I want compensation for my cancelled flight", None),
    ):
        plan, results, _, _ = turn(
            PlanInput(intent="compensation_claim", text=text, customer_id="C-1001")
        )
        (case,) = [s for s in plan.steps if s.tool == "createCase"]
        assert case.arguments["description"] == (
            "The customer asked in chat for compensation for a disrupted flight."
        )
        notes = [s.arguments["text"] for s in plan.steps if s.tool == "addInteractionNote"]
        assert notes == ([noted] if noted else []), plan.steps
        assert all(r.ok for r in results), results


def test_a_compensation_request_quotes_the_article_on_what_was_asked(turn: Turn) -> None:
    for text, title in [
        ("can I get a voucher for the delay?", "Compensation claims for disruptions"),
        ("my flight was cancelled, what compensation do I get?", "When your flight is cancelled"),
    ]:
        _, results, reply, _ = turn(
            PlanInput(intent="compensation_claim", text=text, customer_id="C-1001")
        )
        assert all(r.ok for r in results), results
        assert reply.startswith("I've opened case CS-") and title in reply, reply


def _member_with_claims(cluster: MockCluster, count: int) -> str:
    assert cluster.world is not None
    return next(
        member
        for member in sorted(cluster.world.members)
        if len(cluster.world.claims_of(member)) == count
    )


def test_a_member_asking_about_my_claim_chooses_among_their_claims(turn: Turn) -> None:
    asking = PlanInput(
        intent="claim_status", text="hi, what's the status of my claim", customer_id="M-3001"
    )
    plan, results, reply, _ = turn(asking)
    # Served as themself: no office asked for, the member's claims looked up by their own id.
    assert plan.missing_slots == [] and "provider" not in reply, reply
    listed, read = results
    assert (listed.tool, listed.ok, read.outcome) == ("listMemberClaims", True, "rejected")
    assert plan.steps[0].arguments == {"member_id": "M-3001"}
    assert reply.startswith("You have 2 claims: CL-9001 (under review, service on "), reply
    assert "; CL-9002 (paid, service on " in reply and "Which one is it?" in reply
    assert turn.asked is not None
    assert (turn.asked.flow, turn.asked.slots) == ("claim_status", ("claim_id",))
    assert turn.asked.keep["claim_id_options"] == "CL-9001 CL-9002"

    answer = PlanInput(
        intent="out_of_scope",
        text="the first one",
        customer_id="M-3001",
        slots={**plan.slots, **turn.asked.keep},
        pending_flow="claim_status",
        only_if_answered=True,
    )
    plan, results, reply, _ = turn(answer)
    assert plan.slots["claim_id"] == "CL-9001"
    (read,) = results
    assert read.ok and plan.steps[0].arguments == {"claim_id": "CL-9001", "member_id": "M-3001"}
    assert reply.startswith("Your claim CL-9001 (1,450.00 USD, service on "), reply
    assert "is under review, with a decision expected by " in reply
    # "The paid one" names it by what the list showed.
    plan, _, reply, _ = turn(replace(answer, text="the paid one"))
    assert plan.slots["claim_id"] == "CL-9002" and "is paid" in reply, reply


def test_a_member_with_one_claim_gets_its_status_at_once(turn: Turn, world: MockCluster) -> None:
    member = _member_with_claims(world, 1)
    assert world.world is not None
    (claim,) = world.world.claims_of(member)
    _, results, reply, _ = turn(
        PlanInput(intent="claim_status", text="where is my claim?", customer_id=member)
    )
    assert [r.tool for r in results] == ["listMemberClaims", "getClaim"]
    assert all(r.ok for r in results), results
    assert reply.startswith(f"Your claim {claim.claim_id} (") and turn.asked is None, reply


def test_a_member_reads_their_own_claim_and_plan_and_no_one_elses(
    turn: Turn, world: MockCluster
) -> None:
    _, results, reply, _ = turn(
        PlanInput(intent="claim_status", text="where is claim CL-9002?", customer_id="M-3001")
    )
    assert [r.tool for r in results] == ["getClaim"] and results[0].ok
    assert reply.startswith("Your claim CL-9002 (") and "is paid" in reply, reply
    other = _member_with_claims(world, 1)
    assert world.world is not None
    (theirs,) = world.world.claims_of(other)
    _, results, reply, _ = turn(
        PlanInput(
            intent="claim_status", text=f"where is claim {theirs.claim_id}?", customer_id="M-3001"
        )
    )
    assert results[0].http_status == 403
    assert (
        reply
        == f"I couldn't find claim {theirs.claim_id} among your claims. Could you check the id?"
    )

    plan, results, reply, _ = turn(
        PlanInput(intent="benefits_summary", text="what does my plan cover?", customer_id="M-3001")
    )
    assert plan.missing_slots == [] and plan.steps[0].arguments == {"member_id": "M-3001"}
    assert results[0].ok and reply.startswith("Switchboard Dental PPO Plus: preventive 100%")


@pytest.mark.parametrize(
    "answer",
    ["the later one is fine", "yes", "that one", "ok book it", "the 21:10 one", "the first one"],
)
def test_an_answer_to_the_offered_flights_plans_the_rebooking_onto_it(
    turn: Turn, answer: str
) -> None:
    asked = PlanInput(
        intent="rebook_flight",
        text="I need to rebook SBX7Q2 onto a later flight",
        customer_id="C-1001",
    )
    plan, results, reply, _ = turn(asked)
    assert "rebookReservation" not in [r.tool for r in results]
    assert turn.asked is not None and turn.asked.slots == ("new_flight",)
    # The seed: UA891 is the one flight with seats (before or after another test rebooks onto it).
    assert turn.asked.keep["new_flight_options"] == "UA891"
    assert re.search(r"UA891 at \d\d:\d\d local time \(21:10 UTC\)", reply), reply
    # The session keeps the list one turn and waits for the rebooking flow (the router's part);
    # the answer is planned only, never executed here, so the seed's trip stays as it is.
    kept = {**plan.slots, **turn.asked.keep}
    for intent, only in (("out_of_scope", True), ("rebook_flight", False)):
        request = PlanInput(
            intent=intent,
            text=answer,
            customer_id="C-1001",
            slots=kept,
            pending_flow="rebook_flight",
            only_if_answered=only,
        )
        answered = turn.loop.run(turn._plan(request))
        rebook = next(s for s in answered.steps if s.tool == "rebookReservation")
        assert rebook.arguments["flight_number"] == "UA891", (intent, answer)
        assert "new_flight_options" not in answered.slots


def test_a_follow_up_is_the_request_served_last_with_its_new_detail(turn: Turn) -> None:
    asked = "is M-3001 covered for a root canal tomorrow?"
    plan, results, reply, _ = turn(
        PlanInput(intent="eligibility_check", text=asked, customer_id="P-7001")
    )
    assert "eligible for root canal" in reply, reply
    follow = PlanInput(
        intent="eligibility_check",
        text="what about an extraction?",
        customer_id="P-7001",
        slots=plan.slots,
        follow_up=True,
    )
    again, results, reply, _ = turn(follow)
    # The member and the date are the last request's; the treatment is this message's.
    assert again.flow == "eligibility_check"
    assert (again.slots["member_id"], again.slots["procedure_code"]) == ("M-3001", "D7140")
    assert again.slots["date_of_service"] == plan.slots["date_of_service"]
    assert "eligible for extraction" in reply, reply

    # Words that give the request no detail: no plan, the message goes its usual way.
    for text in ("what about the weather?", "and thanks"):
        empty, results, _, _ = turn(replace(follow, text=text))
        assert (empty.flow, empty.steps, results) == ("", [], []), text
    # An aside (a greeting) has no detail to follow up.
    empty, _, _, _ = turn(replace(follow, intent="greeting"))
    assert empty.flow == ""


def test_a_why_question_shows_a_reading_request_again_and_never_a_change(turn: Turn) -> None:
    plan, _, first, _ = turn(
        PlanInput(intent="withdrawal_status", text="where is my withdrawal?", customer_id="C-1002")
    )
    assert "W-5001" in first, first
    why = PlanInput(
        intent="withdrawal_status",
        text="why is it pending?",
        customer_id="C-1002",
        slots=plan.slots,
        again=True,
    )
    shown, results, reply, _ = turn(why)
    assert shown.flow == "withdrawal_status"
    assert [s.tool for s in shown.steps] == ["listWithdrawals"]
    assert "on hold: source-of-funds documents requested" in reply, reply

    # A flow that changes something is not run again by a question about it, nor is an aside.
    for intent, slots in (
        ("cancel_reservation", {"pnr": "SBX7Q2"}),
        ("greeting", {}),
    ):
        empty, results, _, _ = turn(
            PlanInput(intent=intent, text="why?", customer_id="C-1001", slots=slots, again=True)
        )
        assert (empty.flow, empty.steps, results) == ("", [], []), intent
