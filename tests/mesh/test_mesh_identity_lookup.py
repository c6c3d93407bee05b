"""The session's identity lookup: a customer found not verified is not looked up on every turn.

The router under test shares the mesh's session, pii, governance and tool-broker services and the
mock backends, and runs on a clock the tests move by hand. Its planner is scripted: a turn's plan
is whatever the test queued for the session (none: a plan without steps), so each test decides
which tools run, against the real broker and CRM mock.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import grpc
import httpx
import pytest
from grpc import aio
from harness import LoopThread, send_turn, start_service

from mocks.common.app import backend_of
from mocks.world.model import Verification
from services.mesh import Mesh
from services.router.service import RouterService
from services.runtime.convert import dict_to_struct
from services.runtime.server import GrpcServer
from switchboard.v1 import (
    common_pb2,
    planner_pb2,
    planner_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)

TTL_S = 60.0
DOB = date(1985, 4, 12)
#: CRM ids no other test uses (the contract allows up to eight digits)
_IDS = itertools.count(9_100_001)


class Clock:
    """Wall-clock time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedPlanner(planner_pb2_grpc.PlannerServiceServicer):
    """Plans what a test queued for the session, and composes a fixed reply."""

    def __init__(self) -> None:
        self.steps: dict[str, list[dict[str, Any]]] = {}
        #: runs while the router waits for the plan (between its session read and write)
        self.meanwhile: dict[str, Callable[[], Awaitable[None]]] = {}
        self.texts: list[str] = []

    async def Plan(  # noqa: N802 - gRPC method name
        self, request: planner_pb2.PlanRequest, context: Any
    ) -> AsyncIterator[planner_pb2.PlanResponse]:
        self.texts.append(request.text)
        if (meanwhile := self.meanwhile.pop(request.session_id, None)) is not None:
            await meanwhile()
        plan = common_pb2.Plan(id=f"plan-{request.turn_id}", flow="scripted", tier="embedded")
        for step in self.steps.pop(request.session_id, []):
            plan.steps.add(
                id=step["id"], tool=step["tool"], arguments=dict_to_struct(step["arguments"])
            )
        yield planner_pb2.PlanResponse(plan=plan)

    async def Compose(  # noqa: N802 - gRPC method name
        self, request: planner_pb2.ComposeRequest, context: Any
    ) -> AsyncIterator[planner_pb2.ComposeResponse]:
        yield planner_pb2.ComposeResponse(text_delta="Done.")
        yield planner_pb2.ComposeResponse(usage=common_pb2.TokenUsage())


