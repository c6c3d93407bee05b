"""``switchboard mocks``: run the mock enterprise backends."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from mocks.config import MocksSettings
from mocks.server import available_backends, start_mocks

mocks = click.Group("mocks", help="The mock enterprise backends (booking, crm, payments, ...).")


@mocks.command("serve")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Switchboard settings file; its `mocks` section is used.",
)
@click.option("--host", help="Address to bind (default from settings: 127.0.0.1).")
@click.option(
    "--only",
    "only",
    multiple=True,
    help="Run only these backends (repeatable), e.g. --only booking.",
)
@click.option("--seed", type=int, help="Seed of the generated world.")
def serve(
    config_file: Path | None, host: str | None, only: tuple[str, ...], seed: int | None
) -> None:
    """Run the mocks until Ctrl-C."""
    from services.config import load_settings

    settings = load_settings(config_file).mocks
    updates: dict[str, object] = {}
    if host:
        updates["host"] = host
    if seed is not None:
        updates["seed"] = seed
    settings = MocksSettings.model_validate({**settings.model_dump(), **updates})
    names = list(only) or available_backends()
    asyncio.run(_serve(settings, names))


async def _serve(settings: MocksSettings, names: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = await start_mocks(settings, names)
    for name, url in cluster.base_urls.items():
        click.echo(f"{name:<10} {url}")
    click.echo("Ctrl-C to stop.")
    await stop.wait()
    await cluster.stop()
