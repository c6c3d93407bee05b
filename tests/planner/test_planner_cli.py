"""``switchboard planner``: check and plan, as a conversation designer runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from harness import SHIPPED_INTENTS

from services.planner.cli import planner


def test_check_lists_every_flow() -> None:
    result = CliRunner().invoke(planner, ["check"])
    assert result.exit_code == 0, result.output
    # one flow per shipped intent
    assert f"{sum(map(len, SHIPPED_INTENTS.values()))} flows OK" in result.output
    assert "flight_status" in result.output and "getFlightStatus" in result.output


def test_check_fails_on_a_broken_flow_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "industry: airline\n"
        "flows:\n"
        "  x:\n"
        "    steps: [{id: a, tool: nope}]\n"
        "    replies: [{text: hi}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(planner, ["check", "--flows-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "broken.yaml: x: step 'a': unknown tool 'nope'" in result.output


def test_plan_prints_the_embedded_plan() -> None:
    result = CliRunner().invoke(
        planner,
        ["plan", "where is W-5001?", "--intent", "withdrawal_status", "--customer-id", "C-1002"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output[result.output.index("{") :])
    assert document["steps"] == [
        {
            "id": "withdrawal",
            "tool": "getWithdrawal",
            "arguments": {"withdrawal_id": "W-5001", "customer_id": "C-1002"},
            "depends_on": [],
        }
    ]


def test_check_fails_on_a_refusal_rule_no_pack_has(tmp_path: Path) -> None:
    flow = (
        "industry: general\n"
        "flows:\n"
        "  proof:\n"
        "    asked_in_refusals: [{rule}]\n"
        "    replies: [{{text: hi}}]\n"
    )
    (tmp_path / "proof.yaml").write_text(flow.format(rule="base/no-such-rule"), encoding="utf-8")
    result = CliRunner().invoke(planner, ["check", "--flows-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "flow proof: asked_in_refusals: no rule 'base/no-such-rule'" in result.output

    known = "base/customer-data-needs-a-known-caller"
    (tmp_path / "proof.yaml").write_text(flow.format(rule=known), encoding="utf-8")
    result = CliRunner().invoke(planner, ["check", "--flows-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
