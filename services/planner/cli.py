"""``switchboard planner``: check flows and prompts, and try a plan, with no service running."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from services.config import Settings, load_settings
from services.governance.packs import load_packs
from services.planner.flows import FlowBook
from services.planner.planner import PlanInput, Planner
from services.planner.plans import Plan
from services.planner.prompts import Prompts
from services.planner.tools import ToolIndex
from services.runtime.errors import SwitchboardError

planner = click.Group("planner", help="Check flows and prompts; try the embedded engine.")

_config = click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="Switchboard config file."
)
_flows_dir = click.option(
    "--flows-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder of flow files (default: the configured one).",
)


def _settings(config: Path | None, flows_dir: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except SwitchboardError as error:
        raise click.ClickException(error.message) from None
    if flows_dir is not None:
        settings.planner.flows_dir = flows_dir
    return settings


def _load(settings: Settings) -> tuple[ToolIndex, FlowBook]:
    try:
        tools = ToolIndex.load(settings.tool_broker.backends)
        flows = FlowBook.load(settings.planner.flows_dir, tools)
        Prompts.load(settings.planner.prompts_dir, settings.planner.prompt_version)
    except SwitchboardError as error:
        raise click.ClickException(error.message) from None
    return tools, flows


@planner.command("check")
@_config
@_flows_dir
def check(config: Path | None, flows_dir: Path | None) -> None:
    """Load every flow against the tool catalogue and the prompts; list what each flow does."""
    settings = _settings(config, flows_dir)
    tools, flows = _load(settings)
    _check_rule_names(settings, flows)
    for name in flows.names():
        flow = flows.get(name)
        assert flow is not None
        required = ", ".join(flow.required_slots()) or "-"
        steps = ", ".join(step.tool for step in flow.spec.steps) or "(reply only)"
        click.echo(f"{flow.industry:<11} {name:<21} slots: {required:<40} tools: {steps}")
    click.echo(
        f"{len(flows.names())} flows OK against {len(tools.names())} tools; "
        f"prompts {settings.planner.prompt_version} OK"
    )


def _check_rule_names(settings: Settings, flows: FlowBook) -> None:
    """Fail when a flow's ``asked_in_refusals`` names a rule no policy pack in force has: the
    reply would then ask twice what the refusal already asked."""
    try:
        policy = load_packs(settings.governance)
    except SwitchboardError as error:
        raise click.ClickException(error.message) from None
    packs = ", ".join(pack.name for pack in policy.packs)
    unknown = [
        f"flow {flow.name}: asked_in_refusals: no rule {rule_id!r} in the packs in force ({packs})"
        for flow in filter(None, map(flows.get, flows.names()))
        for rule_id in flow.spec.asked_in_refusals
        if policy.rule(rule_id) is None
    ]
    if unknown:
        raise click.ClickException("\n  ".join(["unknown policy rules:", *unknown]))


@planner.command("plan")
@_config
@_flows_dir
@click.argument("text")
@click.option("--intent", required=True, help="The classified intent, e.g. flight_status.")
@click.option("--customer-id", default="", help="The customer reference, e.g. C-1001.")
@click.option("--slot", "slots", multiple=True, help="A known slot as name=value (repeatable).")
def plan(
    config: Path | None,
    flows_dir: Path | None,
    text: str,
    intent: str,
    customer_id: str,
    slots: tuple[str, ...],
) -> None:
    """Plan TEXT on the embedded engine and print the plan as JSON (the text must be masked)."""
    settings = _settings(config, flows_dir)
    tools, flows = _load(settings)
    known = dict(item.split("=", 1) for item in slots if "=" in item)
    request = PlanInput(intent=intent, text=text, customer_id=customer_id, slots=known)

    async def run() -> Plan:
        items = [item async for item in Planner(settings.planner, flows, tools, None).plan(request)]
        final = items[-1]
        assert isinstance(final, Plan)
        return final

    try:
        result = asyncio.run(run())
    except SwitchboardError as error:
        raise click.ClickException(error.message) from None
    steps = [
        {
            "id": s.id,
            "tool": s.tool,
            "arguments": s.arguments,
            "depends_on": list(s.depends_on),
        }
        for s in result.steps
    ]
    document = {
        "flow": result.flow,
        "tier": result.tier,
        "slots": result.slots,
        "missing_slots": result.missing_slots,
        "steps": steps,
    }
    click.echo(json.dumps(document, indent=2))
