"""The ``switchboard`` command: run the mesh, one service, or talk to it."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.config import SERVICES, Settings, load_settings
from services.mesh import KUBE_NAMES, START_ORDER
from services.render import EventPrinter, to_json
from services.runtime.errors import ConfigError
from services.workers import MAX_RESTARTS, RESTART_WINDOW_S
from switchboard.v1 import router_pb2, router_pb2_grpc

SERVE_NAMES = {**{kube: name for name, kube in KUBE_NAMES.items()}, "mocks": "mocks"}


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as error:
        raise click.ClickException(error.message) from None


config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="SWITCHBOARD_CONFIG",
    help="YAML settings file (also SWITCHBOARD_CONFIG).",
)


class LazyGroup(click.Group):
    """A group whose heavier sub-groups are imported only when they are called."""

    lazy = {
        "gateway": "services.gateway_runner:gateway",
        "governance": "services.governance.cli:governance",
        "intents": "services.intents.cli:intents",
        "mocks": "mocks.cli:mocks",
        "pii": "services.pii.cli:pii",
        "planner": "services.planner.cli:planner",
        "session": "services.session.cli:session",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attr = self.lazy[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
def cli() -> None:
    """Switchboard: a governed agentic runtime for customer service."""


# --- running ---------------------------------------------------------------------------------


async def _serve(name: str, settings: Settings) -> None:
    from services.runtime.telemetry import (
        configure_logging,
        configure_telemetry,
        shutdown_telemetry,
    )

    telemetry = settings.telemetry
    service = KUBE_NAMES.get(name, name)
    local = settings.data_dir / telemetry.local_dir if telemetry.local_dir else None
    configure_logging(telemetry.log_level, telemetry.log_format)
    configure_telemetry(
        service,
        otlp_endpoint=telemetry.otlp_endpoint,
        trace_file=local / f"{service}.spans.jsonl" if local else None,
        metrics_file=local / f"{service}.metrics.jsonl" if local else None,
    )
    try:
        if name == "mocks":
            await _serve_mocks(settings)
        else:
            from services.mesh import server_for
            from services.runtime.server import run_until_signalled

            await run_until_signalled([server_for(name, settings)])
    finally:
        shutdown_telemetry()


async def _serve_mocks(settings: Settings) -> None:
    from mocks.server import start_mocks

    cluster = await start_mocks(settings.mocks)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await cluster.stop()


@cli.command()
@click.argument("service", type=click.Choice(sorted(SERVE_NAMES)))
@config_option
def serve(service: str, config: Path | None) -> None:
    """Run one service in the foreground, as a Kubernetes pod runs it."""
    from services import workers

    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    name = SERVE_NAMES[service]
    section = settings.service(name) if name != "mocks" else None
    if section is not None and section.workers > 1 and not workers.is_worker():
        if section.port == 0:
            raise click.ClickException(f"{service}: several workers need a fixed port, not 0")
        argv = ["-m", "services.cli", "serve", service]
        sys.exit(workers.supervise(argv, section.workers, section.stop_grace_s))
    asyncio.run(_serve(name, settings))


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class _Supervisor:
    """Runs each part of the mesh as its own process and stops them all together."""

    def __init__(self, settings: Settings, config: Path | None) -> None:
        self.settings = settings
        self.env = dict(os.environ)
        if config is not None:
            self.env["SWITCHBOARD_CONFIG"] = str(config.resolve())
        self.logs = settings.data_dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_file = (self.logs / f"{KUBE_NAMES.get(name, name)}.log").open("ab")
        command = ["gateway", "run"] if name == "gateway" else ["serve", KUBE_NAMES.get(name, name)]
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *command],
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            proc = self.procs[name]
            if proc.poll() is not None:
                log = self.logs / f"{KUBE_NAMES.get(name, name)}.log"
                raise click.ClickException(f"{name} exited with code {proc.returncode}; see {log}")
            if name == "mocks":
                ports = self.settings.mocks.ports
                if all(_port_open(self.settings.mocks.host, p) for p in ports.values()):
                    return
            elif name == "gateway":
                if _http_ok(
                    f"http://{self.settings.gateway.host}:{self.settings.gateway.port}/healthz"
                ):
                    return
            elif _serving(self.settings.service(name).target):
                return
            time.sleep(0.1)
        raise click.ClickException(f"{name} did not become ready within {timeout:.0f} s")

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@cli.command()
@config_option
def up(config: Path | None) -> None:
    """Start every service and the mock backends; Ctrl-C stops them all."""
    settings = _settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    supervisor = _Supervisor(settings, config)
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for name in ("mocks", *START_ORDER, "gateway"):
            click.echo(f"starting {KUBE_NAMES.get(name, name)} …", err=True)
            supervisor.start(name)
            supervisor.wait_ready(name)
            if stopping:
                return
        click.echo("\nSwitchboard is up (embedded engine, no network needed):")
        for name in reversed(START_ORDER):
            service = f"switchboard.v1.{''.join(p.title() for p in name.split('_'))}Service"
            click.echo(
                f"  {KUBE_NAMES[name]:<12} grpc  {settings.service(name).target:<18} {service}"
            )
        gateway = settings.gateway
        click.echo(
            f"  {'gateway':<12} grpc, grpc-web, REST  http://{gateway.host}:{gateway.port}"
            "  (Envoy: POST /v1/sessions/{id}/turns)"
        )
        for backend, port in settings.mocks.ports.items():
            click.echo(f"  {backend:<12} http  http://{settings.mocks.host}:{port}")
        click.echo(f"\nlogs: {supervisor.logs}/   data: {settings.data_dir}/")
        click.echo(
            'try:  .venv/bin/switchboard ask "Is flight UA 123 on time?" --session s1\nstop: Ctrl-C'
        )
        restarts: list[float] = []
        while not stopping:
            for name, proc in list(supervisor.procs.items()):
                if proc.poll() is None:
                    continue
                # A part that dies is started again, as a pod would be; one that keeps dying
                # stops the mesh.
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
                if len(restarts) > MAX_RESTARTS:
                    raise click.ClickException(
                        f"{name} exited with code {proc.returncode} and parts keep dying; "
                        "stopping the mesh"
                    )
                click.echo(f"{name} exited with code {proc.returncode}; restarting it", err=True)
                supervisor.start(name)
                supervisor.wait_ready(name)
            time.sleep(0.2)
    finally:
        click.echo("stopping …", err=True)
        supervisor.stop()
        click.echo("stopped", err=True)


# --- talking to it ---------------------------------------------------------------------------


def _send_turn(
    target: str, request: router_pb2.SendTurnRequest, as_json: bool, timeout: float
) -> int:
    printer = EventPrinter(sys.stdout)
    code = 0
    with grpc.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        try:
            for response in stub.SendTurn(request, timeout=timeout):
                if as_json:
                    click.echo(to_json(response.event))
                else:
                    printer.show(response.event)
                if response.event.HasField("error"):
                    code = 1
        except grpc.RpcError as error:
            status = error.code().name if error.code() else "UNKNOWN"
            click.echo(f"error: {status}: {error.details()}", err=True)
            return 2
    return code


router_option = click.option(
    "--router", "target", default=None, help="router address (default: from settings)"
)


@cli.command()
@click.argument("text")
@click.option("--session", "session_id", required=True, help="conversation id")
@click.option("--customer-id", default="", help="the customer's enterprise reference")
@click.option("--channel", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per event")
@click.option("--timeout", default=30.0, show_default=True, help="seconds for the whole turn")
@router_option
@config_option
def ask(
    text: str,
    session_id: str,
    customer_id: str,
    channel: str,
    as_json: bool,
    timeout: float,
    target: str | None,
    config: Path | None,
) -> None:
    """Send one message and show the turn's events."""
    address = target or _settings(config).router.target
    request = router_pb2.SendTurnRequest(
        session_id=session_id, text=text, channel=channel, customer_id=customer_id
    )
    sys.exit(_send_turn(address, request, as_json, timeout))


