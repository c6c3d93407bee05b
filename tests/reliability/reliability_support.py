"""Shared parts of the reliability tests: driving turns, checking how they end, and reading the
mocks' admin endpoints and a process's resources from /proc.

Every helper talks to real servers on 127.0.0.1; none of them sleeps to wait for a state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from harness import Turn
from harness import send_turn as harness_send_turn

from switchboard.v1 import events_pb2

FLIGHT_QUESTION = "Is flight UA 123 on time?"

#: utterances whose turns reach every mock backend (booking, crm, payments, claims, knowledge)
UTTERANCES: tuple[tuple[str, str], ...] = (
    (FLIGHT_QUESTION, "C-1001"),
    ("What is the baggage allowance for a checked bag?", "C-1001"),
    ("How many miles do I have?", "C-1001"),
    ("Where is my withdrawal W-5001?", "C-1002"),
    ("What is the status of claim CL-9001 for member M-3001?", "P-7001"),
    ("hello there", ""),
)

#: how a turn may end: the stream's last event is one of these, exactly once
TERMINAL = frozenset({"turn_completed", "error"})


def send_turn(
    target: str, session_id: str, text: str, customer_id: str = "", timeout: float = 20.0
) -> Turn:
    """One turn on the "reliability" channel (see :func:`harness.send_turn`)."""
    return harness_send_turn(
        target, session_id, text, customer_id, channel="reliability", timeout=timeout
    )


def assert_ended_cleanly(turn: Turn) -> None:
    """The stream started a turn and ended it exactly once, with turn_completed or error."""
    kinds = turn.kinds
    assert kinds, "the stream carried no event"
    assert kinds[0] == "turn_started", kinds
    assert kinds[-1] in TERMINAL, kinds
    assert sum(kinds.count(k) for k in TERMINAL) == 1, kinds
    if kinds[-1] == "turn_completed":
        assert turn.last.turn_completed.reply.strip(), (
            "a completed turn tells the customer something"
        )
    else:
        assert turn.last.error.code and turn.last.error.message, turn.last


def outcome_of(turn: Turn) -> str:
    """ "success", "fallback:<REASON>" or "error:<CODE>": how the turn ended, for tallies."""
    if turn.kinds[-1] == "error":
        return f"error:{turn.last.error.code}"
    fallbacks = turn.of("fallback")
    if fallbacks:
        return "fallback:" + events_pb2.FallbackReason.Name(fallbacks[0].fallback.reason)
    return "success"


# --- the mocks' admin endpoints -----------------------------------------------------------------


def set_faults(base_urls: Mapping[str, str], config: Mapping[str, Any]) -> None:
    """Put the same fault configuration on every named backend."""
    with httpx.Client(timeout=10) as client:
        for name, url in base_urls.items():
            reply = client.put(f"{url}/_admin/faults", json=dict(config))
            assert reply.status_code == 200, (name, reply.text)


def clear_faults(base_urls: Mapping[str, str]) -> None:
    with httpx.Client(timeout=10) as client:
        for url in base_urls.values():
            client.delete(f"{url}/_admin/faults").raise_for_status()


def requests_of(base_url: str, operation_id: str | None = None) -> list[dict[str, Any]]:
    """The backend's request log, optionally only one operation's requests."""
    with httpx.Client(timeout=10) as client:
        reply = client.get(f"{base_url}/_admin/requests")
        reply.raise_for_status()
    records: list[dict[str, Any]] = reply.json()["requests"]
    return [r for r in records if operation_id is None or r["operation_id"] == operation_id]


# --- a process's resources ----------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """One sample of a process's resident memory and open file descriptors."""

    rss_kib: int
    fds: int


def resources(pid: int) -> Resources:
    """Read VmRSS and the count of open descriptors of ``pid`` from /proc."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Resources(rss_kib=rss, fds=len(os.listdir(f"/proc/{pid}/fd")))


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
