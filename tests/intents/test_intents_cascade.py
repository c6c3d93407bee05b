"""The cascade on a slice of CLINC150: MiniLM for every message, MPNet for the unclear ones.

The real encoders on both sides; 1,500 training and 600 validation utterances keep it to seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from click.testing import CliRunner

from services.intents import cascade as cascade_module
from services.intents.calibration import softmax
from services.intents.cascade import CascadeClassifier
from services.intents.cli import intents
from services.intents.datasets import DEFAULT_DATA_DIR, load_dataset
from services.intents.evaluation import DATASET_OPTIONS, DEEP_OPTIONS, DEEP_RULE
from services.intents.features import LayerPoolingEncoder
from services.intents.mpnet import MPNetLayerPooling, ensure_model
from services.intents.packs import OUT_OF_SCOPE

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "clinc150" / "data_full.json").is_file(),
    reason="the shared datasets are not in ../shared/data",
)


class CountingEncoder:
    """The deep encoder, counting the messages it is asked to encode one at a time."""

    def __init__(self, inner: MPNetLayerPooling) -> None:
        self.inner = inner
        self.dimension = inner.dimension
        self.sentence_dimension = inner.sentence_dimension
        self.fingerprint = inner.fingerprint
        self.layers = inner.layers
        self.int8 = inner.int8
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.inner.encode(texts, batch_size)

    def encode_one(self, text: str) -> np.ndarray:
        self.seen.append(text)
        return self.inner.encode_one(text)


@pytest.fixture(scope="module")
def deep() -> CountingEncoder:
    return CountingEncoder(MPNetLayerPooling(ensure_model(), int8=True))


@pytest.fixture(scope="module")
def validation() -> tuple[list[str], list[str]]:
    split = load_dataset("clinc150").validation.head(600)
    return split.texts, split.labels


@pytest.fixture(scope="module")
def cascade(deep: CountingEncoder, validation: tuple[list[str], list[str]]) -> CascadeClassifier:
    train = load_dataset("clinc150").train.head(1500)
    return CascadeClassifier.from_examples(
        train.texts,
        train.labels,
        validation=validation,
        deep_encoder=deep,
        encoder=LayerPoolingEncoder(int8=True),
        options=DATASET_OPTIONS,
        deep_options=DEEP_OPTIONS,
        rule=DEEP_RULE,
    )


def test_classify_gives_the_figures_calibration_promised(
    cascade: CascadeClassifier, deep: CountingEncoder, validation: tuple[list[str], list[str]]
) -> None:
    texts, labels = validation
    deep.seen.clear()
    cascade.escalated = 0
    predicted = np.array([cascade.classify(text).intent for text in texts])
    truth = np.array(labels)
    outside = truth == OUT_OF_SCOPE
    settings = cascade.cascade
    # One message at a time against the batch the calibration scored: the same arithmetic up to
    # float rounding, so at most a message or two on either side of a boundary may differ.
    tolerance = 2 / len(texts)
    assert abs(len(deep.seen) / len(texts) - settings.validation_escalated) <= tolerance
    assert cascade.escalated == len(deep.seen)
    accuracy = float((predicted == truth)[~outside].mean())
    recall = float((predicted[outside] == OUT_OF_SCOPE).mean())
    assert abs(accuracy - settings.validation_in_scope_accuracy) <= 2 / (~outside).sum()
    assert abs(recall - settings.validation_oos_recall) <= 2 / outside.sum()
    assert recall >= DEEP_RULE.min_oos_recall - 2 / outside.sum()
    # About a quarter goes the deep way: every message the fast model rejects, and its least
    # sure in-scope ones.
    assert 0.15 <= settings.validation_escalated <= 0.5


def test_clear_messages_never_reach_the_deep_encoder(
    cascade: CascadeClassifier, deep: CountingEncoder
) -> None:
    deep.seen.clear()
    clear = cascade.classify("what is my checking account balance")
    assert deep.seen == [] and clear.intent == "balance"
    unclear = "tell me a fun fact about the deep ocean floor"
    answer = cascade.classify(unclear)
    assert deep.seen == [unclear]
    # The deep reading: both models' logits summed, at the cascade's own temperature.
    fast = cascade.fast
    features = fast.encoder.encode_one(unclear)[None, :]
    logits = fast.model.logits([unclear], features) + cascade.deep_model.logits(
        [unclear], cascade.deep_encoder.encode_one(unclear)[None, :]
    )
    deep_features = cascade.deep_encoder.encode_one(unclear)[None, :]
    probabilities = softmax(logits, cascade.cascade.temperature)[0]
    support = float(cascade.deep_model.support(deep_features)[0])
    expected = cascade._deep.decide(probabilities, support)
    assert (answer.intent, answer.out_of_scope) == (expected.intent, expected.out_of_scope)
    assert answer.confidence == pytest.approx(expected.confidence, abs=1e-6)


def test_the_deep_reading_weighs_the_deep_model_s_neighbours(
    cascade: CascadeClassifier,
    validation: tuple[list[str], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first validation message that goes the deep way and is accepted there.
    for text in validation[0]:
        escalated = cascade.escalated
        if cascade.classify(text).intent != OUT_OF_SCOPE and cascade.escalated > escalated:
            break
    else:
        pytest.fail("no validation message was escalated and accepted")
    # Accepted or rejected on how near its MPNet vector lies to the training examples, not on
    # MiniLM's: far from every one, the same message is out of scope.
    far = np.array([-5.0], dtype=np.float32)
    monkeypatch.setattr(cascade.deep_model, "support", lambda features: far)
    monkeypatch.setattr(cascade.deep_model, "support_bound", lambda feature, label: -5.0)
    assert cascade.classify(text).intent == OUT_OF_SCOPE
    assert cascade.escalated == escalated + 2


def test_the_support_bound_changes_no_answer(
    cascade: CascadeClassifier,
    validation: tuple[list[str], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each reading settles most messages on a bound of the neighbour support; the answers must
    # be those of the support over every training example.
    texts = validation[0]
    model = cascade.fast.model
    full_products = []
    support = model.support

    def counted(features: np.ndarray) -> np.ndarray:
        full_products.append(len(features))
        return support(features)

    monkeypatch.setattr(model, "support", counted)
    bounded = [cascade.classify(text) for text in texts]
    # Most fast readings were settled without the full product (it is not a vacuous check).
    assert len(full_products) < len(texts) / 2
    monkeypatch.setattr(
        cascade_module,
        "_support",
        lambda model, features, row, enough: float(model.support(features)[0]),
    )
    exact = [cascade.classify(text) for text in texts]
    assert [(a.intent, a.candidates) for a in bounded] == [(b.intent, b.candidates) for b in exact]
    assert [a.confidence for a in bounded] == pytest.approx([b.confidence for b in exact])


def test_an_escalated_share_outside_zero_to_one_is_refused(deep: CountingEncoder) -> None:
    with pytest.raises(ValueError, match="escalated_share"):
        CascadeClassifier.from_examples(
            ["a"],
            ["x"],
            validation=(["a"], ["x"]),
            deep_encoder=deep,
            options=DATASET_OPTIONS,
            rule=DEEP_RULE,
            escalated_share=1.5,
        )


def test_eval_deep_on_a_slice() -> None:
    result = CliRunner().invoke(
        intents, ["eval", "--dataset", "clinc150", "--limit", "300", "--deep", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model"] == (
        "MiniLM layers 1,2,3,4,5,6 (int8), LR C=20; below the gate + MPNet layers 4,8,12 (int8) "
        "+ TF-IDF, LR C=20, logits summed"
    )
    assert report["threshold_rule"] == "max validation in-scope accuracy with OOS recall >= 0.9"
    assert 0.0 < report["deep_share"] <= 1.0
    assert 0.2 <= report["in_scope_accuracy"] <= 1.0
    assert report["cpu_mean_ms"] > 0.0


def test_eval_deep_is_not_refitted() -> None:
    result = CliRunner().invoke(
        intents,
        ["eval", "--dataset", "clinc150", "--limit", "300", "--deep", "--refit-on-validation"],
    )
    assert result.exit_code == 2
    assert "do not go together" in result.output
