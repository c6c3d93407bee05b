"""An OpenAI-compatible model server with scripted, deterministic answers, for tests and demos.

Endpoints:
- ``POST /v1/chat/completions`` — Chat Completions, streamed (SSE) or not, with tools. Streams are
  shaped like the real API's: the first delta carries the role, a tool call's first delta carries
  its index, id, type and name with empty arguments, and the arguments follow in small pieces;
  with ``stream_options.include_usage`` every chunk has ``usage: null`` and a last chunk with no
  choices carries the usage.
- ``GET /v1/models`` — the models it answers as.
- ``GET|PUT|POST|DELETE /_admin/script`` — read, replace, extend or clear the script.
- ``GET|DELETE /_admin/requests`` — every chat completion request received, in order.

Token counts are deterministic: about one token per four characters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mocks.model.script import DEFAULT_REPLY, Reply, Script, ScriptEntry

MODELS = ("gpt-4.1", "gpt-5.2")
ARGUMENT_PIECE = 7  # characters of tool-call arguments per chunk: splits JSON mid-token

_entries = TypeAdapter(list[ScriptEntry])


class ScriptedModel:
    """The server's state: its script and the requests it has received."""

    def __init__(self, script: list[ScriptEntry] | None = None) -> None:
        self.script = Script(script)
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        """Every chat completion request body received, oldest first."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _prompt_tokens(body: dict[str, Any]) -> int:
    prompt = json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
    return _tokens(prompt)


def _completion_tokens(reply: Reply) -> int:
    text = reply.content or ""
    text += "".join(call.name + call.arguments_text() for call in reply.tool_calls)
    return max(1, _tokens(text))


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt, completion = _prompt_tokens(body), _completion_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _error(status: int, message: str, kind: str, retry_after_s: float | None = None) -> Response:
    headers = {} if retry_after_s is None else {"retry-after": f"{retry_after_s:g}"}
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def _message(reply: Reply, call_ids: list[str]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text()},
            }
            for call_id, call in zip(call_ids, reply.tool_calls, strict=True)
        ]
    return message


def _content_pieces(content: str) -> list[str]:
    # A word and the space after it per chunk, like a tokenizer's output.
    return re.findall(r"\S+\s*|\s+", content)


def _deltas(reply: Reply, call_ids: list[str]) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
    deltas += [{"content": piece} for piece in _content_pieces(reply.content or "")]
    for index, (call_id, call) in enumerate(zip(call_ids, reply.tool_calls, strict=True)):
        head = {"index": index, "id": call_id, "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        text = call.arguments_text()
        for start in range(0, len(text), ARGUMENT_PIECE):
            piece = text[start : start + ARGUMENT_PIECE]
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def create_app(model: ScriptedModel | None = None) -> Starlette:
    """The Starlette application; pass ``model`` to script it from code."""
    state = model or ScriptedModel()

    async def chat_completions(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is required and must be a list", "invalid_request_error")
        if not isinstance(body.get("model"), str):
            return _error(400, "'model' is required", "invalid_request_error")
        state.record(body)
        entry = state.script.pick(body)
        reply = entry.reply if entry else DEFAULT_REPLY
        fault = entry.fault if entry else None
        if fault is not None and fault.status is not None:
            if fault.first_token_delay_s:
                await asyncio.sleep(fault.first_token_delay_s)
            kind = "rate_limit_error" if fault.status == 429 else "server_error"
            return _error(fault.status, f"scripted fault {fault.status}", kind, fault.retry_after_s)
        delay = fault.first_token_delay_s if fault else 0.0
        number = state.next_id()
        completion_id = f"chatcmpl-{number:06d}"
        call_ids = [f"call_{number:06d}_{i}" for i in range(len(reply.tool_calls))]
        created = int(time.time())
        if not body.get("stream"):
            if delay:
                await asyncio.sleep(delay)
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body["model"],
                    "system_fingerprint": None,
                    "choices": [
                        {
                            "index": 0,
                            "message": _message(reply, call_ids),
                            "logprobs": None,
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": _usage(body, reply),
                }
            )
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False

        def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "system_fingerprint": None,
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        async def events() -> AsyncIterator[str]:
            if delay:
                await asyncio.sleep(delay)
            for delta in _deltas(reply, call_ids):
                yield chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
            end = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": reply.finish_reason}
            yield chunk([end])
            if include_usage:
                yield chunk([], _usage(body, reply))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def models(_: Request) -> Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "switchboard"} for m in MODELS
        ]
        return JSONResponse({"object": "list", "data": data})

    async def script(request: Request) -> Response:
        if request.method in ("PUT", "POST"):
            try:
                entries = _entries.validate_python(await request.json())
            except (ValueError, ValidationError) as error:
                return _error(400, f"invalid script: {error}", "invalid_request_error")
            if request.method == "PUT":
                state.script.set(entries)
            else:
                state.script.add(entries)
        elif request.method == "DELETE":
            state.script.set([])
        return JSONResponse([e.model_dump(mode="json") for e in state.script.entries()])

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_requests()
        return JSONResponse(state.requests())

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/_admin/script", script, methods=["GET", "PUT", "POST", "DELETE"]),
            Route("/_admin/requests", requests, methods=["GET", "DELETE"]),
        ]
    )
    app.state.model = state
    return app
