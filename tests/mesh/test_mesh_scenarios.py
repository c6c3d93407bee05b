"""The issue's scenarios through the whole mesh: the storm rebooking and the dental office."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from harness import LoopThread

from mocks.common.app import backend_of
from mocks.common.faults import FaultConfig, FaultSpec, Latency
from mocks.world import World
from mocks.world.model import Flight, Reservation, Segment
from mocks.world.reference import TIMEZONES
from services.mesh import Mesh
from services.runtime.server import GrpcServer
from services.session.service import build as build_session
from switchboard.v1 import (
    common_pb2,
    events_pb2,
    pii_pb2,
    pii_pb2_grpc,
    router_pb2,
    router_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)

STORM = (
    "My flight tomorrow got cancelled because of the storm — get me on the next one and use my "
    "miles for an upgrade"
)


def turn(mesh: Mesh, session: str, text: str, customer: str) -> list[events_pb2.TurnEvent]:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session, text=text, customer_id=customer)
        events = [r.event for r in stub.SendTurn(request, timeout=30)]
    assert events[-1].WhichOneof("event") == "turn_completed", events[-1]
    return events


def finished(
    events: list[events_pb2.TurnEvent], by: str = "tool"
) -> dict[str, common_pb2.StepResult]:
    """The turn's step results by tool, or by step id (``by="step_id"``: a flow may call one
    tool from two steps)."""
    return {
        getattr(e.step_finished.result, by): e.step_finished.result
        for e in events
        if e.WhichOneof("event") == "step_finished"
    }


def intent(events: list[events_pb2.TurnEvent]) -> str:
    """The intent the turn's classification found."""
    (found,) = [e.intent.name for e in events if e.WhichOneof("event") == "intent"]
    return found


def reply(events: list[events_pb2.TurnEvent]) -> str:
    return events[-1].turn_completed.reply


def session_of(mesh: Mesh, session: str) -> session_pb2.Session:
    """The session as the session service holds it."""
    with grpc.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        request = session_pb2.GetSessionRequest(session_id=session)
        return stub.GetSession(request, timeout=10).session


def pending_flow(mesh: Mesh, session: str) -> str:
    """The flow the session holds waiting for the customer's answer."""
    return session_of(mesh, session).pending_flow


def masked(mesh: Mesh, text: str) -> str:
    """The text as the pii service masks it (in a session of its own)."""
    with grpc.insecure_channel(mesh.target("pii")) as channel:
        stub = pii_pb2_grpc.PiiServiceStub(channel)
        request = pii_pb2.RedactRequest(session_id="masking-probe", text=text)
        return stub.Redact(request, timeout=10).text


def shown_day(value: date) -> str:
    """A day as replies show it ("Fri 27 Nov", the flows' ``day`` filter)."""
    return value.strftime("%a %d %b").replace(" 0", " ")


def world_of(mesh: Mesh) -> World:
    """The mocks' shared world, which a test may read and (restoring it) change."""
    world: World | None = mesh.mocks.world
    assert world is not None
    return world


def clear_logs(mesh: Mesh, *backends: str) -> None:
    """Empty the backends' request logs, so that a test reads only its own calls."""
    for backend in backends:
        backend_of(mesh.mocks.apps[backend]).log.clear()


@contextlib.contextmanager
def trip_restored(mesh: Mesh, pnr: str, customer: str, flights: list[Flight]) -> Iterator[Segment]:
    """The reservation's one segment, put back afterwards as it was, with the flights' seat
    counts and the customer's notes; the booking and crm logs are emptied before and after.
    For a test that rebooks a demo trip other tests rely on."""
    world = world_of(mesh)
    (segment,) = world.reservations[pnr].segments
    kept = (segment.flight_number, segment.date, segment.status, dict(segment.seats))
    sold = {flight.key: dict(flight.sold) for flight in flights}
    notes = len(world.customers[customer].notes)
    clear_logs(mesh, "booking", "crm")
    try:
        yield segment
    finally:
        segment.flight_number, segment.date, segment.status = kept[:3]
        segment.seats.clear()
        segment.seats.update(kept[3])
        for flight in flights:
            flight.sold.clear()
            flight.sold.update(sold[flight.key])
        del world.customers[customer].notes[notes:]
        clear_logs(mesh, "booking", "crm")


def only_trip(mesh: Mesh, fits: Callable[[Reservation], bool]) -> Reservation:
    """A generated customer's only reservation, confirmed, that ``fits``: a trip the customer's
    "my flight" finds without a code, and that no demo scenario relies on."""
    world = world_of(mesh)
    return next(
        r
        for r in world.reservations.values()
        if r.customer_id.startswith("C-2")
        and len(world.reservations_of(r.customer_id)) == 1
        and r.status == "confirmed"
        and fits(r)
    )


