"""`switchboard pii eval` and the scoring it relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.pii.cli import pii
from services.pii.config import DEFAULT_EVAL_DATA
from services.pii.entities import Entity
from services.pii.evaluation import (
    Report,
    Sample,
    f_beta,
    load_samples,
    score_sample,
    select,
    split_of,
)

needs_data = pytest.mark.skipif(
    not DEFAULT_EVAL_DATA.exists(), reason="the Presidio synthetic dataset is not present"
)


@needs_data
def test_eval_json_on_a_slice() -> None:
    result = CliRunner().invoke(pii, ["eval", "--split", "validation", "--limit", "50", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"precision", "recall", "f2", "per_entity", "exact_f1", "latency_ms"} <= report.keys()
    assert report["samples"] == 50
    for key in ("precision", "recall", "f2", "exact_f1"):
        assert 0.0 <= report[key] <= 1.0
    # A detector that works at all finds most of what is labelled in 50 sentences.
    assert report["recall"] > 0.3 and report["precision"] > 0.3
    assert report["per_entity"]["CARD"]["recall"] > 0.5
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]


@needs_data
def test_eval_text_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(pii, ["eval", "--split", "test", "--limit", "20"])
    assert result.exit_code == 0, result.output
    assert "PII (overall)" in result.output and "latency per text" in result.output


def test_eval_rejects_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(pii, ["eval", "--data", str(tmp_path / "none.json")])
    assert result.exit_code != 0


@needs_data
def test_split_is_deterministic_by_template_and_about_30_percent() -> None:
    samples = load_samples(DEFAULT_EVAL_DATA)
    validation = select(samples, "validation")
    test = select(samples, "test")
    assert len(validation) + len(test) == len(samples) == 1500
    assert 0.2 < len(validation) / len(samples) < 0.4
    assert {s.template_id for s in validation}.isdisjoint({s.template_id for s in test})
    assert [split_of(s) for s in samples] == [split_of(s) for s in load_samples(DEFAULT_EVAL_DATA)]


def _report(sample: Sample, found: list[Entity]) -> Report:
    report = Report(split="unit", samples=1)
    score_sample(report, sample, found)
    return report


def test_scoring_uses_iou_and_merges_across_skip_words() -> None:
    text = "correct it to Dr. Cettina Fanucci please"
    sample = Sample(0, text, 1, (("TITLE", 14, 17), ("PERSON", 18, 33)))
    # Title and name are one PII span once merged; the name alone covers 15 of 19 characters.
    whole = _report(sample, [Entity(14, 33, "PERSON", 1.0, text[14:33])]).as_dict()
    assert (whole["precision"], whole["recall"], whole["exact_f1"]) == (1.0, 1.0, 1.0)
    partial = _report(sample, [Entity(18, 33, "PERSON", 1.0, text[18:33])]).as_dict()
    assert (partial["precision"], partial["recall"]) == (0.0, 0.0)


def test_trailing_skip_words_do_not_break_a_match() -> None:
    text = "I live at 90 Whitchurch Road today"
    sample = Sample(0, text, 1, (("STREET_ADDRESS", 10, 28),))
    # "at 90 Whitchurch Road": "at" is a skip word, so the normalised spans are equal.
    report = _report(sample, [Entity(7, 28, "ADDRESS", 1.0, text[7:28])]).as_dict()
    assert report["recall"] == 1.0
    assert report["exact_f1"] == 0.0
    assert report["per_entity"]["ADDRESS"]["recall"] == 1.0


def test_f_beta() -> None:
    assert f_beta(0.0, 0.0, 2.0) == 0.0
    assert f_beta(1.0, 1.0, 2.0) == 1.0
    assert f_beta(0.685, 0.603, 2.0) == pytest.approx(0.618, abs=0.001)


def test_a_job_title_is_scored_as_an_occupation_and_out_of_scope() -> None:
    text = "Jamie Pratt\n\nTalking-books clerk\n\nPersonal Info:"
    sample = Sample(0, text, 1, (("PERSON", 0, 11), ("TITLE", 13, 32)))
    found = [
        Entity(0, 11, "PERSON", 1.0, text[0:11]),
        Entity(13, 32, "OCCUPATION", 1.0, text[13:32]),
    ]
    report = _report(sample, found).as_dict()
    # Type ignored, name and title are one block, and both were found.
    assert (report["precision"], report["recall"]) == (1.0, 1.0)
    assert report["per_entity"]["OCCUPATION"]["recall"] == 1.0
    assert report["per_entity"]["PERSON"]["recall"] == 1.0
    # In scope (what is masked by default) the name alone is the gold span.
    assert report["in_scope"]["recall"] == 1.0
    assert _report(sample, found[:1]).as_dict()["in_scope"]["recall"] == 1.0


def test_an_honorific_stays_part_of_the_person() -> None:
    text = "ask Mrs. Jones"
    sample = Sample(0, text, 1, (("TITLE", 4, 8), ("PERSON", 9, 14)))
    report = _report(sample, [Entity(4, 14, "PERSON", 1.0, text[4:14])]).as_dict()
    assert report["per_entity"]["PERSON"]["recall"] == 1.0
    assert "OCCUPATION" not in report["per_entity"]
