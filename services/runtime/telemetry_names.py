"""The telemetry vocabulary: span names and ``switchboard.*`` attribute keys, in one place."""

from __future__ import annotations

SPAN_TURN = "switchboard.turn"
SPAN_CLASSIFY = "switchboard.classify"

SESSION_ID = "switchboard.session.id"
TURN_ID = "switchboard.turn.id"
CHANNEL = "switchboard.channel"
TURN_LATENCY_MS = "switchboard.turn.latency_ms"
