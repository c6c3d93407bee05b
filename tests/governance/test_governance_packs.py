"""Loading policy packs: the shipped ones load; a bad one fails with file, line and reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from services.config import load_settings
from services.governance.config import GovernanceSettings
from services.governance.packs import PackError, load_packs
from services.governance.verdicts import Stage
from services.runtime.errors import ConfigError

SHIPPED = GovernanceSettings()

BASE = """\
pack: base
description: minimal base
rules:
  - id: ok
    description: fine
    stage: input
    when: text.contains("x")
    action: block
    message: not that
"""


def _packs(tmp_path: Path, broken: str, name: str = "broken") -> GovernanceSettings:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(broken), encoding="utf-8")
    return GovernanceSettings(packs_dir=tmp_path, packs=["base", name])


def test_shipped_packs_load_with_rules_at_every_stage() -> None:
    policy = load_packs(SHIPPED)
    assert [p.name for p in policy.packs] == ["base", "airline", "sportsbook", "dental"]
    for stage in Stage:
        assert policy.rules(stage), f"no {stage.value} rules"
    assert policy.pack_for_intent("rebook_flight").name == "airline"
    assert policy.pack_for_intent("rebook_flight").fallback.handoff_queue == "airline-customer-care"
    # a fallback field the pack leaves unset comes from the base pack
    assert policy.pack("dental") is not None
    assert policy.pack_for_intent("claim_status").fallback.max_options == 3


def test_base_pack_applies_even_when_not_listed() -> None:
    policy = load_packs(GovernanceSettings(packs=["dental"]))
    assert [p.name for p in policy.packs] == ["base", "dental"]


BAD_PACKS = [
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: r
            description: d
            stage: input
            when: "true"
            action: explode
            message: m
        """,
        8,
        "rules[0].action: 'explode' is not one of",
        id="unknown-action",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: r
            description: d
            stage: output
            when: "true"
            action: block
        """,
        4,
        "'message' is a required property",
        id="missing-message",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: r
            description: d
            stage: input
            when: "true"
            action: confirm
            message: m
        """,
        8,
        "rules[0].action: 'confirm' is not one of ['allow', 'block', 'handoff']",
        id="action-not-allowed-at-stage",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: fine
            description: d
            stage: input
            when: "true"
            action: allow
          - id: bad-cel
            description: d
            stage: input
            when: text.contains("x" &&
            action: block
            message: m
        """,
        12,
        "rule 'bad-cel': when does not parse",
        id="cel-syntax",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: wrong-var
            description: d
            stage: output
            when: args.amount > 5
            action: block
            message: m
        """,
        7,
        "rule 'wrong-var': when reads args, not available here",
        id="variable-of-another-stage",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: no-such-function
            description: d
            stage: input
            when: shout(text)
            action: block
            message: m
        """,
        7,
        "rule 'no-such-function': when calls unknown function shout",
        id="unknown-function",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: bad-regex
            description: d
            stage: input
            when: text.matches("(unclosed")
            action: block
            message: m
        """,
        7,
        "not a valid RE2 regular expression",
        id="bad-regex",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: mixed
            description: d
            stage: input
            when: text.contains("x") && intent == "y"
            action: block
            message: m
        """,
        7,
        "reads either the text",
        id="text-and-intent",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: twice
            description: d
            stage: input
            when: "true"
            action: allow
          - id: twice
            description: d
            stage: input
            when: "false"
            action: allow
        """,
        9,
        "rule id 'twice' is used twice",
        id="duplicate-rule-id",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        description: y
        rules: []
        """,
        3,
        "key 'description' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: r
            description: [unclosed
        """,
        6,
        "invalid YAML",
        id="yaml-syntax",
    ),
    pytest.param(
        """\
        pack: other
        description: x
        rules: []
        """,
        1,
        "pack 'other' must be named 'broken'",
        id="name-mismatch",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        rules:
          - id: redact
            description: d
            stage: output
            when: "true"
            action: redact
            message: "[x]"
            pattern: "(unclosed"
        """,
        10,
        "rule 'redact': pattern is invalid",
        id="bad-redact-pattern",
    ),
    pytest.param(
        """\
        pack: broken
        description: x
        intents:
          thing: {label: do a thing}
        fallback:
          confidence_threshold: 1.5
        rules: []
        """,
        6,
        "fallback.confidence_threshold: 1.5 is greater than the maximum of 1",
        id="threshold-out-of-range",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), BAD_PACKS)
def test_bad_pack_fails_with_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    settings = _packs(tmp_path, text)
    with pytest.raises(PackError) as raised:
        load_packs(settings)
    error = raised.value
    assert error.path == tmp_path / "broken.yaml"
    assert error.line == line, error.message
    assert reason in error.reason
    assert error.message.startswith(f"{tmp_path / 'broken.yaml'}:{line}: ")


def test_an_intent_declared_by_two_packs_is_an_error(tmp_path: Path) -> None:
    settings = _packs(
        tmp_path,
        """\
        pack: broken
        description: x
        intents:
          greeting: {label: say hi}
        rules: []
        """,
    )
    (tmp_path / "base.yaml").write_text(
        BASE.replace("rules:", "intents:\n  greeting: {label: hello}\nrules:"), encoding="utf-8"
    )
    with pytest.raises(PackError, match=r"broken\.yaml:4: intent 'greeting' is declared by pack"):
        load_packs(settings)


def test_a_missing_pack_names_what_is_there(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    settings = GovernanceSettings(packs_dir=tmp_path, packs=["casino"])
    with pytest.raises(ConfigError, match=r"policy pack 'casino' not found .*present: base"):
        load_packs(settings)


def test_packs_listed_twice_are_a_settings_error() -> None:
    with pytest.raises(ValueError, match="packs listed twice: airline"):
        GovernanceSettings(packs=["airline", "airline"])


def test_the_packs_in_force_come_from_settings_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_GOVERNANCE__PACKS", '["dental"]')
    settings = load_settings().governance
    assert settings.packs == ["dental"]
    assert [p.name for p in load_packs(settings).packs] == ["base", "dental"]
