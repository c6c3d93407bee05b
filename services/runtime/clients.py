"""Channels to other services of the mesh, with tracing and deadline propagation built in."""

from __future__ import annotations

from grpc import aio
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from services.runtime.interceptors import DeadlineClientInterceptor

# Keepalive lets a client notice a peer that vanished without closing its connections.
# round_robin spreads calls over every address a name resolves to (a headless Service's pods).
_CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


def channel(target: str) -> aio.Channel:
    """An insecure channel to a peer inside the mesh (TLS terminates at the gateway)."""
    interceptors = [DeadlineClientInterceptor(), *aio_client_interceptors()]  # type: ignore[no-untyped-call]
    return aio.insecure_channel(target, options=_CHANNEL_OPTIONS, interceptors=interceptors)
