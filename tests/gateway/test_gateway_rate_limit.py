"""The local rate limit answers each protocol in its own terms: 429, or RESOURCE_EXHAUSTED."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from gateway_clients import grpc_send_turn, grpc_web_call, rest_send_turn
from gateway_fakes import RouterStandIn
from gateway_support import running_gateway

from services.gateway_runner import Gateway
from services.runtime.server import GrpcServer
from switchboard.v1 import router_pb2


@pytest.fixture
def limited_gateway(
    tmp_path_factory: pytest.TempPathFactory, router_stand_in: tuple[RouterStandIn, GrpcServer]
) -> Iterator[Gateway]:
    """A gateway whose bucket holds one request and refills once an hour."""
    yield from running_gateway(
        tmp_path_factory.mktemp("limited"),
        router_stand_in[1].target,
        rate_limit_burst=1,
        rate_limit_per_fill=1,
        rate_limit_fill_interval_s=3600,
    )


def test_requests_over_the_limit_are_refused_per_protocol(
    limited_gateway: Gateway, router_stand_in: tuple[RouterStandIn, GrpcServer]
) -> None:
    router = router_stand_in[0]
    address = limited_gateway.address
    first = rest_send_turn(address, "limited-1", {"text": "hello"})
    assert first.status_code == 200, first.text
    served = len(router.calls)

    rest = rest_send_turn(address, "limited-1", {"text": "hello again"})
    assert rest.status_code == 429
    assert rest.headers["x-local-rate-limit"] == "true"

    with pytest.raises(grpc.RpcError) as refused:
        grpc_send_turn(address, router_pb2.SendTurnRequest(session_id="limited-1", text="hi"))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    web = grpc_web_call(
        address, "SendTurn", router_pb2.SendTurnRequest(session_id="limited-1", text="hi")
    )
    # Trailers-only, as gRPC-Web clients expect it: HTTP 200, the status in the headers.
    assert web.http_status == 200 and web.messages == []
    assert web.grpc_status == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]

    # None of the refused calls reached the router, and Envoy counted them.
    assert len(router.calls) == served
    assert limited_gateway.stats()["public_rate_limit.http_local_rate_limit.rate_limited"] == 3
