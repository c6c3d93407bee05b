"""The shipped intent packs and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import SHIPPED_INTENTS

from services.intents.packs import PackError, load_pack, load_packs

PACKS = Path(__file__).resolve().parents[2] / "packs" / "intents"

EXPECTED = {pack: set(intents) for pack, intents in SHIPPED_INTENTS.items()}


def test_shipped_packs_have_exactly_the_agreed_intents() -> None:
    packs = {pack.industry: pack for pack in load_packs(PACKS)}
    assert {name: {i.name for i in pack.intents} for name, pack in packs.items()} == EXPECTED
    for pack in packs.values():
        assert pack.out_of_scope, pack.industry
        for intent in pack.intents:
            assert intent.description
            assert 25 <= len(intent.examples) <= 40, intent.name


def test_invalid_pack_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "industry: test\nintents:\n  - name: Bad-Name\n    description: x\n    examples: [a]\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError) as caught:
        load_pack(path)
    message = str(caught.value)
    assert str(path) in message
    assert "intents.0.name" in message
    assert "intents.0.examples" in message


def test_duplicate_examples_and_unknown_fields_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    examples = ", ".join(["hi there"] * 2 + ["a", "b", "c"])
    path.write_text(
        f"industry: t\nintents:\n  - name: x\n    description: d\n    examples: [{examples}]\n"
        "colour: blue\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError, match="repeats the example|colour"):
        load_pack(path)


def test_intent_defined_in_two_packs(tmp_path: Path) -> None:
    body = "intents:\n  - name: greeting\n    description: d\n    examples: [a, b, c, d, e]\n"
    (tmp_path / "a.yaml").write_text("industry: a\n" + body, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("industry: b\n" + body, encoding="utf-8")
    with pytest.raises(PackError, match="already defined in a.yaml"):
        load_packs(tmp_path)


def test_missing_folder_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not found"):
        load_packs(tmp_path / "nope")
    with pytest.raises(PackError, match="no intent packs"):
        load_packs(tmp_path)
    (tmp_path / "x.yaml").write_text("intents: [\n", encoding="utf-8")
    with pytest.raises(PackError, match="cannot read"):
        load_packs(tmp_path)