@cli.command()
@click.option("--session", "session_id", default=None, help="conversation id (default: new)")
@click.option("--customer-id", default="", help="the customer's enterprise reference")
@router_option
@config_option
def chat(session_id: str | None, customer_id: str, target: str | None, config: Path | None) -> None:
    """Talk to Switchboard interactively; Ctrl-D ends."""
    address = target or _settings(config).router.target
    session = session_id or f"chat-{uuid.uuid4().hex[:8]}"
    click.echo(f"session {session} on {address}; Ctrl-D to end")
    while True:
        try:
            text = input("you: ")
        except EOFError:
            click.echo()
            return
        if not text.strip():
            continue
        request = router_pb2.SendTurnRequest(
            session_id=session, text=text, channel="chat", customer_id=customer_id
        )
        _send_turn(address, request, False, 60.0)


@cli.command()
@click.argument("trace_id")
@config_option
def trace(trace_id: str, config: Path | None) -> None:
    """Draw a turn's trace (its trace_id from the events) as a waterfall."""
    from services.trace_view import load_spans, render

    settings = _settings(config)
    folder = settings.data_dir / settings.telemetry.local_dir
    files = sorted(folder.glob("*.spans.jsonl"))
    if not files:
        raise click.ClickException(f"no span files in {folder}; is local export on?")
    click.echo(render(load_spans(files, trace_id)))


def main() -> None:
    cli()


assert set(SERVICES) == set(KUBE_NAMES)

if __name__ == "__main__":
    main()
