"""Stand-ins the gateway tests run behind and beside Envoy: a router and an OTLP collector.

Both are real grpc.aio servers on 127.0.0.1 started with the runtime's GrpcServer (so they serve
health and reflection like the real services do), and both record what reached them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable

import grpc
from grpc import aio
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from switchboard.v1 import events_pb2, router_pb2, router_pb2_grpc, session_pb2

REPLY = ("Flight UA 123 ", "is on time.")


class RouterStandIn(router_pb2_grpc.RouterServiceServicer):
    """Answers every turn with a short, fixed event stream and records the calls it served.

    Session ids steer failures: ``unavailable-*`` fails every call with UNAVAILABLE, and
    ``flaky-*`` fails a session's first GetTranscript call with UNAVAILABLE and answers the next.
    """

    name = "router"
    service_names = ("switchboard.v1.RouterService",)

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.transcripts: dict[str, list[session_pb2.TurnRecord]] = defaultdict(list)
        self._failed_once: set[str] = set()
        self._lock = threading.Lock()

    # -- the Service protocol -------------------------------------------------------------
    def register(self, server: aio.Server) -> None:
        router_pb2_grpc.add_RouterServiceServicer_to_server(self, server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- what it recorded ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[dict[str, str]]:
        with self._lock:
            return [metadata for name, metadata in self.calls if name == method]

    def _record(self, method: str, context: aio.ServicerContext) -> dict[str, str]:  # type: ignore[type-arg]
        metadata = {key: str(value) for key, value in context.invocation_metadata() or ()}
        with self._lock:
            self.calls.append((method, metadata))
        return metadata

    # -- the RPCs --------------------------------------------------------------------------
    def _turn(
        self, turn_id: str, session_id: str, text: str, channel: str, metadata: dict[str, str]
    ) -> Iterable[events_pb2.TurnEvent]:
        traceparent = metadata.get("traceparent", "")
        trace_id = traceparent.split("-")[1] if traceparent.count("-") == 3 else "0" * 32
        yield events_pb2.TurnEvent(
            turn_id=turn_id,
            trace_id=trace_id,
            turn_started=events_pb2.TurnStarted(session_id=session_id, channel=channel),
        )
        yield events_pb2.TurnEvent(
            turn_id=turn_id,
            trace_id=trace_id,
            intent=events_pb2.IntentDetected(name="flight_status", confidence=0.97),
        )
        for piece in REPLY:
            yield events_pb2.TurnEvent(
                turn_id=turn_id, trace_id=trace_id, text_delta=events_pb2.TextDelta(text=piece)
            )
        reply = "".join(REPLY)
        yield events_pb2.TurnEvent(
            turn_id=turn_id,
            trace_id=trace_id,
            turn_completed=events_pb2.TurnCompleted(reply=reply),
        )
        with self._lock:
            self.transcripts[session_id].append(
                session_pb2.TurnRecord(
                    turn_id=turn_id, trace_id=trace_id, customer_text=text, reply_text=reply
                )
            )

    async def SendTurn(
        self,
        request: router_pb2.SendTurnRequest,
        context: aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AsyncIterator[router_pb2.SendTurnResponse]:
        metadata = self._record("SendTurn", context)
        if request.session_id.startswith("unavailable-"):
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the router is unavailable")
        if not request.text:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "text is required")
        turn_id = f"t{len(self.calls_to('SendTurn'))}"
        for event in self._turn(
            turn_id, request.session_id, request.text, request.channel, metadata
        ):
            yield router_pb2.SendTurnResponse(event=event)

    async def Converse(
        self,
        request_iterator: AsyncIterator[router_pb2.ConverseRequest],
        context: aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AsyncIterator[router_pb2.ConverseResponse]:
        metadata = self._record("Converse", context)
        async for request in request_iterator:
            if request.WhichOneof("action") != "turn":
                continue
            turn = request.turn
            for event in self._turn(
                turn.turn_id or "t", turn.session_id, turn.text, turn.channel, metadata
            ):
                yield router_pb2.ConverseResponse(event=event)

    async def GetTranscript(
        self,
        request: router_pb2.GetTranscriptRequest,
        context: aio.ServicerContext,  # type: ignore[type-arg]
    ) -> router_pb2.GetTranscriptResponse:
        self._record("GetTranscript", context)
        session = request.session_id
        with self._lock:
            flaky = session.startswith("flaky-") and session not in self._failed_once
            self._failed_once.add(session)
            turns = list(self.transcripts.get(session, ()))
        if flaky or session.startswith("unavailable-"):
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the router is unavailable")
        if not turns:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no session {session!r}")
        return router_pb2.GetTranscriptResponse(session_id=session, turns=turns)


class CollectorStandIn(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector that keeps every span it is sent."""

    name = "otel-collector"
    service_names = ("opentelemetry.proto.collector.trace.v1.TraceService",)

    def __init__(self) -> None:
        self._spans: list[tuple[str, trace_pb2.Span]] = []
        self._lock = threading.Lock()

    def register(self, server: aio.Server) -> None:
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def spans(self) -> list[tuple[str, trace_pb2.Span]]:
        """(service.name, span) for every span received so far."""
        with self._lock:
            return list(self._spans)

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: aio.ServicerContext,  # type: ignore[type-arg]
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        attribute.value.string_value
                        for attribute in resource_spans.resource.attributes
                        if attribute.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend((service, span) for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()
