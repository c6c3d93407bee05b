"""The three ways a client reaches the router through the gateway, as plain functions.

gRPC uses grpcio. gRPC-Web and REST use httpx over HTTP/1.1, the way a browser or a curl would,
with the gRPC-Web framing spelled out (a flag byte, a 4-byte big-endian length, the message;
flag 0x80 marks the trailers frame).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import httpx
from google.protobuf.message import Message

from switchboard.v1 import router_pb2, router_pb2_grpc

M = TypeVar("M", bound=Message)
TIMEOUT = 20.0


def grpc_send_turn(
    address: str, request: router_pb2.SendTurnRequest, metadata: tuple[tuple[str, str], ...] = ()
) -> list[router_pb2.SendTurnResponse]:
    with grpc.insecure_channel(address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        return list(stub.SendTurn(request, timeout=TIMEOUT, metadata=metadata))


@dataclass
class GrpcWebReply:
    http_status: int
    headers: httpx.Headers
    messages: list[bytes] = field(default_factory=list)
    trailers: dict[str, str] = field(default_factory=dict)

    def decode(self, message_type: type[M]) -> list[M]:
        return [message_type.FromString(raw) for raw in self.messages]

    @property
    def grpc_status(self) -> int:
        # A trailers-only reply carries grpc-status in the HTTP headers instead of a frame.
        return int(self.trailers.get("grpc-status", self.headers.get("grpc-status", "-1")))


def grpc_web_frame(message: Message) -> bytes:
    payload = message.SerializeToString()
    return struct.pack(">BI", 0, len(payload)) + payload


def parse_grpc_web(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    messages: list[bytes] = []
    trailers: dict[str, str] = {}
    offset = 0
    while offset < len(body):
        flag, length = struct.unpack_from(">BI", body, offset)
        chunk = body[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if flag & 0x80:
            for line in chunk.decode().split("\r\n"):
                if line:
                    key, _, value = line.partition(":")
                    trailers[key.strip().lower()] = value.strip()
        else:
            messages.append(chunk)
    return messages, trailers


def grpc_web_call(
    address: str, method: str, request: Message, headers: dict[str, str] | None = None
) -> GrpcWebReply:
    """One gRPC-Web call (binary mode) to /switchboard.v1.RouterService/<method>."""
    reply = httpx.post(
        f"http://{address}/switchboard.v1.RouterService/{method}",
        content=grpc_web_frame(request),
        headers={
            "content-type": "application/grpc-web+proto",
            "x-grpc-web": "1",
            "x-user-agent": "grpc-web-javascript/0.1",
            **(headers or {}),
        },
        timeout=TIMEOUT,
    )
    messages, trailers = parse_grpc_web(reply.content)
    return GrpcWebReply(reply.status_code, reply.headers, messages, trailers)


def rest_send_turn(address: str, session_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"http://{address}/v1/sessions/{session_id}/turns", json=body, timeout=TIMEOUT
    )


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    """The transcoder streams server-streaming replies as newline-delimited JSON objects."""
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]
