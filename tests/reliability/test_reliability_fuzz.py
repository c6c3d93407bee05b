"""Bad input on every public RPC (SendTurn, Converse, GetTranscript): property-based, bounded.

Whatever arrives — random bytes, invalid UTF-8, unknown fields, NUL bytes, deeply nested or huge
messages, 100k-character texts — the answer is a clear status or a well-formed turn, the router
stays healthy, and error details never echo the raw input back.

The router under test is its own instance (wired to the shared mesh's peers) so a crash here could
never take other tests down with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from harness import LoopThread, start_service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import FLIGHT_QUESTION, Turn, assert_ended_cleanly, send_turn

from services.mesh import Mesh
from services.router.service import RouterService
from services.runtime.server import GrpcServer
from switchboard.v1 import router_pb2

SEND_TURN = "/switchboard.v1.RouterService/SendTurn"
CONVERSE = "/switchboard.v1.RouterService/Converse"
GET_TRANSCRIPT = "/switchboard.v1.RouterService/GetTranscript"

#: statuses that tell a client clearly what was wrong with its request
CLEAR = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
#: longest error detail a client needs; anything longer is echoing input back
MAX_DETAILS = 400
#: the longest run of input the details may quote: a session id's maximum length
ECHO_LIMIT = 128

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=True,
)


@pytest.fixture(scope="module")
def router(loop_thread: LoopThread, mesh: Mesh) -> Iterator[GrpcServer]:
    config = mesh.settings.model_copy(deep=True)
    config.router.port = 0
    config.router.turn_deadline_s = 5.0
    server = start_service(loop_thread, RouterService(config))
    try:
        yield server
    finally:
        loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def channel(router: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(router.target) as opened:
        yield opened


def _identity(raw: bytes) -> bytes:
    return raw


def _raw_send_turn(channel: grpc.Channel, payload: bytes) -> Turn:
    call = channel.unary_stream(
        SEND_TURN,
        request_serializer=_identity,
        response_deserializer=router_pb2.SendTurnResponse.FromString,
    )
    return Turn([r.event for r in call(payload, timeout=20)])


def _raw_converse(
    channel: grpc.Channel, payloads: list[bytes]
) -> list[router_pb2.ConverseResponse]:
    call = channel.stream_stream(
        CONVERSE,
        request_serializer=_identity,
        response_deserializer=router_pb2.ConverseResponse.FromString,
    )
    return list(call(iter(payloads), timeout=20))


def _raw_transcript(channel: grpc.Channel, payload: bytes) -> router_pb2.GetTranscriptResponse:
    call = channel.unary_unary(
        GET_TRANSCRIPT,
        request_serializer=_identity,
        response_deserializer=router_pb2.GetTranscriptResponse.FromString,
    )
    response: router_pb2.GetTranscriptResponse = call(payload, timeout=20)
    return response


def _assert_clear(error: grpc.RpcError, payload: bytes | str) -> None:
    code, details = error.code(), error.details() or ""
    assert code in CLEAR, (code, details[:200])
    assert details.strip(), "a refusal says why"
    assert len(details) <= MAX_DETAILS, f"{len(details)} characters of details: {details[:200]}…"
    text = payload.decode("utf-8", errors="ignore") if isinstance(payload, bytes) else payload
    if len(text) > ECHO_LIMIT:
        # The details may quote an identifier (at most 128 characters), never more of the input.
        assert text[: ECHO_LIMIT + 1] not in details, details[:200]


def _outcome(action: Callable[[], Any], payload: bytes | str) -> Any:
    """Run ``action``: its result, or None after checking its refusal is clear."""
    try:
        return action()
    except grpc.RpcError as error:
        _assert_clear(error, payload)
        return None


def _field(number: int, wire_type: int, body: bytes = b"") -> bytes:
    return _varint(number << 3 | wire_type) + body


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(number: int, raw: bytes) -> bytes:
    return _field(number, 2, _varint(len(raw)) + raw)


def _still_healthy(router: GrpcServer) -> None:
    with grpc.insecure_channel(router.target) as fresh:
        reply = health_pb2_grpc.HealthStub(fresh).Check(
            health_pb2.HealthCheckRequest(service="switchboard.v1.RouterService"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    turn = send_turn(router.target, "after-fuzz", FLIGHT_QUESTION, "C-1001")
    assert_ended_cleanly(turn)
    assert turn.kinds[-1] == "turn_completed"


# --- SendTurn -----------------------------------------------------------------------------------


@FUZZ
@given(payload=st.binary(max_size=512))
def test_send_turn_survives_random_bytes(channel: grpc.Channel, payload: bytes) -> None:
    turn = _outcome(lambda: _raw_send_turn(channel, payload), payload)
    if turn is not None:
        assert_ended_cleanly(turn)


texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=50).map(
        lambda t: t + "\x00"
    ),
    st.sampled_from(["", " ", "\n\t", "\u202e", "\ufeff", "🙂" * 10, FLIGHT_QUESTION]),
)


@FUZZ
@given(
    session_id=st.one_of(
        st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True), st.text(max_size=200)
    ),
    text=texts,
    channel_name=st.text(max_size=100),
    customer_id=st.text(max_size=200),
)
def test_send_turn_with_arbitrary_fields_answers_clearly(
    channel: grpc.Channel, session_id: str, text: str, channel_name: str, customer_id: str
) -> None:
    request = router_pb2.SendTurnRequest(
        session_id=session_id, text=text, channel=channel_name, customer_id=customer_id
    )
    turn = _outcome(lambda: _raw_send_turn(channel, request.SerializeToString()), text)
    if turn is not None:
        assert_ended_cleanly(turn)


@FUZZ
@given(
    field=st.sampled_from([1, 2, 3, 4]),
    junk=st.binary(min_size=1, max_size=64).filter(lambda b: not _is_utf8(b)),
)
def test_invalid_utf8_in_any_string_field_is_invalid_argument(
    channel: grpc.Channel, field: int, junk: bytes
) -> None:
    payload = _string(1, b"utf8-probe") + _string(2, b"hello") + _string(field, junk)
    with pytest.raises(grpc.RpcError) as raised:
        _raw_send_turn(channel, payload)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _assert_clear(raised.value, junk)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@FUZZ
@given(
    number=st.integers(min_value=5, max_value=2**29 - 1).filter(lambda n: not 19000 <= n <= 19999),
    value=st.binary(max_size=200),
)
def test_unknown_fields_are_ignored(channel: grpc.Channel, number: int, value: bytes) -> None:
    payload = (
        _string(1, f"unknown-{number % 7}".encode())
        + _string(99_999 if number == 2 else number, value)
        + _string(2, b"hello there")
    )
    turn = _raw_send_turn(channel, payload)
    assert_ended_cleanly(turn)
    assert turn.kinds[-1] == "turn_completed"


@pytest.mark.parametrize("depth", [50, 200, 5_000])
def test_deeply_nested_unknown_groups_answer_clearly(channel: grpc.Channel, depth: int) -> None:
    # Unknown start-group / end-group pairs nest without a length, so a parser recurses on them.
    nested = _field(7, 3) * depth + _field(7, 4) * depth
    payload = _string(1, b"nested") + _string(2, b"hello") + nested
    turn = _outcome(lambda: _raw_send_turn(channel, payload), payload)
    if turn is not None:
        assert_ended_cleanly(turn)


def test_deeply_nested_length_delimited_fields_answer_clearly(channel: grpc.Channel) -> None:
    body = b""
    for _ in range(2_000):
        body = _string(1, body)
    # ConverseRequest.turn (1) is a message: nesting it inside itself breaks the schema deeply.
    responses = _outcome(lambda: _raw_converse(channel, [body]), body)
    if responses is not None:
        assert [r.event.WhichOneof("event") for r in responses] == ["error"]
        assert responses[0].event.error.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("size", [4_001, 100_000])
def test_long_texts_are_refused_without_being_echoed(channel: grpc.Channel, size: int) -> None:
    text = ("abcdefghij" * (size // 10 + 1))[:size]
    with pytest.raises(grpc.RpcError) as raised:
        _raw_send_turn(
            channel, router_pb2.SendTurnRequest(session_id="long", text=text).SerializeToString()
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _assert_clear(raised.value, text)


def test_a_message_over_the_size_limit_is_resource_exhausted(channel: grpc.Channel) -> None:
    payload = _string(1, b"huge") + _string(2, b"x" * (5 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as raised:
        _raw_send_turn(channel, payload)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(raised.value.details() or "") <= MAX_DETAILS


# --- Converse -----------------------------------------------------------------------------------


@FUZZ
@given(payloads=st.lists(st.binary(max_size=256), min_size=1, max_size=4))
def test_converse_survives_random_bytes(channel: grpc.Channel, payloads: list[bytes]) -> None:
    responses = _outcome(lambda: _raw_converse(channel, payloads), b"".join(payloads))
    if responses is None:
        return
    by_turn: dict[str, list[str]] = {}
    for response in responses:
        event = response.event
        by_turn.setdefault(event.turn_id, []).append(str(event.WhichOneof("event")))
        if event.WhichOneof("event") == "error":
            assert len(event.error.message) <= MAX_DETAILS, event.error.message[:200]
    for turn_id, kinds in by_turn.items():
        if turn_id:
            assert kinds[-1] in ("turn_completed", "error"), (turn_id, kinds)


@FUZZ
@given(
    turns=st.lists(
        st.tuples(st.text(max_size=80), st.text(max_size=150), texts, st.text(max_size=80)),
        min_size=1,
        max_size=4,
    )
)
def test_converse_ends_every_fuzzed_turn_and_stays_open(
    channel: grpc.Channel, turns: list[tuple[str, str, str, str]]
) -> None:
    requests = [
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(
                turn_id=turn_id, session_id=session_id, text=text, customer_id=customer_id
            )
        ).SerializeToString()
        for turn_id, session_id, text, customer_id in turns
    ]
    # A valid turn after the fuzzed ones shows the stream stayed open.
    requests.append(
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="probe", session_id="probe-s", text="hello")
        ).SerializeToString()
    )
    responses = _raw_converse(channel, requests)
    probe = [r.event.WhichOneof("event") for r in responses if r.event.turn_id == "probe"]
    assert probe and probe[-1] == "turn_completed", probe
    for response in responses:
        if response.event.WhichOneof("event") == "error":
            assert len(response.event.error.message) <= MAX_DETAILS


# --- GetTranscript ------------------------------------------------------------------------------


@FUZZ
@given(payload=st.binary(max_size=512))
def test_get_transcript_survives_random_bytes(channel: grpc.Channel, payload: bytes) -> None:
    _outcome(lambda: _raw_transcript(channel, payload), payload)


@FUZZ
@given(session_id=st.text(max_size=128))
def test_get_transcript_of_any_session_id_answers_clearly(
    channel: grpc.Channel, session_id: str
) -> None:
    payload = router_pb2.GetTranscriptRequest(session_id=session_id).SerializeToString()
    _outcome(lambda: _raw_transcript(channel, payload), session_id)


@pytest.mark.parametrize("length", [129, 300, 100_000])
def test_get_transcript_of_an_overlong_session_id_is_invalid_argument_without_echo(
    channel: grpc.Channel, length: int
) -> None:
    session_id = "s" * length
    payload = router_pb2.GetTranscriptRequest(session_id=session_id).SerializeToString()
    with pytest.raises(grpc.RpcError) as raised:
        _raw_transcript(channel, payload)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    _assert_clear(raised.value, session_id)


# --- afterwards ---------------------------------------------------------------------------------


def test_the_router_is_healthy_after_the_fuzzing(router: GrpcServer) -> None:
    # Runs last in this module (pytest keeps file order): everything above has hit the router.
    _still_healthy(router)
