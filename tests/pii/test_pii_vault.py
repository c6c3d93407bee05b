"""The vault: stable placeholders, encryption at rest, TTL, erase, restore by type."""

from __future__ import annotations

import base64

import pytest

from services.pii.config import PiiSettings
from services.pii.masking import Masker
from services.pii.service import build_detector
from services.pii.vault import InMemoryVaultStore, Vault, load_key, new_key
from services.runtime.errors import ConfigError

CARD_A = "4111 1111 1111 1111"
CARD_B = "5500 0000 0000 0004"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryVaultStore:
    return InMemoryVaultStore()


@pytest.fixture
def vault(store: InMemoryVaultStore, clock: FakeClock) -> Vault:
    return Vault(store, load_key(new_key()), ttl_s=60.0, clock=clock)


@pytest.fixture
def masker(vault: Vault) -> Masker:
    return Masker(build_detector(PiiSettings()), vault)


def redact(masker: Masker, session: str, text: str) -> str:
    (found,) = masker.detect([text])
    return masker.mask(session, text, found).text


def test_placeholders_are_stable_within_a_session(masker: Masker) -> None:
    first = redact(masker, "s1", f"card {CARD_A} please")
    second = redact(masker, "s1", f"again {CARD_A.replace(' ', '-')} and {CARD_B}")
    assert first == "card <CARD_1> please"
    assert second == "again <CARD_1> and <CARD_2>"


def test_sessions_number_independently(masker: Masker) -> None:
    redact(masker, "s1", f"card {CARD_A}")
    assert redact(masker, "s2", f"card {CARD_B}") == "card <CARD_1>"
    restored, _ = masker.restore("s2", {"card": "<CARD_1>"}, ["CARD"])
    assert restored == {"card": CARD_B}


def test_ciphertext_does_not_contain_the_original(
    masker: Masker, store: InMemoryVaultStore, clock: FakeClock
) -> None:
    email = "anna.berg@example.com"
    redact(masker, "s1", f"card {CARD_A}, mail {email}")
    records = store.records("s1", clock.now)
    assert {r.entity_type for r in records} == {"CARD", "EMAIL"}
    for record in records:
        for original in (CARD_A, CARD_A.replace(" ", ""), email):
            assert original.encode() not in record.ciphertext
            assert original.encode() not in base64.b64decode(base64.b64encode(record.ciphertext))


def test_tampered_or_moved_ciphertext_is_not_revealed(
    vault: Vault, store: InMemoryVaultStore
) -> None:
    placeholder = vault.tokenise("s1", "CARD", CARD_A)
    other = vault.tokenise("s2", "CARD", CARD_B)
    assert placeholder == other == "<CARD_1>"
    # Swap the two sessions' ciphertexts: the session id is bound as associated data.
    first = store._sessions["s1"].records[placeholder]
    second = store._sessions["s2"].records[other]
    store._sessions["s1"].records[placeholder] = second
    store._sessions["s2"].records[other] = first
    assert vault.reveal("s1", placeholder) is None
    assert vault.reveal("s2", other) is None


def test_restore_only_allowed_types(masker: Masker) -> None:
    masked = redact(masker, "s1", f"pay {CARD_A} and mail anna.berg@example.com")
    assert masked == "pay <CARD_1> and mail <EMAIL_1>"
    data = {"card": "<CARD_1>", "note": "for <EMAIL_1> and <EMAIL_1>", "n": 3, "tags": ["<CARD_1>"]}
    restored, refused = masker.restore("s1", data, ["CARD"])
    assert restored == {
        "card": CARD_A,
        "note": "for <EMAIL_1> and <EMAIL_1>",
        "n": 3,
        "tags": [CARD_A],
    }
    assert refused == ["<EMAIL_1>"]


def test_restore_reports_unknown_placeholders(masker: Masker) -> None:
    restored, refused = masker.restore("s1", {"card": "<CARD_9>"}, ["CARD"])
    assert restored == {"card": "<CARD_9>"}
    assert refused == ["<CARD_9>"]


def test_erase_forgets_the_session(masker: Masker, vault: Vault) -> None:
    redact(masker, "s1", f"card {CARD_A}, card {CARD_B}")
    assert vault.erase("s1") == 2
    assert vault.reveal("s1", "<CARD_1>") is None
    assert vault.erase("s1") == 0
    # A value seen again after erasure starts a fresh numbering.
    assert redact(masker, "s1", f"card {CARD_B}") == "card <CARD_1>"


def test_ttl_expiry_and_purge(vault: Vault, clock: FakeClock, store: InMemoryVaultStore) -> None:
    vault.tokenise("old", "CARD", CARD_A)
    clock.now += 30
    vault.tokenise("young", "CARD", CARD_B)
    assert vault.reveal("old", "<CARD_1>") == ("CARD", CARD_A)
    clock.now += 31  # "old" was last written 61 s ago, "young" 31 s ago
    assert vault.reveal("old", "<CARD_1>") is None
    assert vault.reveal("young", "<CARD_1>") == ("CARD", CARD_B)
    clock.now += 30
    assert vault.purge_expired() == 1
    assert store.records("young", clock.now) == []


def test_writing_extends_the_session(vault: Vault, clock: FakeClock) -> None:
    vault.tokenise("s1", "CARD", CARD_A)
    clock.now += 50
    vault.tokenise("s1", "CARD", CARD_B)
    clock.now += 50
    assert vault.reveal("s1", "<CARD_1>") == ("CARD", CARD_A)


def test_an_expired_session_is_not_revived(vault: Vault, clock: FakeClock) -> None:
    vault.tokenise("s1", "CARD", CARD_A)
    clock.now += 61
    assert vault.tokenise("s1", "CARD", CARD_B) == "<CARD_1>"
    assert vault.reveal("s1", "<CARD_1>") == ("CARD", CARD_B)


def test_keys(caplog: pytest.LogCaptureFixture) -> None:
    assert len(load_key(new_key())) == 32
    with caplog.at_level("WARNING"):
        first, second = load_key(""), load_key("")
    assert first != second
    assert "vault_key is not set" in caplog.text
    with pytest.raises(ConfigError, match="32 bytes"):
        load_key(base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(ConfigError, match="base64"):
        load_key("not base64 at all!")


def test_the_same_key_reads_another_vaults_records(store: InMemoryVaultStore) -> None:
    key = new_key()
    writer = Vault(store, load_key(key), ttl_s=60)
    placeholder = writer.tokenise("s1", "EMAIL", "a@b.io")
    assert Vault(store, load_key(key), ttl_s=60).reveal("s1", placeholder) == ("EMAIL", "a@b.io")
    assert Vault(store, load_key(new_key()), ttl_s=60).reveal("s1", placeholder) is None


def test_mask_data_masks_every_string_value(masker: Masker) -> None:
    data = {
        "name": "my name is Rubija",
        "nested": {"cards": [f"{CARD_A}", "none"], "count": 2},
        f"{CARD_B}": "keys are not values",
    }
    found = masker.detect(["my name is Rubija", CARD_A, "none", "keys are not values"])
    masked, entities = masker.mask_data("s1", data, found)
    assert masked == {
        "name": "my name is <PERSON_1>",
        "nested": {"cards": ["<CARD_1>", "none"], "count": 2},
        f"{CARD_B}": "keys are not values",
    }
    assert [e.placeholder for e in entities] == ["<PERSON_1>", "<CARD_1>"]
