"""Placeholders are restored only inside the tool-broker, and only for the types a tool may take.

A customer gives an email. The scripted model plans with the placeholder it sees: a customer
lookup by email (findCustomers declares ``pii: [EMAIL]``) gets the real value; a knowledge search
carrying the same placeholder is refused and never sent, so the knowledge backend sees neither
the value nor the placeholder. No payments operation declares CARD (cards on file are referred to
by payment_method_id), so the card case of the issue has no tool to show it with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from guarantees_support import (
    Turn,
    backend_requests,
    clear_logs,
    list_turns,
    model_requests,
    record_text,
    request_text,
    send_turn,
    set_script,
    start_scripted_mesh,
    stop_mesh,
)
from harness import LoopThread
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mocks.model.script import Match, Reply, ScriptEntry, ToolCallSpec, text_reply
from services.mesh import Mesh
from services.runtime import telemetry_names as names
from switchboard.v1 import common_pb2

EMAIL = "maya.chen.travels@example.com"
# Two requests the classifier reads with confidence (0.96 and the baggage clause), so the turn is
# planned whatever small changes the packs see ("Please find my profile" sat at 0.55, on the
# ladder's threshold).
TEXT = f"Please verify my account, my email is {EMAIL}. Also, what is the baggage policy?"
RESTORE_RPC = "/switchboard.v1.PiiService/Restore"


def plan(*steps: dict[str, Any]) -> ScriptEntry:
    call = ToolCallSpec(name="submit_plan", arguments={"steps": list(steps)})
    return ScriptEntry(
        match=Match(forced_tool="submit_plan", contains="<EMAIL_2>"),
        reply=Reply(tool_calls=[call]),
    )


SCRIPT = [
    # The fast tier makes no call, so the deep tier plans both steps at once.
    text_reply("", offers_tool="findCustomers", contains="<EMAIL_2>"),
    plan(
        {"id": "caller", "tool": "findCustomers", "arguments": {"email": "<EMAIL_2>"}},
        {"id": "kb", "tool": "searchArticles", "arguments": {"q": "baggage for <EMAIL_2>"}},
    ),
    text_reply("I looked that up for you.", offers_tool="show_media"),
]


@pytest.fixture(scope="module")
def mesh(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_scripted_mesh(loop_thread, tmp_path_factory.mktemp("restore-guarantee"))
    yield running
    stop_mesh(loop_thread, running)


@pytest.fixture(scope="module")
def turn(mesh: Mesh) -> Turn:
    set_script(mesh, SCRIPT)
    clear_logs(mesh)
    # The router reads C-1001's CRM record before masking the message, so the record's email
    # is the session's <EMAIL_1> and the one the customer gives is <EMAIL_2>.
    return send_turn(mesh, "restore-1", TEXT, "C-1001")


def results(turn: Turn) -> dict[str, common_pb2.StepResult]:
    return {f.result.step_id: f.result for f in turn.of_kind("step_finished")}


def test_an_allowed_type_is_restored_for_the_backend(mesh: Mesh, turn: Turn) -> None:
    caller = results(turn)["caller"]
    assert caller.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, caller.error
    lookups = [r for r in backend_requests(mesh, "crm") if r["operation_id"] == "findCustomers"]
    assert [r["query"]["email"] for r in lookups] == [EMAIL]


def test_a_tool_not_allowed_the_type_is_refused_and_nothing_is_sent(mesh: Mesh, turn: Turn) -> None:
    kb = results(turn)["kb"]
    assert kb.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert "searchArticles may not receive <EMAIL_2>" in kb.error
    searched = backend_requests(mesh, "knowledge")
    assert searched == [], "a search carrying the placeholder reached the knowledge backend"


def test_only_placeholders_leave_the_broker(mesh: Mesh, turn: Turn) -> None:
    """The model, the turn's events and the session record see the placeholder, never the value."""
    requests = [request_text(r) for r in model_requests(mesh)]
    assert any("<EMAIL_2>" in text for text in requests)
    assert not any(EMAIL in text for text in requests)
    started = {s.step_id: s for s in turn.of_kind("step_started")}
    assert started["caller"].arguments.fields["email"].string_value == "<EMAIL_2>"
    (record,) = list_turns(mesh, "restore-1")
    assert "<EMAIL_2>" in record.customer_text
    assert EMAIL not in record_text(record)
    assert all(EMAIL not in str(event) for event in turn.events)


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    chain: list[str] = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        above = by_id[parent.span_id]
        chain.append(above.name)
        parent = above.parent
    return chain


def test_restore_is_called_from_a_broker_step_only(turn: Turn, spans: InMemorySpanExporter) -> None:
    own = [
        s
        for s in spans.get_finished_spans()
        if s.context is not None and format(s.context.trace_id, "032x") == turn.trace_id
    ]
    by_id = {s.context.span_id: s for s in own if s.context is not None}
    restores = [s for s in own if s.name == RESTORE_RPC]
    assert restores, sorted({s.name for s in own})
    for span in restores:
        assert names.SPAN_STEP in _ancestors(span, by_id), _ancestors(span, by_id)


DOB = "1985-04-12"


def test_a_date_of_birth_is_restored_for_identity_verification(mesh: Mesh) -> None:
    verify = ToolCallSpec(
        name="verifyCustomerIdentity",
        arguments={"customer_id": "C-1001", "date_of_birth": "<DOB_1>"},
    )
    steps = [{"id": "verify", "tool": verify.name, "arguments": verify.arguments}]
    set_script(
        mesh,
        [
            ScriptEntry(
                match=Match(offers_tool=verify.name, contains="<DOB_1>"),
                reply=Reply(tool_calls=[verify]),
            ),
            ScriptEntry(
                match=Match(forced_tool="submit_plan", contains="<DOB_1>"),
                reply=Reply(
                    tool_calls=[ToolCallSpec(name="submit_plan", arguments={"steps": steps})]
                ),
            ),
            text_reply("Thanks, I checked that.", offers_tool="show_media"),
        ],
    )
    clear_logs(mesh)
    turn = send_turn(
        mesh, "restore-dob", f"Please verify my identity, my date of birth is {DOB}.", "C-1001"
    )
    assert any("<DOB_1>" in request_text(r) for r in model_requests(mesh))
    # The fast tier's call for the verify_identity flow, or the deep tier's step "verify".
    (verified,) = [r for r in results(turn).values() if r.tool == verify.name]
    assert verified.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, verified.error
    calls = [r for r in backend_requests(mesh, "crm") if r["operation_id"] == verify.name]
    assert [r["body"]["date_of_birth"] for r in calls] == [DOB]
