"""``switchboard governance``: check policy packs and try them on text, with no service."""

from __future__ import annotations

from pathlib import Path

import click

from services.config import load_settings
from services.governance.config import GovernanceSettings
from services.governance.engine import Governance, Intent, ToolContract
from services.governance.output import OutputGuard
from services.governance.packs import PolicySet, load_packs
from services.governance.verdicts import Stage
from services.runtime.errors import ConfigError


class _NoContracts:
    """Text checks need no tool contracts."""

    def get(self, name: str) -> ToolContract | None:
        return None

    def validate_arguments(
        self, name: str, arguments: object, *, allow_placeholders: bool = False
    ) -> list[str]:
        return []


def _settings(
    config: Path | None, packs_dir: Path | None, packs: tuple[str, ...]
) -> GovernanceSettings:
    settings = load_settings(config).governance
    updates: dict[str, object] = {}
    if packs_dir is not None:
        updates["packs_dir"] = packs_dir
    if packs:
        updates["packs"] = list(packs)
    return settings.model_copy(update=updates)


def _load(config: Path | None, packs_dir: Path | None, packs: tuple[str, ...]) -> PolicySet:
    try:
        return load_packs(_settings(config, packs_dir, packs))
    except ConfigError as error:
        raise click.ClickException(error.message) from None


_config = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="Switchboard config file."
)
_packs_dir = click.option(
    "--packs-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of policy packs (default: the configured one).",
)
_packs = click.option(
    "--pack", "packs", multiple=True, help="A pack to load (repeatable; default: configured)."
)


@click.group("governance")
def governance() -> None:
    """Policy packs: validate them and try them on text."""


@governance.command("check")
@_config
@_packs_dir
@_packs
def check(config: Path | None, packs_dir: Path | None, packs: tuple[str, ...]) -> None:
    """Load the packs as the service would; print their rules, or the first error with its line."""
    policy = _load(config, packs_dir, packs)
    for pack in policy.packs:
        counts = ", ".join(
            f"{sum(1 for r in pack.rules if r.stage is stage)} {stage.value}" for stage in Stage
        )
        click.echo(f"{pack.name} ({pack.path}): {counts}; {len(pack.intents)} intents")
        for rule in pack.rules:
            click.echo(f"  {rule.rule_id:<55} {rule.stage.value:<9} {rule.action.value}")


@governance.command("input")
@_config
@_packs_dir
@_packs
@click.argument("text")
@click.option("--intent", default="", help="Also evaluate the intent rules for this intent.")
def try_input(
    config: Path | None, packs_dir: Path | None, packs: tuple[str, ...], text: str, intent: str
) -> None:
    """Show which input rules a customer message triggers."""
    engine = Governance(_load(config, packs_dir, packs), _NoContracts())
    checked = engine.check_input(text, "cli", {"id": "cli"})
    matched = list(checked.matched)
    if intent:
        matched += engine.check_intent(Intent(intent, 1.0), {"id": "cli"})
    if not matched:
        click.echo("allow (no rule matched)")
    for verdict in matched:
        click.echo(f"{verdict.action.value:<8} {verdict.rule_id}: {verdict.reason}")


@governance.command("output")
@_config
@_packs_dir
@_packs
@click.argument("text")
@click.option("--intent", default="", help="The turn's intent.")
def try_output(
    config: Path | None, packs_dir: Path | None, packs: tuple[str, ...], text: str, intent: str
) -> None:
    """Show the reply text the output rules would release, and why."""
    engine = Governance(_load(config, packs_dir, packs), _NoContracts())
    guard = OutputGuard(engine.output_rules(), intent, {"id": "cli"})
    releases = [*guard.feed(text), *guard.close()]
    click.echo("".join(release.text for release in releases))
    for release in releases:
        if release.verdict is not None:
            v = release.verdict
            click.echo(f"-- {v.action.value} {v.rule_id}: {v.reason}", err=True)
