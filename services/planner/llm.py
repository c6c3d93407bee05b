"""Chat Completions over the ``openai`` SDK: streaming, tool calls, usage, timeouts and retries.

Every call streams (``stream_options.include_usage`` for the token count). Tool calls arrive as
deltas spread over chunks — the first carries the index, id and name, the arguments follow in
pieces — and are accumulated by index. Failures that a later attempt may fix (connection errors,
timeouts, 429 and 5xx) are retried: first by the SDK (``max_retries``, honouring Retry-After),
then by us up to ``max_attempts`` with exponential backoff, and only while nothing has been
streamed to the caller. What is still failing then raises :class:`ModelUnavailable`, which sends
the turn to the embedded engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI, omit

from services.planner import telemetry
from services.planner.config import ModelSettings
from services.planner.plans import Usage
from services.runtime import deadline

log = logging.getLogger(__name__)

Message = dict[str, Any]


class ModelUnavailable(Exception):
    """The model could not be reached or kept failing; the embedded engine takes over."""


@dataclass
class ToolCall:
    """One complete tool call of an assistant message."""

    id: str
    name: str
    arguments: str

    def parsed(self) -> dict[str, Any]:
        """The arguments as an object; ValueError when they are not a JSON object."""
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("the arguments must be a JSON object")
        return value

    def message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Completion:
    """A whole assistant message, assembled from the stream."""

    model: str
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""
    usage: Usage | None = None

    def assistant_message(self) -> Message:
        message: Message = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.message() for call in self.tool_calls]
        return message


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ModelClient:
    """One OpenAI-compatible endpoint."""

    def __init__(self, settings: ModelSettings, client: AsyncOpenAI | None = None) -> None:
        self.settings = settings
        self._client = client or AsyncOpenAI(
            base_url=settings.resolved_base_url() or None,
            api_key=settings.resolved_api_key() or "unused",
            timeout=settings.timeout_s,
            max_retries=settings.sdk_max_retries,
        )

    async def close(self) -> None:
        await self._client.close()

    async def stream(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | dict[str, Any] | None = None,
    ) -> AsyncIterator[str | Completion]:
        """Text deltas as they arrive, then the whole :class:`Completion` last."""
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            streamed = False
            try:
                async for item in self._stream_once(model, messages, tools, tool_choice):
                    if isinstance(item, str):
                        streamed = True
                    yield item
                return
            except (openai.APITimeoutError, TimeoutError):
                reason = f"{model} did not answer in time (unreachable or too slow)"
            except openai.APIConnectionError as error:
                reason = f"{model} unreachable: {type(error).__name__}"
            except openai.RateLimitError:
                reason = f"{model} is rate limited (429)"
            except openai.InternalServerError as error:
                reason = f"{model} failed with HTTP {error.status_code}"
            except openai.APIStatusError as error:
                # 4xx other than 429: retrying the same request cannot help.
                status = error.status_code
                raise ModelUnavailable(f"{model} refused the request: HTTP {status}") from error
            except openai.APIError as error:
                raise ModelUnavailable(f"{model} sent an invalid response: {error}") from error
            if streamed or attempt == attempts:
                raise ModelUnavailable(reason)
            pause = self.settings.retry_backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
            left = deadline.remaining()
            if left is not None and left <= pause:
                raise ModelUnavailable(reason + " and the turn's deadline leaves no time to retry")
            log.warning("model call failed (%s); attempt %d of %d", reason, attempt + 1, attempts)
            await asyncio.sleep(pause)

    async def complete(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | dict[str, Any] | None = None,
    ) -> Completion:
        """The whole assistant message (streamed underneath)."""
        completion: Completion | None = None
        # Drained to the end, so the stream's span closes in this task's context.
        async for item in self.stream(model, messages, tools, tool_choice):
            if isinstance(item, Completion):
                completion = item
        if completion is None:
            raise ModelUnavailable(f"{model} ended the stream without a message")
        return completion

    async def _stream_once(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any] | None,
    ) -> AsyncIterator[str | Completion]:
        with telemetry.model_span(model) as span:
            async for item in self._chunks(model, messages, tools, tool_choice):
                if isinstance(item, Completion):
                    telemetry.record_usage(span, item.usage, item.finish_reason)
                yield item

    async def _chunks(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any] | None,
    ) -> AsyncIterator[str | Completion]:
        timeout = deadline.timeout(self.settings.timeout_s)
        # Messages and tools are plain JSON shaped like the SDK's TypedDicts.
        stream = await self._client.chat.completions.create(  # type: ignore[call-overload]
            model=model,
            messages=list(messages),
            stream=True,
            stream_options={"include_usage": True},
            timeout=timeout,
            tools=list(tools) if tools else omit,
            tool_choice=tool_choice if tools and tool_choice is not None else omit,
        )
        completion = Completion(model=model)
        calls: dict[int, _PartialCall] = {}
        text: list[str] = []
        chunks = aiter(stream)
        first = True
        try:
            while True:
                try:
                    if first:
                        wait = self.settings.first_token_timeout_s
                        chunk = await asyncio.wait_for(anext(chunks), deadline.timeout(wait))
                        first = False
                    else:
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                if chunk.usage is not None:
                    completion.usage = Usage(
                        model=chunk.model or model,
                        input_tokens=chunk.usage.prompt_tokens,
                        output_tokens=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield delta.content
                    for piece in delta.tool_calls or []:
                        partial = calls.setdefault(piece.index, _PartialCall())
                        partial.id = piece.id or partial.id
                        if piece.function is not None:
                            partial.name = piece.function.name or partial.name
                            if piece.function.arguments:
                                partial.arguments.append(piece.function.arguments)
                    if choice.finish_reason:
                        completion.finish_reason = choice.finish_reason
        finally:
            await stream.close()
        completion.content = "".join(text)
        completion.tool_calls = [
            ToolCall(id=p.id or f"call_{i}", name=p.name, arguments="".join(p.arguments))
            for i, p in sorted(calls.items())
        ]
        yield completion
