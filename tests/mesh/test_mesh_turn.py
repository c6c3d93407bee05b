"""A turn through the whole mesh: every stage real, over gRPC and HTTP on loopback."""

from __future__ import annotations

from concurrent import futures

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.mesh import START_ORDER, Mesh
from switchboard.v1 import common_pb2, events_pb2, router_pb2, router_pb2_grpc

FLIGHT_QUESTION = "Is flight UA 123 on time?"


def send_turn(mesh: Mesh, **fields: str) -> list[router_pb2.SendTurnResponse]:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        return list(stub.SendTurn(router_pb2.SendTurnRequest(**fields), timeout=30))


def kinds(responses: list[router_pb2.SendTurnResponse]) -> list[str]:
    return [r.event.WhichOneof("event") or "" for r in responses]


def of_kind(responses: list[router_pb2.SendTurnResponse], kind: str) -> list[object]:
    return [getattr(r.event, kind) for r in responses if r.event.WhichOneof("event") == kind]


def test_a_flight_status_turn_runs_every_stage_for_real(mesh: Mesh) -> None:
    booking = mesh.mocks.base_urls["booking"]
    httpx.delete(f"{booking}/_admin/requests")
    responses = send_turn(mesh, session_id="e2e-1", text=FLIGHT_QUESTION, channel="test")
    order = kinds(responses)

    assert order[0] == "turn_started"
    assert order[-1] == "turn_completed"
    assert order.count("turn_completed") == 1 and "error" not in order
    for kind in ("intent", "plan", "step_started", "step_finished", "text_delta"):
        assert kind in order, f"no {kind} event in {order}"
    assert order.index("intent") < order.index("plan") < order.index("step_started")
    assert order.index("step_finished") < order.index("text_delta")

    (intent,) = of_kind(responses, "intent")
    assert intent.name == "flight_status"  # type: ignore[attr-defined]
    (plan,) = of_kind(responses, "plan")
    assert [s.tool for s in plan.plan.steps] == ["getFlightStatus"]  # type: ignore[attr-defined]
    (finished,) = of_kind(responses, "step_finished")
    result = finished.result  # type: ignore[attr-defined]
    assert result.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, result.error
    assert result.http_status == 200
    assert result.result.fields["flight_number"].string_value == "UA123"

    # The reply is grounded in what the backend said about the flight.
    reply = "".join(t.text for t in of_kind(responses, "text_delta"))  # type: ignore[attr-defined]
    status = result.result.fields["status"].string_value
    assert status and status.replace("_", " ") in reply.lower()
    (completed,) = of_kind(responses, "turn_completed")
    assert completed.reply == reply  # type: ignore[attr-defined]

    # The call really went over HTTP to the booking backend.
    log = httpx.get(f"{booking}/_admin/requests").json()
    entries = log["requests"] if isinstance(log, dict) else log
    assert any(e["path"] == "/flights/UA123/status" for e in entries), entries

    # Every event carries the turn's id and one trace id.
    assert len({r.event.turn_id for r in responses}) == 1
    trace_ids = {r.event.trace_id for r in responses}
    assert len(trace_ids) == 1 and len(trace_ids.pop()) == 32


def test_a_follow_up_about_another_flight_is_about_that_flight(mesh: Mesh) -> None:
    # The session remembers DL2339; "what about UA 891?" names another flight, which must not
    # be masked away (it once read as an address) and so leave the remembered one in its place.
    send_turn(mesh, session_id="e2e-follow", text="is flight DL2339 on time?")
    responses = send_turn(mesh, session_id="e2e-follow", text="what about UA 891?")
    (plan,) = of_kind(responses, "plan")
    assert plan.plan.slots["flight_number"] == "UA891"  # type: ignore[attr-defined]
    (completed,) = of_kind(responses, "turn_completed")
    reply = completed.reply  # type: ignore[attr-defined]
    assert "UA891" in reply and "DL2339" not in reply, reply


def test_the_turn_is_recorded_in_the_session(mesh: Mesh) -> None:
    responses = send_turn(
        mesh, session_id="e2e-record", text="My card 4111 1111 1111 1111 — is UA 123 on time?"
    )
    turn_id = responses[0].event.turn_id
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        transcript = stub.GetTranscript(
            router_pb2.GetTranscriptRequest(session_id="e2e-record"), timeout=10
        )
    (turn,) = transcript.turns
    assert turn.turn_id == turn_id
    assert turn.intent.name == "flight_status"
    assert turn.reply_text and turn.reply_text == responses[-1].event.turn_completed.reply
    # What is stored is masked.
    assert "4111" not in turn.customer_text
    assert "<CARD_1>" in turn.customer_text


