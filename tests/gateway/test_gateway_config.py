"""The rendered Envoy configuration: valid for the real binary, and shaped as the README says."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gateway_fakes import RouterStandIn
from gateway_support import gateway_settings_for_tests, running_gateway

from services.gateway_runner import (
    Gateway,
    GatewayError,
    GatewaySettings,
    render_config,
    validate_config,
    write_config,
)
from services.runtime.errors import ConfigError
from services.runtime.server import GrpcServer
from switchboard.v1 import router_pb2, router_pb2_grpc


def rendered(descriptor: Path, **overrides: object) -> dict[str, Any]:
    settings = gateway_settings_for_tests(**overrides)
    config = yaml.safe_load(render_config(settings, ["router.default.svc:50051"], descriptor))
    assert isinstance(config, dict)
    return config


def connection_manager(config: dict[str, Any]) -> dict[str, Any]:
    (listener,) = config["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    (hcm,) = chain["filters"]
    return dict(hcm["typed_config"])


def routes(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (host,) = connection_manager(config)["route_config"]["virtual_hosts"]
    return {route["name"]: route for route in host["routes"]}


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "tls.crt", folder / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("variant", ["plain", "tracing", "tls"])
def test_every_variant_passes_envoy_validate(
    variant: str, tmp_path: Path, descriptor: Path, certificates: tuple[Path, Path]
) -> None:
    options: dict[str, object] = {
        "plain": {},
        "tracing": {"otlp_endpoint": "otel-collector:4317"},
        "tls": {"tls_cert_file": str(certificates[0]), "tls_key_file": str(certificates[1])},
    }[variant]  # type: ignore[assignment]
    settings = GatewaySettings(port=8080, admin_port=9901, **options)  # type: ignore[arg-type]
    config = write_config(settings, ["router-0:50051", "router-1:50051"], tmp_path / "envoy.yaml")
    validate_config(config)


def test_validate_reports_what_envoy_rejects(tmp_path: Path, descriptor: Path) -> None:
    config = write_config(GatewaySettings(), ["127.0.0.1:50051"], tmp_path / "envoy.yaml")
    config.write_text(config.read_text().replace("LEAST_REQUEST", "MOST_REQUEST"))
    with pytest.raises(GatewayError, match="MOST_REQUEST"):
        validate_config(config)


def test_only_the_idempotent_read_is_retried(descriptor: Path) -> None:
    by_name = routes(rendered(descriptor))
    assert set(by_name) == {"send-turn", "converse", "get-transcript"}
    retried = {name for name, route in by_name.items() if "retry_policy" in route["route"]}
    assert retried == {"get-transcript"}
    policy = by_name["get-transcript"]["route"]["retry_policy"]
    assert "unavailable" in policy["retry_on"] and policy["num_retries"] == 2


def test_every_route_has_a_timeout_and_honours_grpc_timeout(descriptor: Path) -> None:
    config = rendered(descriptor, send_turn_timeout_s=12, transcript_timeout_s=3)
    by_name = routes(config)
    assert by_name["send-turn"]["route"]["timeout"] == "12s"
    assert by_name["get-transcript"]["route"]["timeout"] == "3s"
    assert by_name["get-transcript"]["route"]["retry_policy"]["per_try_timeout"] == "1s"
    # The long-lived stream has no overall timeout, only an idle one.
    assert by_name["converse"]["route"]["timeout"] == "0s"
    assert by_name["converse"]["route"]["idle_timeout"] == "300s"
    for route in by_name.values():
        assert "grpc_timeout_header_max" in route["route"]["max_stream_duration"]


def test_router_cluster_speaks_http2_and_ejects_failing_replicas(descriptor: Path) -> None:
    clusters = {c["name"]: c for c in rendered(descriptor)["static_resources"]["clusters"]}
    router = clusters["router"]
    options = router["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert "http2_protocol_options" in options["explicit_http_config"]
    assert router["type"] == "STRICT_DNS"
    assert router["outlier_detection"]["consecutive_gateway_failure"] > 0
    assert router["health_checks"][0]["grpc_health_check"]["service_name"] == (
        "switchboard.v1.RouterService"
    )
    assert "otel_collector" not in clusters


def test_filters_run_in_the_documented_order(descriptor: Path) -> None:
    hcm = connection_manager(rendered(descriptor, otlp_endpoint="collector:4317"))
    names = [f["name"].removeprefix("envoy.filters.http.") for f in hcm["http_filters"]]
    assert names == [
        "health_check",
        "cors",
        "grpc_web",
        "local_ratelimit",
        "grpc_json_transcoder",
        "router",
    ]
    assert hcm["tracing"]["provider"]["name"] == "envoy.tracers.opentelemetry"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="together"):
        GatewaySettings(tls_cert_file="/tls.crt")
    with pytest.raises(ConfigError, match="host:port"):
        render_config(GatewaySettings(), ["router"], Path("/x.pb"))
    with pytest.raises(ConfigError, match="at least one"):
        render_config(GatewaySettings(), [], Path("/x.pb"))


@pytest.fixture
def tls_gateway(
    tmp_path: Path,
    certificates: tuple[Path, Path],
    router_stand_in: tuple[RouterStandIn, GrpcServer],
) -> Iterator[Gateway]:
    yield from running_gateway(
        tmp_path,
        router_stand_in[1].target,
        tls_cert_file=str(certificates[0]),
        tls_key_file=str(certificates[1]),
    )


def test_a_turn_over_tls(tls_gateway: Gateway, certificates: tuple[Path, Path]) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=certificates[0].read_bytes())
    with grpc.secure_channel(f"localhost:{tls_gateway.port}", credentials) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id="tls-1", text="hello")
        events = [r.event for r in stub.SendTurn(request, timeout=20)]
    assert events[-1].HasField("turn_completed")

    # Plaintext is refused on a TLS listener.
    with grpc.insecure_channel(tls_gateway.address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.SendTurn(request, timeout=5))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_gateway_that_cannot_start_says_why(
    tmp_path: Path, router_stand_in: tuple[RouterStandIn, GrpcServer]
) -> None:
    taken = router_stand_in[1].port  # the router already listens there
    with pytest.raises(GatewayError, match="(?i)address already in use"):
        for _ in running_gateway(tmp_path, router_stand_in[1].target, port=taken):
            pass
