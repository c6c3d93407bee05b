"""The scripted model's behaviour: a list of entries, each a condition and what to answer.

An entry matches a chat completion request when every condition it sets holds; the first
matching entry that still has uses left answers. An answer is a reply (text and/or tool calls)
and optionally a fault: a slow first token, an HTTP error status, or a reply that is wrong on
purpose (malformed tool-call JSON, a hallucinated tool name, arguments that break the schema are
all expressed as ordinary replies; see the helpers at the bottom).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolCallSpec(BaseModel):
    """One tool call the model makes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the function name, sent as is (it may be one never offered)")
    arguments: dict[str, Any] | str = Field(
        default_factory=dict,
        description="the arguments; a string is sent verbatim, so it may be malformed JSON",
    )

    def arguments_text(self) -> str:
        """The arguments as the wire carries them: a JSON string."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"))


class Reply(BaseModel):
    """What the assistant message contains."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = None
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


class Match(BaseModel):
    """Conditions on a request; an unset condition always holds."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="the requested model equals this")
    contains: str | None = Field(
        default=None, description="the last user message contains this (case-insensitive)"
    )
    transcript_contains: str | None = Field(
        default=None, description="some message of any role contains this (case-insensitive)"
    )
    system_contains: str | None = Field(
        default=None, description="the system message contains this (case-insensitive)"
    )
    last_role: str | None = Field(default=None, description="the last message has this role")
    offers_tool: str | None = Field(default=None, description="a tool of this name is offered")
    forced_tool: str | None = Field(
        default=None, description="tool_choice forces the function of this name"
    )
    stream: bool | None = Field(default=None, description="the request streams (or not)")

    def holds(self, request: dict[str, Any]) -> bool:
        messages: list[dict[str, Any]] = request.get("messages") or []
        checks = (
            self.model is None or request.get("model") == self.model,
            self.contains is None or _has(_last(messages, "user"), self.contains),
            self.transcript_contains is None
            or any(_has(_text(m), self.transcript_contains) for m in messages),
            self.system_contains is None or _has(_last(messages, "system"), self.system_contains),
            self.last_role is None or bool(messages) and messages[-1].get("role") == self.last_role,
            self.offers_tool is None or self.offers_tool in _offered(request),
            self.forced_tool is None or _forced(request) == self.forced_tool,
            self.stream is None or bool(request.get("stream")) == self.stream,
        )
        return all(checks)


class Fault(BaseModel):
    """A failure to inject instead of, or before, the reply."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(
        default=None, ge=400, le=599, description="answer with this HTTP error status"
    )
    retry_after_s: float | None = Field(
        default=None, ge=0, description="Retry-After header sent with an error status"
    )
    first_token_delay_s: float = Field(
        default=0.0, ge=0, le=600, description="wait this long before the first token"
    )


class ScriptEntry(BaseModel):
    """One scripted behaviour."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="a label for logs and tests")
    match: Match = Field(default_factory=Match)
    reply: Reply = Field(default_factory=Reply)
    fault: Fault | None = None
    times: int | None = Field(
        default=None, ge=1, description="how many requests it may answer; None: any number"
    )


DEFAULT_REPLY = Reply(content="I have no scripted answer for that.")


class Script:
    """The entries in order, with their remaining uses. Thread-safe."""

    def __init__(self, entries: list[ScriptEntry] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[ScriptEntry] = []
        self._used: list[int] = []
        self.set(entries or [])

    def set(self, entries: list[ScriptEntry]) -> None:
        """Replace every entry."""
        with self._lock:
            self._entries = list(entries)
            self._used = [0] * len(self._entries)

    def add(self, entries: list[ScriptEntry]) -> None:
        """Append entries after the existing ones."""
        with self._lock:
            self._entries.extend(entries)
            self._used.extend([0] * len(entries))

    def entries(self) -> list[ScriptEntry]:
        with self._lock:
            return list(self._entries)

    def pick(self, request: dict[str, Any]) -> ScriptEntry | None:
        """The first matching entry with uses left, counting this use; None when none match."""
        with self._lock:
            for index, entry in enumerate(self._entries):
                if entry.times is not None and self._used[index] >= entry.times:
                    continue
                if entry.match.holds(request):
                    self._used[index] += 1
                    return entry
        return None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _last(messages: list[dict[str, Any]], role: str) -> str:
    for message in reversed(messages):
        if message.get("role") == role or (role == "system" and message.get("role") == "developer"):
            return _text(message)
    return ""


def _has(text: str, needle: str) -> bool:
    return needle.casefold() in text.casefold()


def _offered(request: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for tool in request.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _forced(request: dict[str, Any]) -> str | None:
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
    return choice if isinstance(choice, str) else None


def text_reply(content: str, **match: Any) -> ScriptEntry:
    """An entry answering with text."""
    return ScriptEntry(match=Match(**match), reply=Reply(content=content))


def tool_reply(name: str, arguments: dict[str, Any] | str, **match: Any) -> ScriptEntry:
    """An entry answering with one tool call."""
    call = ToolCallSpec(name=name, arguments=arguments)
    return ScriptEntry(match=Match(**match), reply=Reply(tool_calls=[call]))


def malformed_tool_call(name: str, **match: Any) -> ScriptEntry:
    """A tool call whose arguments are not valid JSON (cut off mid-object)."""
    return tool_reply(name, '{"flight_number": "UA1', **match)


def hallucinated_tool_call(name: str = "bookHotel", **match: Any) -> ScriptEntry:
    """A call of a tool that was never offered."""
    return tool_reply(name, {"city": "SFO", "nights": 1}, **match)


def schema_violating_call(name: str, arguments: dict[str, Any], **match: Any) -> ScriptEntry:
    """A call of a real tool with arguments its schema forbids (the caller picks which)."""
    return tool_reply(name, arguments, **match)


def error_status(status: int, retry_after_s: float | None = None, **match: Any) -> ScriptEntry:
    """An entry answering with an HTTP error (429, 500, 503 ...)."""
    return ScriptEntry(
        match=Match(**match), fault=Fault(status=status, retry_after_s=retry_after_s)
    )
