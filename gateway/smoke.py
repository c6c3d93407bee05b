"""Send one real turn through the gateway per protocol: native gRPC, gRPC-Web and REST/JSON.

Usage: .venv/bin/python gateway/smoke.py [--gateway 127.0.0.1:8080] [--origin http://localhost:3000]

Prints one line per protocol and exits non-zero when any of them fails. It needs a running
gateway in front of a router (`make up`, then `switchboard gateway run`).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import uuid
from collections.abc import Callable

import grpc
import httpx

from switchboard.v1 import router_pb2, router_pb2_grpc

QUESTION = "Is flight UA 123 on time?"
TIMEOUT = 30.0


def native_grpc(gateway: str, session: str) -> str:
    with grpc.insecure_channel(gateway) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session, text=QUESTION, channel="smoke")
        events = [response.event for response in stub.SendTurn(request, timeout=TIMEOUT)]
    return _outcome([event.WhichOneof("event") or "" for event in events], events[-1])


def grpc_web(gateway: str, session: str, origin: str) -> str:
    payload = router_pb2.SendTurnRequest(
        session_id=session, text=QUESTION, channel="smoke"
    ).SerializeToString()
    reply = httpx.post(
        f"http://{gateway}/switchboard.v1.RouterService/SendTurn",
        # gRPC-Web framing: flag byte 0 (a message), big-endian length, the message.
        content=struct.pack(">BI", 0, len(payload)) + payload,
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "origin": origin},
        timeout=TIMEOUT,
    )
    reply.raise_for_status()
    body, offset, events, trailers = reply.content, 0, [], ""
    while offset < len(body):
        flag, length = struct.unpack_from(">BI", body, offset)
        chunk = body[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if flag & 0x80:  # the trailers frame
            trailers = chunk.decode()
        else:
            events.append(router_pb2.SendTurnResponse.FromString(chunk).event)
    status = reply.headers.get("grpc-status") or _trailer(trailers, "grpc-status")
    if status != "0":
        raise RuntimeError(f"grpc-status {status}: {_trailer(trailers, 'grpc-message')}")
    if reply.headers.get("access-control-allow-origin") != origin:
        raise RuntimeError(f"CORS: origin {origin} not allowed")
    return _outcome([event.WhichOneof("event") or "" for event in events], events[-1])


def rest(gateway: str, session: str) -> str:
    reply = httpx.post(
        f"http://{gateway}/v1/sessions/{session}/turns",
        json={"text": QUESTION, "channel": "smoke"},
        timeout=TIMEOUT,
    )
    if reply.status_code != 200:
        raise RuntimeError(f"HTTP {reply.status_code}: {reply.text}")
    events = [json.loads(line)["event"] for line in reply.text.splitlines() if line.strip()]
    kinds = [next(k for k in event if k not in ("turn_id", "trace_id", "time")) for event in events]
    transcript = httpx.get(f"http://{gateway}/v1/sessions/{session}/transcript", timeout=TIMEOUT)
    if transcript.status_code != 200:
        raise RuntimeError(f"transcript: HTTP {transcript.status_code}: {transcript.text}")
    last = events[-1]
    reply_text = last.get("turn_completed", {}).get("reply", "")
    return f"{len(events)} events, ends with {kinds[-1]}: {reply_text!r}; transcript ok"


def _trailer(trailers: str, name: str) -> str:
    for line in trailers.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return ""


def _outcome(kinds: list[str], last: object) -> str:
    reply = getattr(getattr(last, "turn_completed", None), "reply", "")
    return f"{len(kinds)} events, ends with {kinds[-1]}: {reply!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="127.0.0.1:8080", help="the gateway's host:port")
    parser.add_argument("--origin", default="http://localhost:3000", help="a CORS-allowed origin")
    args = parser.parse_args()
    session = f"smoke-{uuid.uuid4().hex[:8]}"
    checks: dict[str, Callable[[], str]] = {
        "grpc": lambda: native_grpc(args.gateway, session + "-grpc"),
        "grpc-web": lambda: grpc_web(args.gateway, session + "-web", args.origin),
        "rest": lambda: rest(args.gateway, session + "-rest"),
    }
    failed = 0
    for name, check in checks.items():
        try:
            print(f"ok   {name:<9} {check()}")
        except Exception as error:  # noqa: BLE001 - report every protocol, then fail
            failed += 1
            print(f"FAIL {name:<9} {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
