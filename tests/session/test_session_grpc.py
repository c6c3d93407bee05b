"""SessionService through a real gRPC server on loopback, over SQLite and a real Redis."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from harness import LoopThread, start_service
from redis_server import RedisServer

from services.config import Settings, load_settings
from services.runtime.errors import ConfigError
from services.runtime.server import GrpcServer
from services.session.service import build
from switchboard.v1 import session_pb2, session_pb2_grpc

Stub = session_pb2_grpc.SessionServiceStub


@pytest.fixture(params=["sqlite", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    session: dict[str, Any] = {"store": request.param, "port": 0}
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        session |= {"redis_url": server.url, "redis_key_prefix": f"grpc:{uuid.uuid4().hex}:"}
    return load_settings(data_dir=tmp_path, session=session)


class Running:
    """A session service on loopback that a test can restart."""

    def __init__(self, loop: LoopThread, settings: Settings) -> None:
        self.loop = loop
        self.settings = settings
        self.server: GrpcServer | None = None
        self.channel: grpc.Channel | None = None

    def start(self) -> Stub:
        self.server = start_service(self.loop, build(self.settings))
        self.channel = grpc.insecure_channel(self.server.target)
        return Stub(self.channel)  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.server is not None:
            self.loop.run(self.server.stop())
        self.server = self.channel = None


@pytest.fixture
def running(loop_thread: LoopThread, settings: Settings) -> Iterator[Running]:
    service = Running(loop_thread, settings)
    yield service
    service.stop()


@pytest.fixture
def stub(running: Running) -> Stub:
    return running.start()


def append(
    session_id: str, version: int, turn_id: str, **fields: Any
) -> session_pb2.AppendTurnRequest:
    return session_pb2.AppendTurnRequest(
        session_id=session_id,
        expected_version=version,
        turn=session_pb2.TurnRecord(
            turn_id=turn_id,
            customer_text=f"message {turn_id}",
            reply_text=f"reply {turn_id}",
            status=session_pb2.TURN_STATUS_COMPLETED,
        ),
        **fields,
    )


def status_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failed:
        call()
    error: Any = failed.value
    return error.code(), error.details()


def test_a_conversation_and_its_audit_trail(stub: Stub) -> None:
    got = stub.GetSession(session_pb2.GetSessionRequest(session_id="s1", create=True))
    assert got.created and got.session.version == 0

    first = stub.AppendTurn(append("s1", 0, "t1", slots={"flight_number": "UA123"}))
    second = stub.AppendTurn(append("s1", 1, "t2", customer_id="C-1001"))
    assert (first.session.version, second.session.version) == (1, 2)
    assert second.session.customer_id == "C-1001" and not second.session.slots
    assert [h.role for h in second.session.history] == ["customer", "assistant"] * 2

    page = stub.ListTurns(session_pb2.ListTurnsRequest(session_id="s1", page_size=1))
    rest = stub.ListTurns(
        session_pb2.ListTurnsRequest(session_id="s1", page_size=1, page_token=page.next_page_token)
    )
    assert [t.turn_id for t in page.turns] == ["t1"]
    assert [t.turn_id for t in rest.turns] == ["t2"] and rest.next_page_token == ""

    assert stub.DeleteSession(session_pb2.DeleteSessionRequest(session_id="s1")).deleted
    assert not stub.DeleteSession(session_pb2.DeleteSessionRequest(session_id="s1")).deleted
    code, _ = status_of(lambda: stub.GetSession(session_pb2.GetSessionRequest(session_id="s1")))
    assert code == grpc.StatusCode.NOT_FOUND


def test_a_stale_write_is_aborted_and_a_retried_turn_is_not_recorded_twice(stub: Stub) -> None:
    stub.AppendTurn(append("s1", 0, "t1"))
    stub.AppendTurn(append("s1", 1, "t2"))

    code, details = status_of(lambda: stub.AppendTurn(append("s1", 1, "t3")))
    assert code == grpc.StatusCode.ABORTED
    assert "session s1 is at version 2, write was based on 1" in details

    retried = stub.AppendTurn(append("s1", 1, "t2"))
    assert retried.session.version == 2
    turns = stub.ListTurns(session_pb2.ListTurnsRequest(session_id="s1")).turns
    assert [t.turn_id for t in turns] == ["t1", "t2"]


BAD_REQUESTS: dict[str, tuple[str, Any, str]] = {
    "get without id": ("GetSession", session_pb2.GetSessionRequest(create=True), "session_id"),
    "append without session id": ("AppendTurn", append("", 0, "t1"), "session_id"),
    "append without turn id": ("AppendTurn", append("s1", 0, ""), "turn_id"),
    "append with a negative version": ("AppendTurn", append("s1", -1, "t1"), "expected_version"),
    "append without a status": (
        "AppendTurn",
        session_pb2.AppendTurnRequest(session_id="s1", turn=session_pb2.TurnRecord(turn_id="t")),
        "turn.status",
    ),
    "list with a forged token": (
        "ListTurns",
        session_pb2.ListTurnsRequest(session_id="s1", page_token="eHl6"),
        "page token",
    ),
    "list with a negative page size": (
        "ListTurns",
        session_pb2.ListTurnsRequest(session_id="s1", page_size=-1),
        "page_size",
    ),
    "delete without id": ("DeleteSession", session_pb2.DeleteSessionRequest(), "session_id"),
    "an id too long": (
        "GetSession",
        session_pb2.GetSessionRequest(session_id="s" * 257, create=True),
        "longer than 256",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_are_invalid_arguments(stub: Stub, case: str) -> None:
    stub.GetSession(session_pb2.GetSessionRequest(session_id="s1", create=True))
    method, request, mentions = BAD_REQUESTS[case]

    code, details = status_of(lambda: getattr(stub, method)(request))

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert mentions in details


def test_unknown_sessions_are_not_found(stub: Stub) -> None:
    for call in (
        lambda: stub.GetSession(session_pb2.GetSessionRequest(session_id="ghost")),
        lambda: stub.ListTurns(session_pb2.ListTurnsRequest(session_id="ghost")),
    ):
        code, details = status_of(call)
        assert code == grpc.StatusCode.NOT_FOUND
        assert "session ghost not found" in details


def test_a_customer_coming_back_after_a_restart_finds_the_session(running: Running) -> None:
    stub = running.start()
    left = stub.AppendTurn(
        append("s1", 0, "t1", slots={"reservation": "SBX7Q2"}, pending_flow="rebook_flight")
    ).session

    running.stop()
    stub = running.start()

    back = stub.GetSession(session_pb2.GetSessionRequest(session_id="s1", create=True))
    assert not back.created and back.session == left
    resumed = stub.AppendTurn(append("s1", back.session.version, "t2", pending_flow=""))
    assert resumed.session.version == 2


def test_sqlite_is_the_default_store_in_the_data_folder(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    service = build(settings)
    assert settings.session.store == "sqlite"
    assert getattr(service.store, "path", None) == tmp_path / "sessions.db"


def test_the_service_purges_expired_sessions_periodically(
    loop_thread: LoopThread, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path, session={"port": 0, "ttl_s": 0.2, "purge_interval_s": 0.05}
    )
    running = Running(loop_thread, settings)
    stub = running.start()
    try:
        stub.AppendTurn(append("s1", 0, "t1"))
        database = tmp_path / "sessions.db"
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            with sqlite3.connect(database) as db:
                left = db.execute(
                    "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM turns)"
                ).fetchone()[0]
            if left == 0:
                break
            time.sleep(0.05)
        assert left == 0, "the expired session was not purged"
    finally:
        running.stop()


def test_an_unknown_store_is_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_SESSION__STORE", "memcached")
    with pytest.raises(ConfigError, match=r"session\.store.*SWITCHBOARD_SESSION__STORE"):
        load_settings()