def test_every_service_reports_serving(mesh: Mesh) -> None:
    for name in START_ORDER:
        with grpc.insecure_channel(mesh.target(name)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


def _listed(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = stub.ServerReflectionInfo(iter([request]), timeout=5)
        return {s.name for r in replies for s in r.list_services_response.service}


def test_reflection_lists_the_six_services(mesh: Mesh) -> None:
    found = set().union(*(_listed(mesh.target(name)) for name in START_ORDER))
    expected = {
        "switchboard.v1.RouterService",
        "switchboard.v1.PlannerService",
        "switchboard.v1.ToolBrokerService",
        "switchboard.v1.GovernanceService",
        "switchboard.v1.PiiService",
        "switchboard.v1.SessionService",
    }
    assert expected <= found


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"session_id": "s1", "text": ""}, "text is empty"),
        ({"session_id": "s1", "text": "   \n"}, "text is empty"),
        ({"session_id": "", "text": "hello"}, "session_id is required"),
        ({"session_id": "bad id!", "text": "hello"}, "session_id must be"),
        ({"session_id": "s1", "text": "x" * 4001}, "limit is 4000"),
        ({"session_id": "s1", "text": "nul\x00byte"}, "NUL"),
    ],
)
def test_bad_input_is_invalid_argument(mesh: Mesh, fields: dict[str, str], message: str) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        send_turn(mesh, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.details()


def test_invalid_utf8_is_invalid_argument(mesh: Mesh) -> None:
    # Hand-encode a SendTurnRequest whose text field (2) holds bytes that are not UTF-8.
    session = b"s1"
    text = b"\xff\xfe caf\xe9"
    payload = bytes([0x0A, len(session)]) + session + bytes([0x12, len(text)]) + text
    with grpc.insecure_channel(mesh.target("router")) as channel:
        call = channel.unary_stream(
            "/switchboard.v1.RouterService/SendTurn",
            request_serializer=lambda raw: raw,
            response_deserializer=router_pb2.SendTurnResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as raised:
            list(call(payload, timeout=10))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in raised.value.details()


def test_converse_carries_two_turns_on_one_stream(mesh: Mesh) -> None:
    requests = [
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="t1", session_id="conv-1", text=FLIGHT_QUESTION)
        ),
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="t2", session_id="conv-2", text="hello there")
        ),
    ]
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        events = [r.event for r in stub.Converse(iter(requests), timeout=30)]
    for turn_id in ("t1", "t2"):
        own = [e.WhichOneof("event") for e in events if e.turn_id == turn_id]
        assert own[0] == "turn_started", own
        assert own[-1] == "turn_completed", own
        assert own.count("turn_completed") == 1


def test_converse_reports_a_bad_turn_and_keeps_the_stream_open(mesh: Mesh) -> None:
    requests = [
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="bad", session_id="conv-3", text="")
        ),
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="good", session_id="conv-3", text="hi")
        ),
    ]
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        events = [r.event for r in stub.Converse(iter(requests), timeout=30)]
    bad = [e for e in events if e.turn_id == "bad"]
    assert [e.WhichOneof("event") for e in bad] == ["error"]
    assert bad[0].error.code == "INVALID_ARGUMENT"
    assert [e.WhichOneof("event") for e in events if e.turn_id == "good"][-1] == "turn_completed"


def test_concurrent_turns_of_one_session_are_both_recorded(mesh: Mesh) -> None:
    # The router queues the second turn behind the first (session.concurrent_turns = queue), so
    # neither write is lost to the other.
    with (
        grpc.insecure_channel(mesh.target("router")) as channel,
        futures.ThreadPoolExecutor(max_workers=2) as pool,
    ):
        stub = router_pb2_grpc.RouterServiceStub(channel)

        def send(text: str) -> list[router_pb2.SendTurnResponse]:
            request = router_pb2.SendTurnRequest(session_id="together-1", text=text)
            return list(stub.SendTurn(request, timeout=30))

        first, second = pool.map(send, [FLIGHT_QUESTION, "hello"])
        transcript = stub.GetTranscript(
            router_pb2.GetTranscriptRequest(session_id="together-1"), timeout=10
        )
    for responses in (first, second):
        assert kinds(responses)[-1] == "turn_completed"
        assert responses[-1].event.turn_completed.metadata.fields["persisted"].bool_value
    assert {t.turn_id for t in transcript.turns} == {
        first[0].event.turn_id,
        second[0].event.turn_id,
    }


def test_repeated_fallbacks_climb_the_ladder_to_a_handoff(mesh: Mesh) -> None:
    # Messages no intent covers: the ladder's first answer, then its second, then a person.
    actions = []
    for i, text in enumerate(
        ["What's the weather on Mars?", "Tell me a joke about penguins", "Who won the chess?"]
    ):
        responses = send_turn(mesh, session_id="ladder-1", text=text)
        (fallback,) = of_kind(responses, "fallback")
        actions.append(fallback.action)  # type: ignore[attr-defined]
        if i == 2:
            (handoff,) = of_kind(responses, "handoff")
            assert handoff.queue  # type: ignore[attr-defined]
    assert actions[1:] == [events_pb2.FALLBACK_ACTION_SAFE_FLOW, events_pb2.FALLBACK_ACTION_HANDOFF]
    # A served turn starts the count again.
    assert not of_kind(send_turn(mesh, session_id="ladder-1", text=FLIGHT_QUESTION), "fallback")
    responses = send_turn(mesh, session_id="ladder-1", text="What's the weather on Mars?")
    (fallback,) = of_kind(responses, "fallback")
    assert fallback.action != events_pb2.FALLBACK_ACTION_HANDOFF  # type: ignore[attr-defined]
