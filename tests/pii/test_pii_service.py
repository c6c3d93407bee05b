"""PiiService through a real gRPC server on loopback, including failing closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import grpc
import pytest
from harness import LoopThread, start_service

from services.config import Settings
from services.pii.config import PiiSettings
from services.pii.detector import Detector
from services.pii.entities import Entity
from services.pii.service import PiiService, build
from services.pii.vault import new_key
from services.runtime.convert import dict_to_struct, struct_to_dict
from switchboard.v1 import pii_pb2, pii_pb2_grpc

CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def target(loop_thread: LoopThread) -> Iterator[str]:
    server = start_service(
        loop_thread, build(Settings(pii=PiiSettings(port=0, vault_key=new_key())))
    )
    yield server.target
    loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def stub(target: str) -> Iterator[pii_pb2_grpc.PiiServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield pii_pb2_grpc.PiiServiceStub(channel)


def test_redact_masks_and_reports_entities(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    text = f"I'm Qwerty, card {CARD}, mail q@example.com; card {CARD} again"
    reply = stub.Redact(
        pii_pb2.RedactRequest(session_id="t1", text=text, known_names=["Qwerty Zyxwv"]),
        timeout=10,
    )
    assert reply.text == "I'm <PERSON_1>, card <CARD_1>, mail <EMAIL_1>; card <CARD_1> again"
    assert [(e.type, e.placeholder) for e in reply.entities] == [
        ("PERSON", "<PERSON_1>"),
        ("CARD", "<CARD_1>"),
        ("EMAIL", "<EMAIL_1>"),
        ("CARD", "<CARD_1>"),
    ]
    first = reply.entities[1]
    assert text[first.start : first.end] == CARD
    assert 0 < first.score <= 1


def test_redact_data_then_restore_allowed_types(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    data = {"result": {"holder": "my name is Rubija", "cards": [CARD]}, "amount": 12.5}
    masked = stub.RedactData(
        pii_pb2.RedactDataRequest(session_id="t2", data=dict_to_struct(data)), timeout=10
    )
    assert struct_to_dict(masked.data) == {
        "result": {"holder": "my name is <PERSON_1>", "cards": ["<CARD_1>"]},
        "amount": 12.5,
    }
    assert sorted(e.type for e in masked.entities) == ["CARD", "PERSON"]

    restored = stub.Restore(
        pii_pb2.RestoreRequest(
            session_id="t2",
            data=dict_to_struct({"card": "<CARD_1>", "note": "for <PERSON_1>"}),
            allowed_types=["CARD"],
        ),
        timeout=10,
    )
    assert struct_to_dict(restored.data) == {"card": CARD, "note": "for <PERSON_1>"}
    assert list(restored.refused) == ["<PERSON_1>"]


def test_erase_session(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    stub.Redact(pii_pb2.RedactRequest(session_id="t3", text=f"card {CARD}"), timeout=10)
    assert stub.EraseSession(pii_pb2.EraseSessionRequest(session_id="t3"), timeout=10).erased == 1
    restored = stub.Restore(
        pii_pb2.RestoreRequest(
            session_id="t3", data=dict_to_struct({"card": "<CARD_1>"}), allowed_types=["CARD"]
        ),
        timeout=10,
    )
    assert struct_to_dict(restored.data) == {"card": "<CARD_1>"}
    assert list(restored.refused) == ["<CARD_1>"]


def test_missing_session_id_is_invalid(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Redact(pii_pb2.RedactRequest(text="hello"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "session_id" in (caught.value.details() or "")


class BrokenDetector(Detector):
    def detect(self, text: str, known_names: Sequence[str] = ()) -> list[Entity]:
        raise RuntimeError("detector bug")


class StuckDetector(Detector):
    """Blocks until released: a detection that overruns any budget."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def detect(self, text: str, known_names: Sequence[str] = ()) -> list[Entity]:
        self.release.wait(30)
        return []


@pytest.fixture
def failing(loop_thread: LoopThread) -> Iterator[tuple[PiiService, str]]:
    pii = PiiService(PiiSettings(port=0, detect_timeout_s=0.2, vault_key=new_key()))
    server = start_service(loop_thread, pii)
    yield pii, server.target
    loop_thread.run(server.stop())


def test_a_failing_detector_fails_closed(failing: tuple[PiiService, str]) -> None:
    pii, target = failing
    pii.masker.detector = BrokenDetector()
    with grpc.insecure_channel(target) as channel:
        stub = pii_pb2_grpc.PiiServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Redact(pii_pb2.RedactRequest(session_id="f1", text=f"card {CARD}"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert CARD not in (caught.value.details() or "")
        with pytest.raises(grpc.RpcError) as caught:
            stub.RedactData(
                pii_pb2.RedactDataRequest(session_id="f1", data=dict_to_struct({"c": CARD})),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_slow_detector_fails_closed(failing: tuple[PiiService, str]) -> None:
    pii, target = failing
    stuck = StuckDetector()
    pii.masker.detector = stuck
    try:
        with grpc.insecure_channel(target) as channel:
            stub = pii_pb2_grpc.PiiServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.Redact(pii_pb2.RedactRequest(session_id="f2", text=f"card {CARD}"), timeout=10)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert CARD not in (caught.value.details() or "")
    finally:
        stuck.release.set()
    # Nothing the stuck detection might return later reaches the vault.
    assert pii.vault.reveal("f2", "<CARD_1>") is None


def test_oversized_text_is_refused(loop_thread: LoopThread) -> None:
    server = start_service(loop_thread, PiiService(PiiSettings(port=0, max_text_chars=20)))
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = pii_pb2_grpc.PiiServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.Redact(pii_pb2.RedactRequest(session_id="s", text="x" * 21), timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            ok = stub.Redact(pii_pb2.RedactRequest(session_id="s", text="x" * 20), timeout=10)
            assert ok.text == "x" * 20
    finally:
        loop_thread.run(server.stop())


def test_vault_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("SWITCHBOARD_PII__VAULT_KEY", key)
    assert Settings().pii.vault_key.get_secret_value() == key
    assert key not in repr(Settings().pii)
