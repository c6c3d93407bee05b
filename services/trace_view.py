"""Drawing one trace as a waterfall, from the JSON-lines span files the services write."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.runtime import telemetry_names as names

#: attributes worth a glance in the waterfall, in the order they are shown
_SHOWN = (
    "rpc.grpc.status_code",
    names.HTTP_STATUS,
    names.INTENT,
    names.TOOL,
    names.STEP_OUTCOME,
    names.POLICY_RULE,
    names.POLICY_ACTION,
    names.GEN_AI_REQUEST_MODEL,
    names.GEN_AI_USAGE_INPUT_TOKENS,
    names.GEN_AI_USAGE_OUTPUT_TOKENS,
)


@dataclass
class Span:
    """One span as the waterfall needs it."""

    span_id: str
    parent_id: str | None
    name: str
    service: str
    start: float
    end: float
    attributes: dict[str, Any]
    status: str
    children: list[Span] = field(default_factory=list)


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def load_spans(files: Iterable[Path], trace_id: str) -> list[Span]:
    """The spans of one trace (32 hex digits, with or without 0x) from span files."""
    wanted = "0x" + trace_id.lower().removeprefix("0x")
    spans = []
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if wanted not in line:
                    continue
                raw = json.loads(line)
                if raw["context"]["trace_id"] != wanted:
                    continue
                spans.append(
                    Span(
                        span_id=raw["context"]["span_id"],
                        parent_id=raw.get("parent_id"),
                        name=raw["name"],
                        service=raw.get("resource", {})
                        .get("attributes", {})
                        .get("service.name", "?"),
                        start=_time(raw["start_time"]),
                        end=_time(raw["end_time"]),
                        attributes=raw.get("attributes") or {},
                        status=raw.get("status", {}).get("status_code", "UNSET"),
                    )
                )
    return spans


def render(spans: list[Span], width: int = 40) -> str:
    """The spans as an indented tree with a time bar per span."""
    if not spans:
        return "no spans found for that trace"
    by_id = {span.span_id: span for span in spans}
    roots: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        parent = by_id.get(span.parent_id or "")
        (parent.children if parent else roots).append(span)
    origin = min(s.start for s in spans)
    total = max(max(s.end for s in spans) - origin, 1e-6)
    lines = [f"trace spans={len(spans)} total={total * 1000:.1f} ms"]

    def walk(span: Span, depth: int) -> None:
        left = int((span.start - origin) / total * width)
        length = max(1, int((span.end - span.start) / total * width))
        bar = " " * left + "█" * min(length, width - left)
        facts = " ".join(
            f"{k.split('.')[-1]}={span.attributes[k]}" for k in _SHOWN if k in span.attributes
        )
        error = " ERROR" if span.status == "ERROR" else ""
        label = f"{'  ' * depth}{span.name} [{span.service}]"
        took = (span.end - span.start) * 1000
        lines.append(f"{label:<64.64} {bar:<{width}} {took:8.1f} ms{error} {facts}".rstrip())
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)
