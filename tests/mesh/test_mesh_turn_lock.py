"""Two router replicas, one session, two messages at once: with the turn lock in Redis the second
turn waits for the first instead of failing on the session's version."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from harness import LoopThread, ephemeral_settings
from redis_server import RedisServer

from mocks.common.app import backend_of
from mocks.common.faults import FaultConfig, FaultSpec, Latency
from services.mesh import Mesh, server_for, start_mesh
from services.runtime.server import GrpcServer
from switchboard.v1 import events_pb2, router_pb2, router_pb2_grpc


@pytest.fixture(scope="module")
def replicas(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Mesh, GrpcServer]]:
    redis = RedisServer(tmp_path_factory.mktemp("turn-lock-redis"))
    redis.start()
    settings = ephemeral_settings(Path(tmp_path_factory.mktemp("turn-lock-mesh")))
    settings.session.turn_lock = "redis"
    settings.session.redis_url = redis.url
    mesh = loop_thread.run(start_mesh(settings), timeout=180)
    # A second router on its own port, as a second replica would be: the same peers, its own
    # process-local gate, the lease in the same Redis.
    settings.router.port = 0
    second = server_for("router", settings)
    loop_thread.run(second.start(), timeout=120)
    yield mesh, second
    loop_thread.run(second.stop())
    loop_thread.run(mesh.stop())
    redis.stop()


def send(target: str, session: str, text: str) -> list[events_pb2.TurnEvent]:
    with grpc.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session, text=text)
        return [r.event for r in stub.SendTurn(request, timeout=30)]


def test_turns_of_one_session_on_two_routers_run_one_after_the_other(
    replicas: tuple[Mesh, GrpcServer],
) -> None:
    mesh, second = replicas
    booking = backend_of(mesh.mocks.apps["booking"])
    # A slow backend keeps the first turn running while the second arrives at the other router.
    booking.faults.configure(
        FaultConfig(default=FaultSpec(latency=Latency(distribution="constant", mean_ms=400)))
    )
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(send, mesh.target("router"), "lock-1", "Is flight UA 123 on time?")
            later = pool.submit(send, second.target, "lock-1", "Is flight UA 457 on time?")
            results = [first.result(), later.result()]
    finally:
        booking.faults.configure(FaultConfig())
    for events in results:
        assert events[-1].WhichOneof("event") == "turn_completed", events[-1]
    with grpc.insecure_channel(second.target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        transcript = stub.GetTranscript(
            router_pb2.GetTranscriptRequest(session_id="lock-1"), timeout=10
        )
    # Both turns are in the session, and the later one started only once the first had ended:
    # it ran on the state the first one left, not beside it on the same version.
    assert len(transcript.turns) == 2, transcript
    earlier, after = sorted(transcript.turns, key=lambda t: t.started_at.ToNanoseconds())
    ended = earlier.started_at.ToNanoseconds() + earlier.latency.ToNanoseconds()
    assert after.started_at.ToNanoseconds() >= ended, (earlier, after)