def listed(mesh: Mesh, number: str, day: date) -> str:
    """A flight as rebook_flight lists it, "UA891 at 15:10 local time (21:10 UTC)": the local
    time is the origin's, so the text follows the season."""
    flight = world_of(mesh).flight(number, day)
    assert flight is not None, (number, day)
    departs = flight.scheduled_departure
    local = departs.astimezone(ZoneInfo(TIMEZONES[flight.origin]))
    utc = f"{departs:%H:%M} UTC"
    if local.date() != departs.date():
        utc += f" on {shown_day(departs.date())}"
    return f"{number} at {local:%H:%M} local time ({utc})"


def shown_at(number: str, utc: str) -> re.Pattern[str]:
    """A flight as a list shows it, whatever the season: "UA891 at 15:10 local time (21:10 UTC)"
    for ``utc`` "21:10"."""
    return re.compile(rf"{number} at \d\d:\d\d local time \({utc} UTC\)")


def calls(mesh: Mesh, backend: str, *operations: str) -> list[Any]:
    """The backend's logged requests of these operations, as the mock recorded them."""
    log = backend_of(mesh.mocks.apps[backend]).log
    return [r for r in log.records() if r.operation_id in operations]


@contextlib.contextmanager
def latency(mesh: Mesh, backend: str, mean_ms: float) -> Iterator[None]:
    """Give the backend a steady latency, so that concurrent calls visibly overlap."""
    faults = backend_of(mesh.mocks.apps[backend]).faults
    before = faults.config
    faults.configure(
        FaultConfig(default=FaultSpec(latency=Latency(distribution="constant", mean_ms=mean_ms)))
    )
    try:
        yield
    finally:
        faults.configure(before)


def overlap(records: list[Any]) -> bool:
    """Whether every pair of the requests was in flight at the same moment."""
    latest_start = max(r.started_at for r in records)
    earliest_end = min(r.ended_at for r in records)
    return latest_start < earliest_end


def restart_session_service(mesh: Mesh, loop_thread: LoopThread) -> None:
    """Stop the session service and start a new one on the same port and store."""
    old = mesh.servers["session"]
    loop_thread.run(old.stop())
    server = GrpcServer(build_session(mesh.settings), "127.0.0.1", old.port, stop_grace_s=0.5)
    loop_thread.run(server.start())
    mesh.servers["session"] = server


