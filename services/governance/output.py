"""Holding reply text back by sentence and releasing only what the output rules let through.

A sentence is complete once a terminator (. ! ? …, possibly followed by closing quotes or
brackets) is followed by whitespace, or at a line break: until the whitespace arrives, "$5." may
still become "$5.00". Text without a sentence end is held up to ``max_hold_chars``, then released
up to its last space so a reply without punctuation cannot grow without bound. Whatever remains
when the reply ends is checked and released by :meth:`OutputGuard.close`, followed by the
disclaimers that fired, once each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.governance.engine import evaluate
from services.governance.expressions import Bindings
from services.governance.packs import VARIABLES, Rule
from services.governance.verdicts import Action, Stage, Verdict

_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n+")
# Abbreviations whose period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "no", "vs", "approx", "ref", "dept", "inc"}
)
_LAST_WORD = re.compile(r"([\w.]+)\.+$")

DISCLAIMER_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Release:
    """A piece of text to release, and the verdict when a rule changed it."""

    text: str
    verdict: Verdict | None = None


class OutputGuard:
    """The output rules applied to one reply, fed piece by piece."""

    def __init__(
        self,
        rules: Sequence[Rule],
        intent: str,
        session: Mapping[str, Any],
        max_hold_chars: int = 600,
    ) -> None:
        # Rules whose scope rules the reply's intent out cannot hold on any of its sentences.
        self._rules = tuple(rule for rule in rules if rule.admits("intent", intent))
        # The intent and session, converted to CEL once per reply; each sentence adds its text.
        self._bindings = Bindings(
            {"intent": intent, "session": dict(session)}, VARIABLES[Stage.OUTPUT]
        )
        self._max_hold = max_hold_chars
        self._buffer = ""
        self._blocked_rules: set[str] = set()
        self._disclaimers: dict[str, Verdict] = {}
        self._closed = False

    def feed(self, text: str) -> list[Release]:
        """Take the next piece of reply text; return what can be released now."""
        if self._closed:
            raise RuntimeError("the reply is already closed")
        self._buffer += text
        released: list[Release] = []
        for sentence in self._complete_sentences():
            released.extend(self._check(sentence))
        if len(self._buffer) > self._max_hold:
            cut = self._buffer.rfind(" ", 0, self._max_hold) + 1 or self._max_hold
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            released.extend(self._check(piece))
        return released

    def close(self) -> list[Release]:
        """The reply ended: check and release the rest, then append the disclaimers."""
        self._closed = True
        released: list[Release] = []
        if self._buffer:
            rest, self._buffer = self._buffer, ""
            released.extend(self._check(rest))
        released.extend(
            Release(DISCLAIMER_SEPARATOR + verdict.message, verdict)
            for verdict in self._disclaimers.values()
        )
        return released

    def _complete_sentences(self) -> list[str]:
        sentences: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            if match.group().startswith(".") and self._is_abbreviation(start, match.start()):
                continue
            sentences.append(self._buffer[start : match.end()])
            start = match.end()
        self._buffer = self._buffer[start:]
        return sentences

    def _is_abbreviation(self, start: int, period: int) -> bool:
        word = _LAST_WORD.search(self._buffer[start : period + 1])
        return word is not None and word.group(1).casefold() in _ABBREVIATIONS

    def _check(self, piece: str) -> list[Release]:
        text = piece.strip()
        if not text:
            return [Release(piece)]
        leading = piece[: len(piece) - len(piece.lstrip())]
        trailing = piece[len(piece.rstrip()) :]
        bindings = self._bindings.bind("text", text)
        fired = [(rule, v) for rule in self._rules if (v := evaluate(rule, bindings)) is not None]
        for rule, verdict in fired:
            if verdict.action is Action.DISCLAIM:
                self._disclaimers.setdefault(rule.rule_id, verdict)
        blocks = [verdict for _, verdict in fired if verdict.action is Action.BLOCK]
        if blocks:
            # The sentence is dropped whole; each rule's safe message is said once per reply.
            first = blocks[0]
            said = first.rule_id in self._blocked_rules
            self._blocked_rules.update(v.rule_id for v in blocks)
            safe = "" if said else leading + first.message + (trailing or " ")
            released = [Release(safe, first)]
            released.extend(Release("", verdict) for verdict in blocks[1:])
            return released
        changes: list[Verdict] = []
        for rule, verdict in fired:
            if verdict.action is Action.REDACT and rule.pattern is not None:
                text, count = rule.pattern.subn(rule.message, text)
                if count:
                    changes.append(verdict)
        if not changes:
            return [Release(piece)]
        released = [Release(leading + text + trailing, changes[0])]
        released.extend(Release("", verdict) for verdict in changes[1:])
        return released
