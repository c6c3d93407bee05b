"""How rules are evaluated: a condition's scope, the rule index, a pack's params.

The verdicts themselves are pinned by test_governance_golden.py; these tests say what the
scope of a condition is, that the index keeps rule order, and that params that cannot be read
as CEL values stop a pack at load.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from gov_support import shipped_governance

from services.governance.config import GovernanceSettings
from services.governance.engine import Governance, RuleIndex
from services.governance.expressions import EvaluationError, compile_condition
from services.governance.packs import PackError, load_packs
from services.governance.verdicts import Stage


@pytest.fixture(scope="module")
def governance() -> Governance:
    return shipped_governance()


PARAMS = {"refund_tools": ["createRefund", "refundOrder"], "limit": 5, "mixed": ["a", 1]}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("tool in params.refund_tools && args.x > 1", {"tool": {"createRefund", "refundOrder"}}),
        ('args.x > 1 && tool == "getCharge"', {"tool": {"getCharge"}}),
        ('"getCharge" == tool', {"tool": {"getCharge"}}),
        ('(tool in ["a", "b"] && args.x > 1) && calls_in_turn < 3', {"tool": {"a", "b"}}),
        ('tool in params.refund_tools && tool in ["refundOrder", "c"]', {"tool": {"refundOrder"}}),
        ("tool in params.refund_tools || args.x > 1", {}),
        ("!(tool in params.refund_tools)", {}),
        ('tool != "getCharge"', {}),
        ("tool in params.mixed", {}),
        ("tool in params.limit", {}),
        ("tool in params.unknown && true", {}),
        ('tool in ["a", 1]', {}),
        ('args.exists(k, k == "x")', {}),
        ("(tool in params.refund_tools ? true : false) && args.x > 1", {}),
    ],
)
def test_a_condition_states_its_scope_only_in_its_top_level_and_terms(
    source: str, expected: dict[str, set[str]]
) -> None:
    condition = compile_condition(source, {"tool", "args", "calls_in_turn", "params"})
    assert {k: set(v) for k, v in condition.scope(PARAMS).items()} == expected


def test_and_is_false_when_a_scope_term_is_false_even_if_another_term_fails() -> None:
    # CEL's && is commutative over errors: the guarantee the index rests on, in celpy.
    for source in ('tool in ["a"] && args.missing > 1', 'args.missing > 1 && tool == "a"'):
        condition = compile_condition(source, {"tool", "args"})
        assert condition.evaluate({"tool": "b", "args": {}}) is False
        with pytest.raises(EvaluationError):
            condition.evaluate({"tool": "a", "args": {}})


def test_the_index_keeps_rule_order_and_leaves_out_only_ruled_out_rules(
    governance: Governance,
) -> None:
    rules = governance.policy.rules(Stage.TOOL_CALL)
    index = RuleIndex(rules, "tool")
    for tool in ["createWithdrawal", "redeemMiles", "getFlightStatus", "notATool", ""]:
        selected = index.select(tool)
        assert list(selected) == [r for r in rules if r.admits("tool", tool)]
    assert [r.rule_id for r in index.select("createWithdrawal")] == [
        "base/tool-call-budget",
        "base/customer-data-only-as-the-caller",
        "base/customer-data-needs-a-known-caller",
        "base/contract-requires-confirmation",
        "sportsbook/withdrawal-needs-verified-identity",
        "sportsbook/withdrawal-within-balance",
        "sportsbook/withdrawal-to-an-active-card",
        "sportsbook/large-withdrawal-needs-confirmation",
        "dental/member-data-needs-verified-identity",
        "dental/member-data-only-as-the-caller",
    ]
    assert index.select(None) == rules


def test_params_that_are_not_json_values_stop_the_pack_at_load(tmp_path: Path) -> None:
    base = """\
        pack: base
        description: a date is not a JSON value
        params:
          cutoff: 2026-01-01
        rules:
          - id: late
            description: after the cutoff
            stage: input
            when: text.contains("x")
            action: block
            message: not that
        """
    (tmp_path / "base.yaml").write_text(textwrap.dedent(base), encoding="utf-8")
    with pytest.raises(PackError, match=r"base.yaml:4: params: not JSON-like values"):
        load_packs(GovernanceSettings(packs_dir=tmp_path, packs=["base"]))
