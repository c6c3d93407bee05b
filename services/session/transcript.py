"""A session and its audit trail as text, for people: the conversation, then what the system did."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from switchboard.v1 import common_pb2, events_pb2, session_pb2


def _enum(enum: Any, value: int, prefix: str) -> str:
    name: str = enum.Name(value)
    return name.removeprefix(prefix).lower()


def _when(stamp: Any) -> str:
    return "-" if stamp.seconds == 0 and stamp.nanos == 0 else str(stamp.ToJsonString())


def _ms(duration: Any) -> str:
    return f"{duration.ToMilliseconds()} ms"


def _verdict(verdict: common_pb2.PolicyVerdict) -> str:
    stage = _enum(common_pb2.PolicyStage, verdict.stage, "POLICY_STAGE_")
    action = _enum(common_pb2.PolicyAction, verdict.action, "POLICY_ACTION_")
    rule = f" [{verdict.rule_id}]" if verdict.rule_id else ""
    reason = f": {verdict.reason}" if verdict.reason else ""
    return f"policy {stage} {action}{rule}{reason}"


def _step(step: common_pb2.StepResult) -> str:
    outcome = _enum(common_pb2.StepOutcome, step.outcome, "STEP_OUTCOME_")
    details = [f"HTTP {step.http_status}"] if step.http_status else []
    details.append(_ms(step.latency))
    if step.attempts > 1:
        details.append(f"{step.attempts} attempts")
    error = f": {step.error}" if step.error else ""
    return f"step {step.step_id} {step.tool} -> {outcome} ({', '.join(details)}){error}"


def _fallback(fallback: events_pb2.Fallback) -> str:
    reason = _enum(events_pb2.FallbackReason, fallback.reason, "FALLBACK_REASON_")
    action = _enum(events_pb2.FallbackAction, fallback.action, "FALLBACK_ACTION_")
    detail = f": {fallback.detail}" if fallback.detail else ""
    return f"fallback {reason} -> {action}{detail}"


def render_turn(number: int, turn: session_pb2.TurnRecord) -> list[str]:
    """The lines of one audit record."""
    status = _enum(session_pb2.TurnStatus, turn.status, "TURN_STATUS_")
    head = [f"{number}. turn {turn.turn_id}", _when(turn.started_at), status, _ms(turn.latency)]
    if turn.channel:
        head.append(f"via {turn.channel}")
    if turn.trace_id:
        head.append(f"trace {turn.trace_id}")
    lines = [" · ".join(head)]
    if turn.HasField("intent"):
        intent = turn.intent
        scope = ", out of scope" if intent.out_of_scope else ""
        by = f", {intent.classifier}" if intent.classifier else ""
        lines.append(f"intent {intent.name} ({intent.confidence:.2f}{by}{scope})")
    lines += [_verdict(v) for v in turn.verdicts]
    if turn.HasField("plan") and turn.plan.steps:
        tools = ", ".join(step.tool for step in turn.plan.steps)
        flow = f" from flow {turn.plan.flow}" if turn.plan.flow else ""
        lines.append(f"plan {turn.plan.id or '-'}{flow}: {tools}")
    for step in turn.steps:
        lines.append(_step(step))
        lines += ["  " + _verdict(v) for v in step.verdicts]
    lines += [_fallback(f) for f in turn.fallbacks]
    if turn.HasField("handoff"):
        reason = f": {turn.handoff.reason}" if turn.handoff.reason else ""
        lines.append(f"handoff to {turn.handoff.queue or 'the default queue'}{reason}")
    if turn.HasField("usage"):
        usage = turn.usage
        model = f" ({usage.model})" if usage.model else ""
        lines.append(f"tokens {usage.input_tokens} in / {usage.output_tokens} out{model}")
    if turn.error:
        lines.append(f"error: {turn.error}")
    return [lines[0], *("   " + line for line in lines[1:])]


def render(session: session_pb2.Session, turns: Iterable[session_pb2.TurnRecord]) -> str:
    """The session's state, its recent conversation and its whole audit trail."""
    verified = "yes" if session.identity_verified else "no"
    offered = session.offered_intent or " or ".join(c.intent for c in session.offered_choices)
    lines = [
        f"session {session.id} · version {session.version} · "
        f"customer {session.customer_id or '-'} · identity verified: {verified}",
        f"created {_when(session.created_at)} · updated {_when(session.updated_at)}",
        f"industry: {session.industry or '-'} · last request: {session.served_intent or '-'} · "
        f"pending flow: {session.pending_flow or '-'} · offered: {offered or '-'}"
        + (
            f" · awaiting a proof: {session.proof_awaited_intent}"
            if session.proof_awaited_intent
            else ""
        ),
        "slots: " + (", ".join(f"{k}={v}" for k, v in sorted(session.slots.items())) or "-"),
        "",
        "recent conversation",
    ]
    lines += [f"  {entry.role:<10} {entry.text}" for entry in session.history] or ["  -"]
    records = list(turns)
    lines += ["", f"audit trail ({len(records)} turns)"]
    for number, turn in enumerate(records, start=1):
        lines += ["  " + line for line in render_turn(number, turn)]
    return "\n".join(lines)
