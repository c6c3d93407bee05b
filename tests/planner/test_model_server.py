"""The scripted model server speaks the Chat Completions wire format the real API does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import LoopThread
from planner_support import ModelServer

from mocks.model.script import Fault, Match, Reply, ScriptEntry, ToolCallSpec


@pytest.fixture(scope="module")
def server(loop_thread: LoopThread) -> Iterator[ModelServer]:
    model = ModelServer(loop_thread).start()
    yield model
    model.stop()


@pytest.fixture
def http(server: ModelServer) -> Iterator[httpx.Client]:
    server.model.script.set([])
    server.model.clear_requests()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        yield client


def _events(response: httpx.Response) -> list[Any]:
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[len("data: ") :]) for line in lines[:-1]]


def test_tool_call_deltas_are_split_across_chunks_like_the_real_api(http: httpx.Client) -> None:
    arguments = {"flight_number": "UA123", "date": "2026-11-25"}
    script = [
        ScriptEntry(
            reply=Reply(tool_calls=[ToolCallSpec(name="getFlightStatus", arguments=arguments)])
        )
    ]
    assert http.put("/_admin/script", json=[e.model_dump() for e in script]).status_code == 200
    body = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Is UA 123 on time?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    chunks = _events(http.post("/v1/chat/completions", json=body))

    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    head, rest = calls[0], calls[1:]
    assert (
        head["id"]
        and head["type"] == "function"
        and head["function"] == {"name": "getFlightStatus", "arguments": ""}
    )
    assert len(rest) > 2 and all(set(piece) == {"index", "function"} for piece in rest)
    assert json.loads("".join(p["function"]["arguments"] for p in rest)) == arguments
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] > 0


def test_a_non_streaming_reply_has_the_message_and_usage(http: httpx.Client) -> None:
    body = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
    reply = http.post("/v1/chat/completions", json=body).json()
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "I have no scripted answer for that."
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert (
        reply["usage"]["total_tokens"]
        == reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
    )


def test_entries_match_by_condition_and_run_out(http: httpx.Client, server: ModelServer) -> None:
    server.model.script.set(
        [
            ScriptEntry(
                match=Match(contains="refund"), fault=Fault(status=429, retry_after_s=1), times=1
            ),
            ScriptEntry(match=Match(contains="refund"), reply=Reply(content="Refund found.")),
        ]
    )
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Where is my REFUND?"}]}
    limited = http.post("/v1/chat/completions", json=body)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    assert (
        http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        == "Refund found."
    )
    recorded = http.get("/_admin/requests").json()
    assert [r["messages"][0]["content"] for r in recorded] == ["Where is my REFUND?"] * 2


def test_the_admin_endpoint_rejects_an_invalid_script(http: httpx.Client) -> None:
    response = http.put("/_admin/script", json=[{"reply": {"content": 3}, "unknown": 1}])
    assert response.status_code == 400 and "invalid script" in response.json()["error"]["message"]


def test_models_are_listed(http: httpx.Client) -> None:
    ids = [m["id"] for m in http.get("/v1/models").json()["data"]]
    assert ids == ["gpt-4.1", "gpt-5.2"]
