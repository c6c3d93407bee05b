"""The vault on Redis: replicas share placeholders, agree under races, expire, fail closed."""

from __future__ import annotations

import threading

import grpc
import pytest
import redis
from harness import LoopThread, free_port, start_service
from redis_server import RedisServer

from services.config import Settings
from services.pii.config import PiiSettings
from services.pii.redis_vault import RedisVaultStore
from services.pii.service import build
from services.pii.vault import Vault, load_key, new_key
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import Unavailable
from switchboard.v1 import pii_pb2, pii_pb2_grpc

CARD = "4111 1111 1111 1111"
EMAIL = "anna.berg@example.com"


@pytest.fixture
def key() -> bytes:
    return load_key(new_key())


def replica(redis_server: RedisServer, key: bytes, prefix: str, ttl_s: float = 60.0) -> Vault:
    """A vault as one pii replica holds it: its own client, the shared server and key."""
    return Vault(RedisVaultStore(redis_server.url, key_prefix=prefix), key, ttl_s=ttl_s)


def test_replicas_share_placeholders_and_originals(redis_server: RedisServer, key: bytes) -> None:
    a, b = replica(redis_server, key, "share:"), replica(redis_server, key, "share:")
    assert a.tokenise("s1", "CARD", CARD) == "<CARD_1>"
    assert b.tokenise("s1", "CARD", CARD.replace(" ", "")) == "<CARD_1>"
    assert b.tokenise("s1", "EMAIL", EMAIL) == "<EMAIL_1>"
    assert a.reveal("s1", "<EMAIL_1>") == ("EMAIL", EMAIL)
    assert b.originals("s1", "CARD") == [CARD]
    assert a.tokenise("s2", "CARD", CARD) == "<CARD_1>"  # numbering is per session


def test_only_ciphertexts_reach_redis(redis_server: RedisServer, key: bytes) -> None:
    vault = replica(redis_server, key, "sealed:")
    vault.tokenise("s1", "EMAIL", EMAIL)
    client = redis.Redis.from_url(redis_server.url)
    stored = b"".join(
        bytes(k) + bytes(v)
        for name in client.scan_iter("sealed:*")
        if client.type(name) == b"hash"
        for k, v in client.hgetall(name).items()
    )
    assert b"<EMAIL_1>" in stored
    assert EMAIL.encode() not in stored


def test_concurrent_replicas_agree_on_one_placeholder_per_value(
    redis_server: RedisServer, key: bytes
) -> None:
    vaults = [replica(redis_server, key, "race:") for _ in range(4)]
    values = [f"person{i}@example.com" for i in range(25)]
    results: list[dict[str, str]] = [{} for _ in vaults]
    start = threading.Barrier(len(vaults))

    def work(index: int) -> None:
        start.wait()
        for value in values:
            results[index][value] = vaults[index].tokenise("busy", "EMAIL", value)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(vaults))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == results[0] for result in results)
    assert sorted(results[0].values()) == sorted(f"<EMAIL_{n}>" for n in range(1, 26))
    for value, placeholder in results[0].items():
        assert vaults[1].reveal("busy", placeholder) == ("EMAIL", value)


def test_a_session_expires_with_its_ttl_and_writing_extends_it(
    redis_server: RedisServer, key: bytes
) -> None:
    vault = replica(redis_server, key, "ttl:", ttl_s=30.0)
    vault.tokenise("s1", "CARD", CARD)
    client = redis.Redis.from_url(redis_server.url)
    ttls = [client.pttl(name) for name in client.scan_iter("ttl:s1:*")]
    assert len(ttls) == 3 and all(25_000 < ttl <= 30_000 for ttl in ttls), ttls
    client.delete(*client.scan_iter("ttl:s1:*"))  # what Redis does when the TTL runs out
    assert vault.reveal("s1", "<CARD_1>") is None
    assert vault.originals("s1", "CARD") == []


def test_erase_removes_the_session(redis_server: RedisServer, key: bytes) -> None:
    vault = replica(redis_server, key, "erase:")
    vault.tokenise("s1", "CARD", CARD)
    vault.tokenise("s1", "EMAIL", EMAIL)
    assert vault.erase("s1") == 2
    assert vault.reveal("s1", "<CARD_1>") is None
    assert vault.erase("s1") == 0
    assert vault.tokenise("s1", "CARD", CARD) == "<CARD_1>"


def test_a_vault_whose_redis_is_down_fails_closed(key: bytes) -> None:
    vault = Vault(
        RedisVaultStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5), key, ttl_s=60
    )
    with pytest.raises(Unavailable, match="Redis"):
        vault.tokenise("s1", "CARD", CARD)


def test_the_service_on_redis_masks_and_restores_across_replicas(
    loop_thread: LoopThread, redis_server: RedisServer
) -> None:
    pii = PiiSettings(
        port=0,
        vault_key=new_key(),
        vault_store="redis",
        redis_url=redis_server.url,
        redis_key_prefix="svc:",
    )
    first = start_service(loop_thread, build(Settings(pii=pii)))
    second = start_service(loop_thread, build(Settings(pii=pii)))
    try:
        with (
            grpc.insecure_channel(first.target) as one,
            grpc.insecure_channel(second.target) as two,
        ):
            masked = pii_pb2_grpc.PiiServiceStub(one).Redact(
                pii_pb2.RedactRequest(session_id="s1", text=f"pay with {CARD}"), timeout=10
            )
            assert masked.text == "pay with <CARD_1>"
            restored = pii_pb2_grpc.PiiServiceStub(two).Restore(
                pii_pb2.RestoreRequest(
                    session_id="s1",
                    data=dict_to_struct({"card": "<CARD_1>"}),
                    allowed_types=["CARD"],
                ),
                timeout=10,
            )
            assert struct_to_dict(restored.data) == {"card": CARD}
    finally:
        loop_thread.run(first.stop())
        loop_thread.run(second.stop())


def test_the_service_does_not_start_without_its_redis(loop_thread: LoopThread) -> None:
    pii = PiiSettings(port=0, vault_store="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(Unavailable, match="cannot reach the PII vault's Redis"):
        start_service(loop_thread, build(Settings(pii=pii)))
