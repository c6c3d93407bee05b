"""Rendering a turn's events for a person at a terminal."""

from __future__ import annotations

from typing import TextIO

from google.protobuf import json_format

from switchboard.v1 import common_pb2, events_pb2


def _ms(duration: object) -> str:
    return f"{duration.ToNanoseconds() / 1e6:.0f} ms"  # type: ignore[attr-defined]


def _plain(value: object) -> object:
    """A Struct's value as it was meant: its numbers are all floats, "5000" among them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _args(struct: object) -> str:
    data = json_format.MessageToDict(struct)  # type: ignore[arg-type]
    return ", ".join(f"{k}={_plain(v)}" for k, v in data.items())


def _enum(enum: object, value: int, prefix: str) -> str:
    name: str = enum.Name(value)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower()


class EventPrinter:
    """Prints events as they come, keeping the streamed reply on its own lines."""

    #: what starts the reply's first line; a part of it after an event line is indented as much
    REPLY = "assistant: "

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._in_reply = False
        #: the turn's reply has begun (a disclaimer after a policy line is still the same reply)
        self._replied = False

    def _line(self, text: str) -> None:
        if self._in_reply:
            self.out.write("\n")
            self._in_reply = False
        self.out.write(text + "\n")
        self.out.flush()

    def show(self, event: events_pb2.TurnEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "turn_started":
            self._replied = False
            self._line(f"· turn {event.turn_id} · trace {event.trace_id}")
        elif kind == "intent":
            i = event.intent
            others = ", ".join(f"{c.name} {c.confidence:.2f}" for c in i.candidates[1:3])
            self._line(
                f"· intent   {i.name} ({i.confidence:.2f})" + (f"  [{others}]" if others else "")
            )
        elif kind == "policy":
            p = event.policy
            stage = _enum(common_pb2.PolicyStage, p.stage, "POLICY_STAGE_")
            action = _enum(common_pb2.PolicyAction, p.action, "POLICY_ACTION_")
            reason = f": {p.reason}" if p.reason else ""
            self._line(f"· policy   {stage} {action} ({p.rule_id}){reason}")
        elif kind == "plan":
            plan = event.plan.plan
            steps = "; ".join(f"{s.id}={s.tool}({_args(s.arguments)})" for s in plan.steps)
            missing = f" missing: {', '.join(plan.missing_slots)}" if plan.missing_slots else ""
            self._line(f"· plan     {plan.flow} [{plan.tier}] {steps}{missing}")
        elif kind == "step_started":
            s = event.step_started
            self._line(f"  → {s.step_id} {s.tool}({_args(s.arguments)})")
        elif kind == "step_finished":
            r = event.step_finished.result
            outcome = _enum(common_pb2.StepOutcome, r.outcome, "STEP_OUTCOME_")
            status = f" HTTP {r.http_status}" if r.http_status else ""
            error = f": {r.error}" if r.error else ""
            self._line(f"  ← {r.step_id} {r.tool} {outcome}{status} in {_ms(r.latency)}{error}")
        elif kind == "text_delta":
            text = event.text_delta.text
            if not self._in_reply:
                if self._replied:
                    # The reply goes on after an event line: no second "assistant:", and the
                    # blank line that separates its parts was the event line.
                    text = text.lstrip("\n")
                    self.out.write(" " * len(self.REPLY))
                else:
                    self.out.write(self.REPLY)
                self._in_reply = self._replied = True
            self.out.write(text)
            self.out.flush()
        elif kind == "rich_media":
            m = event.rich_media
            media = _enum(common_pb2.MediaKind, m.kind, "MEDIA_KIND_")
            uri = m.uri if len(m.uri) <= 80 else f"{m.uri[:40]}… ({len(m.uri)} characters)"
            self._line(f"· [{media}] {m.title} {uri}".rstrip())
        elif kind == "fallback":
            f = event.fallback
            reason = _enum(events_pb2.FallbackReason, f.reason, "FALLBACK_REASON_")
            action = _enum(events_pb2.FallbackAction, f.action, "FALLBACK_ACTION_")
            self._line(f"· fallback {reason} → {action}: {f.detail}")
        elif kind == "handoff":
            self._line(f"· handoff  → {event.handoff.queue}: {event.handoff.reason}")
        elif kind == "turn_completed":
            c = event.turn_completed
            tokens = c.usage.input_tokens + c.usage.output_tokens
            self._line(f"· completed in {_ms(c.latency)} · {tokens} tokens")
        elif kind == "error":
            self._line(f"· error {event.error.code}: {event.error.message}")


def to_json(event: events_pb2.TurnEvent) -> str:
    """One event as one line of JSON with proto field names."""
    return json_format.MessageToJson(event, preserving_proto_field_name=True, indent=None)
