"""The optimised evaluation path gives exactly the verdicts the engine gave before it.

golden_verdicts.json was recorded (tests/governance/gov_corpus.py) with the engine as it was
before rule evaluation was reshaped (variables converted once per check, rules indexed by the
tool or intent their scope pins, celpy's tree pruned of pass-through levels). Every check of the
corpus must give the same verdicts: rule ids, actions, reasons, messages, and for output the
same released text. The scope test checks the index's premise on its own, rule by rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gov_corpus import Subject, load_golden, outcome, run, subjects
from gov_support import shipped_governance

from services.governance.engine import Governance, contract_view, evaluate
from services.governance.packs import Rule
from services.governance.verdicts import Stage


@pytest.fixture(scope="module")
def governance() -> Governance:
    return shipped_governance()


def test_every_check_of_the_corpus_gives_the_recorded_verdicts(governance: Governance) -> None:
    golden = load_golden()
    current = run(governance)
    assert len(current) == len(golden)
    differing = [(old, new) for old, new in zip(golden, current, strict=True) if old != new]
    assert differing == [], f"{len(differing)} outcomes differ; first: {differing[0]}"


def test_the_corpus_exercises_every_rule_and_its_error_path(governance: Governance) -> None:
    golden = load_golden()
    fired = {
        verdict[2]
        for result in golden
        for verdict in [
            *result.get("matched", []),
            *(release[1] for release in result.get("releases", []) if release[1]),
        ]
    }
    rules = {r.rule_id for stage in Stage for r in governance.policy.rules(stage)}
    assert rules <= fired
    reasons = [v[3] for result in golden for v in result.get("matched", [])]
    assert any("failing closed" in reason for reason in reasons)


def _variables(governance: Governance, subject: Subject) -> dict[str, Any]:
    if subject.kind == "tool":
        return {
            "tool": subject.tool,
            "args": dict(subject.args),
            "contract": contract_view(governance.contracts.get(subject.tool)),
            "calls_in_turn": subject.calls,
            "session": dict(subject.session),
        }
    if subject.kind == "intent":
        return {"intent": subject.intent, "confidence": 0.8, "session": dict(subject.session)}
    return {"text": subject.text, "intent": subject.intent, "session": dict(subject.session)}


def _scoped_rules_and_subjects(governance: Governance) -> Iterator[tuple[Rule, Subject]]:
    kinds = {Stage.TOOL_CALL: ("tool",), Stage.INPUT: ("intent",), Stage.OUTPUT: ("output",)}
    corpus = list(subjects(governance))
    for stage, stage_kinds in kinds.items():
        for rule in governance.policy.rules(stage):
            for subject in corpus:
                if subject.kind in stage_kinds and rule.scope:
                    yield rule, subject


def test_a_rule_its_scope_rules_out_never_gives_a_verdict(governance: Governance) -> None:
    # The premise of the index, checked rule by rule on the whole corpus: wherever the scope
    # leaves a rule out, evaluating it in full gives nothing (not even a fail-closed verdict).
    left_out = 0
    for rule, subject in _scoped_rules_and_subjects(governance):
        variable, value = ("tool", subject.tool) if subject.tool else ("intent", subject.intent)
        if rule.admits(variable, value):
            continue
        left_out += 1
        verdict = evaluate(rule, _variables(governance, subject))
        assert verdict is None, (rule.rule_id, subject.label)
    assert left_out > 1000


def test_the_shipped_scopes_are_the_ones_the_conditions_state(governance: Governance) -> None:
    scopes = {
        r.rule_id: {k: sorted(v) for k, v in r.scope.items()}
        for stage in Stage
        for r in governance.policy.rules(stage)
        if r.scope
    }
    assert scopes == {
        "airline/refund-above-original-charge": {"tool": ["createRefund"]},
        "airline/account-change-needs-verified-identity": {
            "tool": [
                "assignSeat",
                "cancelReservation",
                "rebookReservation",
                "redeemMiles",
                "updatePreferences",
                "upgradeReservation",
            ]
        },
        "airline/miles-within-balance": {"tool": ["redeemMiles"]},
        "sportsbook/responsible-gaming-intent": {"intent": ["deposit_limit", "self_exclusion"]},
        "sportsbook/limit-changes-by-a-human": {"tool": ["setDepositLimit"]},
        "sportsbook/withdrawal-needs-verified-identity": {"tool": ["createWithdrawal"]},
        "sportsbook/large-withdrawal-needs-confirmation": {"tool": ["createWithdrawal"]},
        "sportsbook/responsible-gaming-reminder": {
            "intent": [
                "bet_settlement",
                "wallet_balance",
                "withdrawal_request",
                "withdrawal_status",
            ]
        },
        "dental/benefits-disclaimer": {
            "intent": ["benefits_summary", "claim_status", "eligibility_check"]
        },
    }


def test_outcomes_do_not_depend_on_what_was_checked_before(governance: Governance) -> None:
    # Activations and caches are per check: the same subject gives the same outcome whether it
    # is checked first or after every other subject of the corpus.
    sample = list(subjects(governance))[::97]
    fresh = shipped_governance()
    first = [outcome(fresh, subject) for subject in sample]
    run(fresh)
    again = [outcome(fresh, subject) for subject in sample]
    assert first == again