class ScriptedPlannerService:
    name = "planner"
    service_names = ("switchboard.v1.PlannerService",)

    def __init__(self, planner: ScriptedPlanner) -> None:
        self.planner = planner

    def register(self, server: aio.Server) -> None:
        planner_pb2_grpc.add_PlannerServiceServicer_to_server(self.planner, server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclasses.dataclass
class Router:
    server: GrpcServer
    clock: Clock
    planner: ScriptedPlanner

    @property
    def target(self) -> str:
        return self.server.target


@pytest.fixture(scope="module")
def planner(loop_thread: LoopThread) -> Iterator[GrpcServer]:
    server = start_service(loop_thread, ScriptedPlannerService(ScriptedPlanner()))
    yield server
    loop_thread.run(server.stop())


def _start_router(loop_thread: LoopThread, mesh: Mesh, planner: GrpcServer, ttl_s: float) -> Router:
    settings = mesh.settings.model_copy(deep=True)
    settings.router.port = 0
    settings.router.identity_cache_ttl_s = ttl_s
    settings.planner.address = planner.target
    service = RouterService(settings)
    server = start_service(loop_thread, service)
    clock = Clock()
    assert service.servicer.runner is not None
    service.servicer.runner.clock = clock
    scripted = planner.service
    assert isinstance(scripted, ScriptedPlannerService)
    return Router(server, clock, scripted.planner)


@pytest.fixture(scope="module")
def router(loop_thread: LoopThread, mesh: Mesh, planner: GrpcServer) -> Iterator[Router]:
    running = _start_router(loop_thread, mesh, planner, TTL_S)
    yield running
    loop_thread.run(running.server.stop())


@pytest.fixture
def customer(mesh: Mesh) -> Iterator[str]:
    """A CRM customer of this test alone, not verified; "Summer Field" reads as plain words."""
    assert mesh.mocks.world is not None
    customers = mesh.mocks.world.customers
    customer_id = f"C-{next(_IDS)}"
    customers[customer_id] = dataclasses.replace(
        customers["C-1002"],
        customer_id=customer_id,
        first_name="Summer",
        last_name="Field",
        email=f"{customer_id.lower()}@example.com",
        date_of_birth=DOB,
        verification=Verification(status="unverified"),
        redemptions=[],
        notes=[],
    )
    yield customer_id
    del customers[customer_id]


def _session_id() -> str:
    return f"identity-{uuid.uuid4().hex[:12]}"


def lookups(mesh: Mesh, customer_id: str) -> int:
    """How many times the CRM was asked for the customer's record."""
    log = backend_of(mesh.mocks.apps["crm"]).log
    return sum(
        1
        for r in log.records()
        if r.operation_id == "getCustomer" and r.path == f"/customers/{customer_id}"
    )


def session(mesh: Mesh, session_id: str) -> session_pb2.Session:
    with grpc.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        request = session_pb2.GetSessionRequest(session_id=session_id)
        return stub.GetSession(request, timeout=10).session


def turns(mesh: Mesh, session_id: str) -> list[session_pb2.TurnRecord]:
    with grpc.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        request = session_pb2.ListTurnsRequest(session_id=session_id)
        return list(stub.ListTurns(request, timeout=10).turns)


def turn(target: str, session_id: str, text: str, customer_id: str) -> list[Any]:
    """Run a turn; return its step results (it must complete without falling back)."""
    done = send_turn(target, session_id, text, customer_id)
    assert done.kinds[-1] == "turn_completed", done.kinds
    assert not done.of("fallback"), done.of_kind("fallback")
    return [f.result for f in done.of_kind("step_finished")]


def verify_at_the_crm(mesh: Mesh, customer_id: str) -> None:
    """The customer verifies through another channel: the CRM's own API, not this session."""
    response = httpx.post(
        f"{mesh.mocks.base_urls['crm']}/customers/{customer_id}/verification",
        json={"date_of_birth": DOB.isoformat()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["matched"], response.text


QUESTION = "What is the status of my identity verification?"


async def record_elsewhere(
    mesh: Mesh, session_id: str, customer_id: str, *, identity_verified: bool | None = None
) -> None:
    """Record a turn "elsewhere" of the session, as another router replica would."""
    async with aio.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        current = await stub.GetSession(session_pb2.GetSessionRequest(session_id=session_id))
        await stub.AppendTurn(
            session_pb2.AppendTurnRequest(
                session_id=session_id,
                expected_version=current.session.version,
                turn=session_pb2.TurnRecord(
                    turn_id="elsewhere",
                    customer_text="[elsewhere]",
                    status=session_pb2.TURN_STATUS_COMPLETED,
                ),
                customer_id=customer_id,
                identity_verified=identity_verified,
            )
        )


def test_consecutive_turns_look_an_unverified_customer_up_once(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    for _ in range(3):
        turn(router.target, session_id, QUESTION, customer)
        router.clock.advance(5)
    assert lookups(mesh, customer) == 1
    state = session(mesh, session_id)
    assert not state.identity_verified
    assert state.identity_lookup.customer_id == customer


def test_the_names_are_masked_on_turns_that_rely_on_the_lookup(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    router.planner.texts.clear()
    turn(router.target, session_id, "hi, this is summer FIELD about my verification", customer)
    assert lookups(mesh, customer) == 1
    records = turns(mesh, session_id)
    for text in [records[-1].customer_text, *router.planner.texts]:
        assert "summer" not in text.lower() and "field" not in text.lower(), text
        assert "<PERSON_" in text, text


def test_a_lookup_is_made_again_once_it_is_older_than_the_ttl(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    verify_at_the_crm(mesh, customer)
    # Within the ttl the session still relies on its lookup: the customer counts as not verified
    # (the safe side), for at most the ttl.
    router.clock.advance(TTL_S - 1)
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 1
    assert not session(mesh, session_id).identity_verified
    router.clock.advance(2)
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 2
    state = session(mesh, session_id)
    assert state.identity_verified and not state.HasField("identity_lookup")
    # Verified is kept for the session: no more lookups.
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 2


def test_a_lookup_dated_in_the_future_is_not_relied_on(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    # Another replica's clock runs behind this one: its reading of the age cannot be trusted.
    router.clock.advance(-1)
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 2


def test_a_turn_that_verifies_the_customer_drops_the_lookup(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    router.planner.steps[session_id] = [
        {
            "id": "verify",
            "tool": "verifyCustomerIdentity",
            "arguments": {"customer_id": customer, "date_of_birth": "<DOB_1>"},
        }
    ]
    (verified,) = turn(
        router.target,
        session_id,
        f"Please verify my identity, my date of birth is {DOB.isoformat()}.",
        customer,
    )
    assert verified.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, verified.error
    assert lookups(mesh, customer) == 1
    assert not session(mesh, session_id).HasField("identity_lookup")
    # The next turn, at once, looks the customer up again and finds them verified.
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 2
    assert session(mesh, session_id).identity_verified


def test_a_turn_whose_tools_are_read_only_keeps_the_lookup(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    router.planner.steps[session_id] = [
        {"id": "state", "tool": "getIdentityVerification", "arguments": {"customer_id": customer}}
    ]
    (state,) = turn(router.target, session_id, QUESTION, customer)
    assert state.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, state.error
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 1


def test_a_turn_for_another_customer_looks_them_up(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)
    other = f"C-{next(_IDS)}"
    assert mesh.mocks.world is not None
    mesh.mocks.world.customers[other] = dataclasses.replace(
        mesh.mocks.world.customers[customer], customer_id=other
    )
    try:
        turn(router.target, session_id, QUESTION, other)
        assert lookups(mesh, other) == 1
        assert session(mesh, session_id).identity_lookup.customer_id == other
    finally:
        del mesh.mocks.world.customers[other]


def test_a_write_that_raced_the_turn_drops_the_lookup(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(router.target, session_id, QUESTION, customer)

    # Another router's turn of the session is recorded while this one runs; it keeps no lookup
    # (it may have verified the customer).
    router.planner.meanwhile[session_id] = lambda: record_elsewhere(mesh, session_id, customer)
    turn(router.target, session_id, QUESTION, customer)
    assert [r.turn_id for r in turns(mesh, session_id)][1] == "elsewhere"
    assert lookups(mesh, customer) == 1
    # This turn relied on the lookup, but its write came after the other one: it keeps none.
    assert not session(mesh, session_id).HasField("identity_lookup")
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 2


def test_every_router_replica_relies_on_the_sessions_lookup(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()
    turn(mesh.target("router"), session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 1
    # The other replica's clock, a second on (the tests move this router's clock far ahead).
    router.clock.now = time.time() + 1
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 1


def test_with_the_ttl_at_zero_every_turn_looks_the_customer_up(
    loop_thread: LoopThread, mesh: Mesh, planner: GrpcServer, customer: str
) -> None:
    uncached = _start_router(loop_thread, mesh, planner, 0.0)
    try:
        session_id = _session_id()
        for _ in range(3):
            turn(uncached.target, session_id, QUESTION, customer)
    finally:
        loop_thread.run(uncached.server.stop())
    assert lookups(mesh, customer) == 3
    assert not session(mesh, session_id).HasField("identity_lookup")


@pytest.fixture
def another_customer(mesh: Mesh, customer: str) -> Iterator[str]:
    """A second unverified CRM customer, a copy of ``customer`` under a new id."""
    assert mesh.mocks.world is not None
    customers = mesh.mocks.world.customers
    customer_id = f"C-{next(_IDS)}"
    customers[customer_id] = dataclasses.replace(
        customers[customer],
        customer_id=customer_id,
        email=f"{customer_id.lower()}@example.com",
        verification=Verification(status="unverified"),
    )
    yield customer_id
    del customers[customer_id]


def test_a_verification_does_not_pass_to_another_customer_of_the_session(
    mesh: Mesh, router: Router, customer: str, another_customer: str
) -> None:
    session_id = _session_id()
    verify_at_the_crm(mesh, customer)
    turn(router.target, session_id, QUESTION, customer)
    assert session(mesh, session_id).identity_verified
    # The same session now speaks for another customer: their state is the CRM's to say.
    turn(router.target, session_id, QUESTION, another_customer)
    assert lookups(mesh, another_customer) == 1
    state = session(mesh, session_id)
    assert state.customer_id == another_customer and not state.identity_verified


def test_a_verification_recorded_while_a_turn_ran_is_not_taken_back(
    mesh: Mesh, router: Router, customer: str
) -> None:
    session_id = _session_id()

    # While this turn runs (its lookup found the customer not verified), another router's turn
    # verifies them and is recorded first.
    router.planner.meanwhile[session_id] = lambda: record_elsewhere(
        mesh, session_id, customer, identity_verified=True
    )
    turn(router.target, session_id, QUESTION, customer)
    assert lookups(mesh, customer) == 1
    assert [r.turn_id for r in turns(mesh, session_id)][0] == "elsewhere"
    # This turn's write was retried after the other one: it does not take the verification back.
    assert session(mesh, session_id).identity_verified