def test_the_storm_rebooking_runs_concurrently_and_acts_only_once_confirmed(
    mesh: Mesh, loop_thread: LoopThread
) -> None:
    backend_of(mesh.mocks.apps["booking"]).log.clear()
    with latency(mesh, "booking", 80):
        first = turn(mesh, "storm-1", STORM, "C-1001")
    results = finished(first)
    for tool in ("listCustomerReservations", "getFlightStatus", "getFareRules", "searchFlights"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    assert "cancelled" in reply(first) and "UA891" in reply(first)
    # Status, fare rules and alternatives depend only on the reservation: they ran at once.
    fetched = calls(mesh, "booking", "getFlightStatus", "getFareRules", "searchFlights")
    assert len(fetched) == 3
    assert overlap(fetched)

    # Naming the flight is not yet consent: the change waits for an explicit yes.
    asked = turn(mesh, "storm-1", "please book UA891 for me and use my miles to upgrade", "C-1001")
    held = finished(asked)["rebookReservation"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    assert "confirm" in reply(asked).lower() and "upgrade" in reply(asked)
    assert not calls(mesh, "booking", "rebookReservation")
    assert not calls(mesh, "crm", "redeemMiles")

    # The customer comes back later; the session store restarts in between. The change still
    # waits, and asking about it does not redo it.
    restart_session_service(mesh, loop_thread)
    later = turn(mesh, "storm-1", "did you manage to rebook me?", "C-1001")
    assert reply(later).startswith("Not yet") and "rebookReservation" not in finished(later)
    assert not calls(mesh, "booking", "rebookReservation")

    done = turn(mesh, "storm-1", "yes, go ahead", "C-1001")
    results = finished(done)
    assert results["rebookReservation"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert results["addInteractionNote"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    media = [e.rich_media for e in done if e.WhichOneof("event") == "rich_media"]
    assert [m.kind for m in media] == [common_pb2.MEDIA_KIND_IMAGE]
    assert len(calls(mesh, "booking", "rebookReservation")) == 1
    assert len(calls(mesh, "crm", "redeemMiles")) == 1
    assert len(calls(mesh, "crm", "addInteractionNote")) == 1
    assert "UA891" in reply(done) and "64,000 left" in reply(done)
    # The miles bought the cabin: the trip is in business on the new flight.
    assert len(calls(mesh, "booking", "upgradeReservation")) == 1
    assert "You're now in business on it" in reply(done), reply(done)
    assert mesh.mocks.world is not None
    (segment,) = mesh.mocks.world.reservations["SBX7Q2"].segments
    assert (segment.flight_number, segment.cabin) == ("UA891", "business")

    # A second yes has nothing left to confirm and changes nothing.
    again = turn(mesh, "storm-1", "yes", "C-1001")
    assert "rebookReservation" not in finished(again)
    assert len(calls(mesh, "booking", "rebookReservation")) == 1


def test_declining_drops_the_waiting_change(mesh: Mesh) -> None:
    turn(mesh, "storm-2", STORM, "C-1005")
    before = len(calls(mesh, "booking", "rebookReservation"))
    # DL2209 leaves the day after the cancelled DL2207: the flight offered, held for a yes.
    asked = turn(mesh, "storm-2", "book DL2209", "C-1005")
    assert "confirm" in reply(asked).lower() or "rebookReservation" not in finished(asked)
    declined = turn(mesh, "storm-2", "no, don't do that", "C-1005")
    assert "rebookReservation" not in finished(declined)
    follow_up = turn(mesh, "storm-2", "yes", "C-1005")
    assert "rebookReservation" not in finished(follow_up)
    assert len(calls(mesh, "booking", "rebookReservation")) == before


def test_a_dental_office_gets_eligibility_benefits_and_claim_in_one_turn(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    with latency(mesh, "claims", 80):
        events = turn(
            mesh,
            "dental-1",
            "Is member M-3001 eligible for a ceramic crown next Tuesday, and where is claim "
            "CL-9001?",
            "P-7001",
        )
    results = finished(events)
    for tool in ("checkEligibility", "getBenefits", "getClaim"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    assert overlap(calls(mesh, "claims", "checkEligibility", "getBenefits", "getClaim"))
    text = reply(events)
    assert "under review" in text and "not a guarantee of payment" in text
    policies = [e.policy for e in events if e.WhichOneof("event") == "policy"]
    assert any(p.action == common_pb2.POLICY_ACTION_DISCLAIM for p in policies)


def test_a_provider_search_shows_the_offices_as_the_directory_lists_them(mesh: Mesh) -> None:
    # The directory is public reference data (x-switchboard-public in the claims contract): the
    # detector would read "Bright Smile Dental" as a person and mask the office's phone.
    events = turn(mesh, "dental-2", "Can you find a dentist that takes new patients?", "M-3001")
    results = finished(events)
    assert results["searchProviders"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    text = reply(events)
    assert "Bright Smile Dental" in text and "+12175550101" in text, text
    assert "<PERSON_" not in text and "<PHONE_" not in text, text


def test_a_provider_search_keeps_to_the_city_the_customer_names(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    events = turn(mesh, "dental-3", "Is there a dentist in Springfield taking new patients?", "")
    (search,) = calls(mesh, "claims", "searchProviders")
    assert search.query.get("city") == "Springfield", search
    text = reply(events)
    assert "Bright Smile Dental" in text and "Oakland" not in text, text
    # "in March" is a date, not a place: no city is asked for.
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    turn(mesh, "dental-4", "Can you find me a dentist in March?", "")
    (search,) = calls(mesh, "claims", "searchProviders")
    assert "city" not in search.query, search


def test_a_city_that_is_a_given_name_too_still_narrows_the_search(mesh: Mesh) -> None:
    """A city named "Austin" is masked as a person on the way in; the search gets the city all
    the same, and the model side never saw it."""
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    events = turn(mesh, "dental-austin", "I need a dentist near Austin", "M-3001")
    (search,) = calls(mesh, "claims", "searchProviders")
    assert search.query.get("city") == "Austin", search
    (plan,) = [e.plan for e in events if e.WhichOneof("event") == "plan"]
    assert "Austin" not in str(plan), plan
    text = reply(events)
    assert "Okafor Dentistry" in text and "Springfield" not in text, text


def test_a_seat_request_finds_the_customers_reservation_on_the_flight_named(mesh: Mesh) -> None:
    world = mesh.mocks.world

    def confirmed(customer: str) -> list[Any]:
        return [r for r in world.reservations_of(customer) if r.status == "confirmed"]

    # A customer with one reservation on UA457 and another trip besides: the flight they name
    # is what makes the reservation unambiguous.
    customer, pnr = next(
        (customer, on[0].pnr)
        for customer in world.customers
        if len(on := [r for r in confirmed(customer) if r.segments[0].flight_number == "UA457"])
        == 1
        and len(confirmed(customer)) > 1
    )
    events = turn(mesh, "seat-1", "I want a window seat on UA457", customer)
    results = finished(events)
    for tool in ("listCustomerReservations", "getReservation", "getSeatMap"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    (listed,) = [
        r for r in calls(mesh, "booking", "listCustomerReservations") if customer in r.path
    ]
    assert listed.query.get("flight_number") == "UA457"
    text = reply(events)
    assert "reservation code" not in text
    assert "seat map for flight UA457" in text and f"(reservation {pnr})" in text, text
    media = [e.rich_media for e in events if e.WhichOneof("event") == "rich_media"]
    assert [m.kind for m in media] == [common_pb2.MEDIA_KIND_FORM]


def test_the_seat_map_says_the_seat_the_traveller_has(mesh: Mesh) -> None:
    trip = only_trip(mesh, lambda r: not r.segments[0].seats)
    segment = trip.segments[0]
    passenger = trip.passengers[0].passenger_id
    none = turn(mesh, "seat-mine-1", "what seat am I in?", trip.customer_id)
    assert reply(none).startswith("You have no seat on this flight yet."), reply(none)
    segment.seats[passenger] = "14C"
    try:
        mine = turn(mesh, "seat-mine-2", "what seat am I in?", trip.customer_id)
    finally:
        del segment.seats[passenger]
    assert reply(mine).startswith("Your seat on this flight is 14C."), reply(mine)
    assert f"(reservation {trip.pnr})" in reply(mine), reply(mine)


def test_a_boarding_pass_refusal_is_explained_without_the_backends_words(mesh: Mesh) -> None:
    events = turn(mesh, "pass-1", "Can I get my boarding pass for K4M9TZ?", "C-1005")
    issued = finished(events)["getBoardingPass"]
    assert issued.outcome == common_pb2.STEP_OUTCOME_FAILED and issued.http_status == 409
    text = reply(events)
    assert text.startswith("Flight DL2207 on ")
    assert "is cancelled, so there is no boarding pass for it" in text, text
    detail = issued.error.rsplit(": ", 1)[-1]  # "DL2207 on <date> is cancelled; no boarding pass"
    assert detail and detail not in text
    assert "409" not in text and "Conflict" not in text and "booking answered" not in text

    # Check-in not open yet, for the customer's only trip (found without a code).
    world = mesh.mocks.world

    def far_off(trip: Reservation) -> bool:
        segment = trip.segments[0]
        flight = world.flight(segment.flight_number, segment.date)
        return (
            flight is not None
            and flight.status != "cancelled"
            and flight.scheduled_departure - world.now > timedelta(hours=49)
        )

    trip = only_trip(mesh, far_off)
    events = turn(mesh, "pass-2", "Can I get my boarding pass?", trip.customer_id)
    issued = finished(events)["getBoardingPass"]
    assert issued.http_status == 409 and "check-in opens" in issued.error
    text = reply(events)
    assert text.startswith(f"Check-in for flight {trip.segments[0].flight_number} isn't open yet")
    assert issued.error.rsplit(": ", 1)[-1] not in text and "409" not in text


def test_two_requests_are_answered_in_the_order_the_customer_raised_them(mesh: Mesh) -> None:
    events = turn(
        mesh, "order-1", "has UA 123 been delayed and how many loyalty miles do I have", "C-1001"
    )
    (intent,) = [e.intent for e in events if e.WhichOneof("event") == "intent"]
    # The premise: the classifier is surer of the request raised second.
    assert intent.name == "loyalty_balance", intent
    assert list(intent.intents) == ["flight_status", "loyalty_balance"], intent
    (plan,) = [e.plan.plan for e in events if e.WhichOneof("event") == "plan"]
    assert plan.flow == "flight_status+loyalty_balance"
    status, balance = reply(events).split("\n\n")
    assert "flight UA123" in status and "cancelled" in status
    assert "Gold tier" in balance and "miles" in balance


@pytest.mark.parametrize("masked_alone", [False, True], ids=["left-alone", "masked-alone"])
def test_the_code_alone_answers_which_reservation_on_the_next_turn(
    mesh: Mesh, masked_alone: bool
) -> None:
    world = mesh.mocks.world
    # A customer with two confirmed trips, one under a code of letters only (the booking mock
    # issues such codes). The pii service reads some of those, sent alone, as names in capitals
    # and masks them; one the reply listed is written back by the router all the same.
    customer, code = next(
        (customer, trip.pnr)
        for customer in sorted(world.customers)
        if len(trips := [r for r in world.reservations_of(customer) if r.status == "confirmed"])
        == 2
        for trip in trips
        if trip.pnr.isalpha() and (masked(mesh, trip.pnr) != trip.pnr) == masked_alone
    )
    session = f"which-1-{masked_alone}"
    asked = turn(mesh, session, "give me seat 12C", customer)
    assert "Which one is it?" in reply(asked) and code in reply(asked), reply(asked)
    assert pending_flow(mesh, session) == "seat_selection"

    backend_of(mesh.mocks.apps["booking"]).log.clear()
    answered = turn(mesh, session, code, customer)
    assert not [e for e in answered if e.WhichOneof("event") == "fallback"], reply(answered)
    (plan,) = [e.plan.plan for e in answered if e.WhichOneof("event") == "plan"]
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == code
    results = finished(answered)
    for tool in ("getReservation", "getSeatMap"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    assert f"(reservation {code})" in reply(answered), reply(answered)
    # The seat named when the question was asked is not replayed: no seat was assigned.
    assert not calls(mesh, "booking", "assignSeat")
    assert pending_flow(mesh, session) == ""


def test_an_answer_the_classifier_cannot_place_is_served_as_the_flow_that_asked(
    mesh: Mesh,
) -> None:
    asked = turn(mesh, "which-2", "what's the status of my flight?", "")
    assert reply(asked).startswith("Which flight is it?")
    answered = turn(mesh, "which-2", "UA 123", "")
    status = finished(answered)["getFlightStatus"]
    assert status.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, status.error
    assert "UA123" in reply(answered) and "cancelled" in reply(answered), reply(answered)

    # The output checks govern the answer as the flow's intent: the benefits disclaimer comes.
    asked = turn(
        mesh, "which-3", "Is the member eligible for a ceramic crown next Tuesday?", "P-7001"
    )
    assert reply(asked).startswith("What is the member's id?")
    answered = turn(mesh, "which-3", "M-3001", "P-7001")
    assert finished(answered)["checkEligibility"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert "eligible" in reply(answered) and "not a guarantee of payment" in reply(answered)


def test_which_reservation_is_answered_by_its_position_in_the_list_shown(mesh: Mesh) -> None:
    customer = "C-5607"
    codes = [r.pnr for r in mesh.mocks.world.reservations_of(customer) if r.status == "confirmed"]
    assert len(codes) == 2, codes
    asked = turn(mesh, "which-4", "I'd like a window seat", customer)
    text = reply(asked)
    assert "Which one is it?" in text and all(code in text for code in codes), text
    assert pending_flow(mesh, "which-4") == "seat_selection"
    shown = sorted(codes, key=text.index)

    backend_of(mesh.mocks.apps["booking"]).log.clear()
    answered = turn(mesh, "which-4", "the second one", customer)
    assert not [e for e in answered if e.WhichOneof("event") == "fallback"], reply(answered)
    (plan,) = [e.plan.plan for e in answered if e.WhichOneof("event") == "plan"]
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == shown[1]
    assert "pnr_options" not in plan.slots
    results = finished(answered)
    for tool in ("getReservation", "getSeatMap"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    (read,) = calls(mesh, "booking", "getReservation")
    assert shown[1] in read.path and shown[0] not in read.path
    assert "seat map for flight" in reply(answered), reply(answered)
    assert f"(reservation {shown[1]})" in reply(answered), reply(answered)
    assert not calls(mesh, "booking", "assignSeat", "listCustomerReservations")
    assert pending_flow(mesh, "which-4") == ""


def test_a_change_a_rule_refuses_is_not_put_to_the_customer_for_confirmation(mesh: Mesh) -> None:
    # C-5607's identity is not verified: cancelling needs both a confirmation (the contract)
    # and a verified identity (the airline pack). A "yes" cannot lift the second, so the turn
    # does not ask for one.
    asked = turn(mesh, "refused-1", "cancel my reservation DMJ5SB", "C-5607")
    held = finished(asked)["cancelReservation"]
    actions = {v.action for v in held.verdicts}
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert {common_pb2.POLICY_ACTION_CONFIRM, common_pb2.POLICY_ACTION_BLOCK} <= actions
    assert "Reply yes to go ahead" not in reply(asked), reply(asked)
    assert "haven't cancelled" in reply(asked), reply(asked)
    assert not session_of(mesh, "refused-1").pending_plan.steps
    assert not calls(mesh, "booking", "cancelReservation")
