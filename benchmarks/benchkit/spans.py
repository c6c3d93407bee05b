"""Span durations from the services' local span files (``telemetry/<service>.spans.jsonl``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def span_durations(telemetry_dir: Path, service: str) -> dict[str, list[float]]:
    """Durations in seconds of each span name one service recorded, in file order."""
    durations: dict[str, list[float]] = defaultdict(list)
    path = telemetry_dir / f"{service}.spans.jsonl"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                span = json.loads(line)
                start, end = _seconds(span["start_time"]), _seconds(span["end_time"])
            except (ValueError, KeyError, TypeError):
                continue
            durations[str(span["name"])].append(end - start)
    return dict(durations)
