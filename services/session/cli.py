"""``switchboard session``: show a conversation and its audit trail, or erase it on request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import grpc
from google.protobuf import json_format

from services.config import Settings, load_settings
from services.runtime.errors import ConfigError
from services.session.transcript import render
from switchboard.v1 import pii_pb2, pii_pb2_grpc, session_pb2, session_pb2_grpc

session = click.Group("session", help="Conversations and their audit trail: show, erase.")

_config = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="SWITCHBOARD_CONFIG",
    help="YAML settings file (also SWITCHBOARD_CONFIG); it says where the services listen.",
)
_timeout = click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="seconds per call"
)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as error:
        raise click.ClickException(error.message) from None


def _failed(what: str, error: grpc.RpcError) -> click.ClickException:
    call: Any = error
    return click.ClickException(f"{what}: {call.code().name}: {call.details()}")


def _turns(stub: Any, session_id: str, timeout: float) -> Iterator[session_pb2.TurnRecord]:
    token = ""
    while True:
        page = stub.ListTurns(
            session_pb2.ListTurnsRequest(session_id=session_id, page_size=1000, page_token=token),
            timeout=timeout,
        )
        yield from page.turns
        token = page.next_page_token
        if not token:
            return


@session.command("show")
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Print the session and its turns as JSON.")
@_config
@_timeout
def show(session_id: str, as_json: bool, config: Path | None, timeout: float) -> None:
    """Show SESSION_ID: its state, recent conversation and every turn's audit record."""
    target = _settings(config).session.target
    with grpc.insecure_channel(target) as channel:
        stub: Any = session_pb2_grpc.SessionServiceStub(channel)
        try:
            found = stub.GetSession(
                session_pb2.GetSessionRequest(session_id=session_id), timeout=timeout
            ).session
            turns = list(_turns(stub, session_id, timeout))
        except grpc.RpcError as error:
            raise _failed(f"cannot read session {session_id} from {target}", error) from None
    if as_json:
        document = {
            "session": json_format.MessageToDict(found),
            "turns": [json_format.MessageToDict(turn) for turn in turns],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(render(found, turns))


@session.command("erase")
@click.argument("session_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_config
@_timeout
def erase(session_id: str, yes: bool, config: Path | None, timeout: float) -> None:
    """Erase SESSION_ID for a data-subject request: its PII vault, then the session and its turns.

    The vault goes first because it holds the originals; running the command again finishes an
    erasure that was interrupted.
    """
    settings = _settings(config)
    if not yes:
        click.confirm(f"Erase session {session_id} and its PII vault for good?", abort=True)
    with grpc.insecure_channel(settings.pii.target) as channel:
        pii: Any = pii_pb2_grpc.PiiServiceStub(channel)
        try:
            erased = pii.EraseSession(
                pii_pb2.EraseSessionRequest(session_id=session_id), timeout=timeout
            ).erased
        except grpc.RpcError as error:
            raise _failed(
                f"nothing erased: the PII vault of {session_id} could not be erased", error
            ) from None
    with grpc.insecure_channel(settings.session.target) as channel:
        sessions: Any = session_pb2_grpc.SessionServiceStub(channel)
        try:
            deleted = sessions.DeleteSession(
                session_pb2.DeleteSessionRequest(session_id=session_id), timeout=timeout
            ).deleted
        except grpc.RpcError as error:
            raise _failed(
                f"the PII vault of {session_id} was erased ({erased} tokens) but the session "
                "was not; run the command again",
                error,
            ) from None
    state = "erased" if deleted else "not found (nothing to erase)"
    click.echo(f"session {session_id}: {state}; PII vault: {erased} tokens erased")
