"""Names the session has seen (in a CRM record or the customer's words) are masked ever after."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from harness import LoopThread, start_service

from services.config import Settings
from services.pii.config import PiiSettings
from services.pii.masking import collect_fields
from services.pii.service import build
from services.pii.vault import new_key
from services.runtime.convert import dict_to_struct, struct_to_dict
from switchboard.v1 import pii_pb2, pii_pb2_grpc

# "Summer" and "Field" read as plain words: only the record can teach the detector they are a name.
RECORD = {
    "customer": {"customer_id": "C-9", "first_name": "Summer", "last_name": "Field"},
    "product": {"name": "Economy Plus"},
}


@pytest.fixture(scope="module")
def stub(loop_thread: LoopThread) -> Iterator[pii_pb2_grpc.PiiServiceStub]:
    server = start_service(
        loop_thread, build(Settings(pii=PiiSettings(port=0, vault_key=new_key())))
    )
    with grpc.insecure_channel(server.target) as channel:
        yield pii_pb2_grpc.PiiServiceStub(channel)
    loop_thread.run(server.stop())


def redact(stub: pii_pb2_grpc.PiiServiceStub, session: str, text: str) -> str:
    request = pii_pb2.RedactRequest(session_id=session, text=text)
    return str(stub.Redact(request, timeout=10).text)


def redact_data(stub: pii_pb2_grpc.PiiServiceStub, session: str, data: object) -> object:
    request = pii_pb2.RedactDataRequest(session_id=session, data=dict_to_struct(data))
    return struct_to_dict(stub.RedactData(request, timeout=10).data)


def names_of(masked: object) -> tuple[str, str]:
    """The placeholders given to the record's first and last name."""
    assert isinstance(masked, dict)
    customer = masked["customer"]
    return customer["first_name"], customer["last_name"]


def test_person_fields_are_masked_whole_and_other_keys_are_not(
    stub: pii_pb2_grpc.PiiServiceStub,
) -> None:
    masked = redact_data(stub, "record", RECORD)
    first, last = names_of(masked)
    assert {first, last} == {"<PERSON_1>", "<PERSON_2>"}
    assert masked == {
        "customer": {"customer_id": "C-9", "first_name": first, "last_name": last},
        "product": {"name": "Economy Plus"},
    }


def test_names_from_a_record_are_masked_in_later_text_in_any_case(
    stub: pii_pb2_grpc.PiiServiceStub,
) -> None:
    text = "hi, this is summer FIELD about my trip"
    assert redact(stub, "later", text) == text  # the detector alone does not know the name
    first, last = names_of(redact_data(stub, "later", RECORD))
    assert redact(stub, "later", text) == f"hi, this is {first} {last} about my trip"


def test_known_names_stay_in_their_session(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    first, last = names_of(redact_data(stub, "mine", RECORD))
    text = "hi, this is summer FIELD about my trip"
    assert redact(stub, "mine", text) == f"hi, this is {first} {last} about my trip"
    assert redact(stub, "someone-else", text) == text


def test_erasing_a_session_forgets_its_names(stub: pii_pb2_grpc.PiiServiceStub) -> None:
    first, _ = names_of(redact_data(stub, "erased", RECORD))
    assert redact(stub, "erased", "it was summer") == f"it was {first}"
    stub.EraseSession(pii_pb2.EraseSessionRequest(session_id="erased"), timeout=10)
    assert redact(stub, "erased", "it was summer") == "it was summer"


def test_collect_fields_pairs_each_value_with_its_nearest_key() -> None:
    data = {"a": "x", "people": [{"last_name": "Y"}, "z"], "n": 3}
    assert collect_fields(data) == [("a", "x"), ("last_name", "Y"), ("people", "z")]


def test_a_reference_the_assistant_listed_is_not_masked_nor_learnt_as_a_name(
    stub: pii_pb2_grpc.PiiServiceStub,
) -> None:
    # A code of capitals sent alone reads as a name in capitals; quoted from a list the
    # assistant showed, it is an answer. Unlisted, it is masked, and then masked ever after.
    code, other = "AXVYAK", "TAQULU"
    for value in (code, other):
        assert redact(stub, "probe", value).startswith("<PERSON_"), value
    request = pii_pb2.RedactRequest(session_id="listed", text=code, shown=["x9fk8l", code.lower()])
    assert stub.Redact(request, timeout=10).text == code
    request = pii_pb2.RedactRequest(session_id="listed", text=other, shown=[code])
    assert stub.Redact(request, timeout=10).text.startswith("<PERSON_")
    # The vault did not learn the listed code as a name: a backend's answer keeps it. Where the
    # code was masked, the vault learnt it, and the same answer is masked.
    reservation = {"pnr": code, "status": "confirmed"}
    assert redact_data(stub, "listed", reservation) == reservation
    assert redact_data(stub, "probe", reservation) != reservation
