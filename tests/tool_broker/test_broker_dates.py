"""A date the customer wrote is sent in the contract's form only when its reading is certain:
the rule itself, and the tool-broker restoring a masked date of birth for the real CRM mock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import grpc
import pytest
from broker_support import StandInGovernance, StandInPii, StandIns
from harness import LoopThread, start_service

from mocks.common.app import backend_of
from mocks.config import MocksSettings
from mocks.server import MockCluster, start_mocks
from mocks.world.model import Verification
from services.config import load_settings
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.tool_broker.config import MOCKS_DIR
from services.tool_broker.dates import iso_date
from services.tool_broker.service import build
from switchboard.v1 import common_pb2, tool_broker_pb2, tool_broker_pb2_grpc

Outcome = common_pb2.StepOutcome
#: what the customer typed, as the PII vault holds it
VAULT = {
    "<DOB_1>": "14 March 1988",
    "<DOB_2>": "03/04/1988",
    "<DOB_3>": "1988-03-14",
}


@pytest.mark.parametrize(
    "written",
    [
        "1988-03-14",
        "1988/3/14",
        "1988.03.14",
        "14 March 1988",
        "14th of March, 1988",
        "14-Mar-1988",
        "March 14, 1988",
        "Mar. 14th 1988",
        "march 14 1988",
        # The day is above 12: one reading only, day first or month first.
        "14/03/1988",
        "03/14/1988",
        "14.3.1988",
        " 14 March 1988. ",
    ],
)
def test_a_date_read_one_way_only_is_rewritten(written: str) -> None:
    assert iso_date(written) == "1988-03-14"


def test_month_names_and_their_abbreviations() -> None:
    assert iso_date("3rd Sept 1990") == "1990-09-03"
    assert iso_date("May 5 2001") == "2001-05-05"
    assert iso_date("1 December 1999") == "1999-12-01"
    # The same number twice reads alike either way.
    assert iso_date("04/04/1988") == "1988-04-04"


@pytest.mark.parametrize(
    "written",
    [
        "03/04/1988",  # the 3rd of April, or March 4th: not guessed
        "12/11/1990",
        "31 February 1988",  # no such day
        "1988-13-01",
        "sometime in 1988",
        "14 March",  # no year
        "14 March 1988 or so",
        "14 March 1988 and 15 March 1988",
        "",
    ],
)
def test_anything_uncertain_is_left_as_written(written: str) -> None:
    assert iso_date(written) is None


@pytest.fixture(scope="module")
def crm(loop_thread: LoopThread) -> Iterator[MockCluster]:
    cluster = loop_thread.run(
        start_mocks(MocksSettings(ports={"crm": 0}, customers=20, members=5), ["crm"])
    )
    yield cluster
    loop_thread.run(cluster.stop())


@pytest.fixture(scope="module")
def broker(
    loop_thread: LoopThread, crm: MockCluster
) -> Iterator[tool_broker_pb2_grpc.ToolBrokerServiceStub]:
    peers = start_service(loop_thread, StandIns(StandInGovernance(), StandInPii(VAULT)))
    settings = load_settings(
        tool_broker={
            "backends": {
                "crm": {
                    "openapi": str(MOCKS_DIR / "crm" / "openapi.yaml"),
                    "base_url": crm.base_urls["crm"],
                }
            }
        },
        governance={"address": peers.target},
        pii={"address": peers.target},
    )
    server = start_service(loop_thread, build(settings))
    with grpc.insecure_channel(server.target) as channel:
        yield tool_broker_pb2_grpc.ToolBrokerServiceStub(channel)
    loop_thread.run(server.stop())
    loop_thread.run(peers.stop())


def _check(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, customer: str, placeholder: str
) -> common_pb2.StepResult:
    arguments = {"customer_id": customer, "date_of_birth": placeholder}
    step = common_pb2.PlanStep(
        id="born", tool="verifyCustomerIdentity", arguments=dict_to_struct(arguments)
    )
    request = tool_broker_pb2.ExecuteToolRequest(session_id="s1", turn_id=placeholder, step=step)
    return broker.ExecuteTool(request, timeout=10).result


def test_a_date_of_birth_written_in_words_reaches_the_crm_in_its_form(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, crm: MockCluster
) -> None:
    assert crm.world is not None
    customers = crm.world.customers
    model = next(iter(customers.values()))
    customers["C-99002"] = dataclasses.replace(
        model,
        customer_id="C-99002",
        date_of_birth=date(1988, 3, 14),
        verification=Verification(status="unverified"),
    )
    log = backend_of(crm.apps["crm"]).log
    try:
        for placeholder in ("<DOB_1>", "<DOB_3>"):
            result = _check(broker, "C-99002", placeholder)
            assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
            assert struct_to_dict(result.result)["matched"] is True
        sent = [r.body for r in log.records() if r.operation_id == "verifyCustomerIdentity"]
        assert sent[-2:] == [{"date_of_birth": "1988-03-14"}] * 2, sent
        # 03/04/1988 is read two ways: never guessed, never sent.
        calls = len(sent)
        unclear = _check(broker, "C-99002", "<DOB_2>")
        assert unclear.outcome == Outcome.STEP_OUTCOME_REJECTED, unclear.error
        assert "does not have the form the contract requires" in unclear.error
        assert len([r for r in log.records() if r.operation_id == "verifyCustomerIdentity"]) == (
            calls
        )
    finally:
        del customers["C-99002"]
