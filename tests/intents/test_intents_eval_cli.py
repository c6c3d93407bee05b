"""`switchboard intents eval` on a small slice of the public datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.intents.cli import intents
from services.intents.datasets import DEFAULT_DATA_DIR, load_banking77

KEYS = {"in_scope_accuracy", "oos_recall", "macro_f1", "p50_ms", "p99_ms"}

needs_data = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "clinc150" / "data_full.json").is_file(),
    reason="the shared datasets are not in ../shared/data",
)


@needs_data
def test_clinc150_slice_json() -> None:
    result = CliRunner().invoke(
        intents, ["eval", "--dataset", "clinc150", "--limit", "300", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1], parse_constant=_reject)
    assert KEYS <= set(report)
    assert report["test_size"] == report["train_size"] == 300
    assert report["model"] == "MiniLM layers 1,2,3,4,5,6, LR C=20"
    assert report["refit_on_validation"] is False
    assert report["threshold_rule"] == "max validation in-scope accuracy with OOS recall >= 0.75"
    # 300 training utterances over 151 classes is two per intent: far from the full figures,
    # but well above chance (1/151) if training, calibration and scoring are wired right.
    assert 0.2 <= report["in_scope_accuracy"] <= 1.0
    assert 0.0 <= report["oos_recall"] <= 1.0
    assert 0.1 <= report["macro_f1"] <= 1.0
    assert 0.0 < report["p50_ms"] <= report["p99_ms"]
    assert "encoding" in result.stderr  # progress goes to stderr, not into the JSON


@needs_data
def test_clinc150_slice_with_the_earlier_configuration_in_int8() -> None:
    result = CliRunner().invoke(
        intents,
        [
            "eval",
            "--dataset",
            "clinc150",
            "--limit",
            "300",
            "--json",
            "--features",
            "sentence",
            "--tfidf",
            "--oos-rule",
            "budget",
            "--int8",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1], parse_constant=_reject)
    assert report["model"] == "MiniLM sentence embedding (int8) + TF-IDF, LR C=20"
    assert report["threshold_rule"] == "max validation OOS recall costing <= 0.01 in-scope accuracy"
    assert 0.0 <= report["oos_recall"] <= 1.0


@needs_data
def test_banking77_slice_table() -> None:
    result = CliRunner().invoke(
        intents, ["eval", "--dataset", "banking77", "--limit", "200", "--refit-on-validation"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "| classifier | in-scope acc | OOS recall | macro F1 | p50 ms | p99 ms |" in result.stdout
    )
    row = next(line for line in result.stdout.splitlines() if line.startswith("| Switchboard"))
    accuracy = float(row.split("|")[2])
    assert 10.0 <= accuracy <= 100.0
    assert row.split("|")[3].strip() == "—"  # BANKING77 has no out-of-scope queries
    assert "refit on train+val" in row


@needs_data
def test_banking77_validation_is_held_out_of_train() -> None:
    data = load_banking77(DEFAULT_DATA_DIR)
    assert set(data.train.texts).isdisjoint(data.validation.texts)
    assert len(data.train) + len(data.validation) == 10003
    assert set(data.validation.labels) == set(data.train.labels)
    assert load_banking77(DEFAULT_DATA_DIR).validation == data.validation  # deterministic


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        intents, ["eval", "--dataset", "clinc150", "--data-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code != 0
    assert "cannot read CLINC150" in result.output


def test_expected_calibration_error() -> None:
    import numpy as np

    from services.intents.evaluation import expected_calibration_error

    confidence = np.array([0.95] * 10 + [0.55] * 10)
    right = np.array([True] * 10 + [True] * 5 + [False] * 5)
    # bin 0.95: accuracy 1.0 (gap 0.05); bin 0.55: accuracy 0.5 (gap 0.05)
    assert expected_calibration_error(confidence, right) == pytest.approx(0.05)
    overconfident = np.array([0.99] * 4)
    assert expected_calibration_error(overconfident, np.array([True, False] * 2)) == pytest.approx(
        0.49
    )


def _reject(constant: str) -> None:
    raise AssertionError(f"not plain JSON: {constant}")
