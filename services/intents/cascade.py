"""Two classifiers in a cascade: MiniLM for every message, all-mpnet-base-v2 for the unclear ones.

The fast classifier (:class:`~services.intents.classifier.IntentClassifier` on MiniLM layer
features, ~3-5 ms) answers alone when its in-scope evidence is high. Below a gate, the message
is encoded again by the deep encoder (:class:`~services.intents.mpnet.MPNetLayerPooling`, ~35 ms
float, ~20 ms int8) and decided on the sum of both linear models' logits, with a temperature and
an out-of-scope threshold of its own; its in-scope evidence counts the nearness of the deep
encoder's sentence vector to the training examples, not MiniLM's. The gate is set on validation
so that a fixed share of the validation messages goes the deep way: the median message never
does.

On CLINC150's validation split (train on train, score validation), with a quarter of the
messages escalated, the cascade kept most of what the deep model gives on its own: closed-set
accuracy 97.33 % (MiniLM) against 97.97 % (MPNet) and 98.13 % (both, logits summed); at 90 %
out-of-scope recall 96.07 % (MiniLM), 97.33 % (MPNet) and 97.27 % (the cascade). Measuring the
deep reading's nearness with MPNet's vectors raised the cascade to 97.53 %, and TF-IDF n-grams in
the deep model (:data:`~services.intents.evaluation.DEEP_OPTIONS`) to 97.70 %; both encoders in
int8 cost nothing measurable there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from services.intents.calibration import ThresholdRule, choose_threshold, fit_temperature, softmax
from services.intents.classifier import (
    SUPPORT_WEIGHT,
    Calibration,
    Classification,
    IntentClassifier,
    read_batch,
)
from services.intents.features import SentenceFeatures, encode_cached
from services.intents.model import FloatArray, LinearIntentModel, ModelOptions
from services.intents.packs import OUT_OF_SCOPE
from services.intents.threads import one_blas_thread

Progress = Callable[[str], None]

#: share of validation messages the gate sends to the deep encoder
ESCALATED_SHARE = 0.25


def _quiet(message: str) -> None:
    del message


@dataclass(frozen=True)
class CascadeCalibration:
    """The gate on the fast evidence, and the deep reading's temperature and threshold."""

    gate: float
    temperature: float
    threshold: float
    validation_escalated: float
    validation_in_scope_accuracy: float
    validation_oos_recall: float


class CascadeClassifier:
    """:meth:`classify` as :class:`IntentClassifier`'s, with the deep second look below the gate.

    :attr:`escalated` counts the messages that took the deep way, for figures.
    """

    def __init__(
        self,
        fast: IntentClassifier,
        deep_encoder: SentenceFeatures,
        deep_model: LinearIntentModel,
        calibration: CascadeCalibration,
    ) -> None:
        if deep_model.labels != fast.model.labels:
            raise ValueError("the deep model must score the fast model's labels, in its order")
        self.fast = fast
        self.deep_encoder = deep_encoder
        self.deep_model = deep_model
        self.cascade = calibration
        # The deep reading decides as the fast classifier does, under its own calibration.
        self._deep = IntentClassifier(
            fast.encoder,
            fast.model,
            Calibration(
                calibration.temperature,
                calibration.threshold,
                calibration.validation_in_scope_accuracy,
                calibration.validation_oos_recall,
            ),
        )
        self.escalated = 0

    @property
    def calibration(self) -> Calibration:
        """The calibration of the deep reading (what the evaluation reports)."""
        return self._deep.calibration

    @property
    def encoder(self) -> SentenceFeatures:
        return self.fast.encoder

    @classmethod
    def from_examples(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        validation: tuple[Sequence[str], Sequence[str]],
        deep_encoder: SentenceFeatures,
        encoder: SentenceFeatures | None = None,
        options: ModelOptions,
        deep_options: ModelOptions | None = None,
        rule: ThresholdRule,
        escalated_share: float = ESCALATED_SHARE,
        cache_dir: Path | None = None,
        progress: Progress = _quiet,
    ) -> CascadeClassifier:
        """Train both models on ``texts`` (the deep one with ``deep_options``, by default
        ``options``), then set the gate, the temperature and the threshold on ``validation``
        (the threshold by ``rule``, over the cascade's own answers)."""
        if not 0.0 <= escalated_share <= 1.0:
            raise ValueError(f"escalated_share must be within [0, 1], got {escalated_share}")
        fast = IntentClassifier.from_examples(
            texts,
            labels,
            validation=validation,
            encoder=encoder,
            options=options,
            rule=rule,
            cache_dir=cache_dir,
            progress=progress,
        )
        deep_options = replace(
            deep_options or options, sentence_dimension=deep_encoder.sentence_dimension
        )
        started = time.perf_counter()
        with one_blas_thread():
            progress(f"encoding {len(texts)} training utterances with the deep encoder")
            deep_train = encode_cached(deep_encoder, list(texts), cache_dir)
            progress("fitting the deep model")
            deep_model = LinearIntentModel.fit(list(texts), list(labels), deep_train, deep_options)
            val_texts, val_labels = list(validation[0]), list(validation[1])
            progress(f"encoding {len(val_texts)} validation utterances with both encoders")
            fast_val = encode_cached(fast.encoder, val_texts, cache_dir)
            deep_val = encode_cached(deep_encoder, val_texts, cache_dir)
            fast_logits = fast.model.logits(val_texts, fast_val)
            fast_support = fast.model.support(fast_val)
            summed = fast_logits + deep_model.logits(val_texts, deep_val)
            deep_support = deep_model.support(deep_val)
        calibration = _calibrate(
            fast,
            fast_logits,
            fast_support,
            summed,
            deep_support,
            val_labels,
            rule,
            escalated_share,
        )
        progress(
            f"cascade calibrated in {time.perf_counter() - started:.0f}s: gate "
            f"{calibration.gate:.3f} sends {calibration.validation_escalated:.0%} of validation "
            "to the deep encoder"
        )
        return cls(fast, deep_encoder, deep_model, calibration)

    def classify(self, text: str, top_k: int = 5) -> Classification:
        """The fast answer when it is clear enough, else the deep reading of the message."""
        if not text.strip():
            return self.fast.classify(text, top_k)
        fast = self.fast
        with one_blas_thread():
            features = fast.encoder.encode_one(text)[None, :]
            logits = fast.model.logits([text], features)
            row = softmax(logits, fast.calibration.temperature)[0]
            support = _support(fast.model, features, row, self.cascade.gate)
            if _evidence(fast.model.labels, row, support) >= self.cascade.gate:
                return fast.conclude(text, row, support, top_k)
            self.escalated += 1
            deep_features = self.deep_encoder.encode_one(text)[None, :]
            summed = logits + self.deep_model.logits([text], deep_features)
            probabilities = softmax(summed, self.cascade.temperature)[0]
            deep_support = _support(
                self.deep_model, deep_features, probabilities, self.calibration.threshold
            )
        # One reading of the whole message: the deep model scores no clauses.
        return self._deep.decide(probabilities, deep_support, top_k)


def _support(
    model: LinearIntentModel, features: FloatArray, row: FloatArray, enough: float
) -> float:
    """The neighbour support a decision at ``enough`` needs: the bound from the best intent's
    own examples (:meth:`~LinearIntentModel.support_bound`) when the evidence clears ``enough``
    with it, else the support over all the examples. The decision is the same either way; most
    messages are settled by the bound, and spared the product with every training example (about
    a quarter of the fast path's time on CLINC150). A fast answer then carries the bound as its
    support."""
    in_scope = np.array([label != OUT_OF_SCOPE for label in model.labels])
    best = model.labels[int(np.flatnonzero(in_scope)[np.argmax(row[in_scope])])]
    bound = model.support_bound(features[0], best)
    if _evidence(model.labels, row, bound) >= enough:
        return bound
    return float(model.support(features)[0])


def _evidence(labels: Sequence[str], row: FloatArray, support: float) -> float:
    """The in-scope evidence :class:`IntentClassifier` thresholds (top in-scope probability,
    less the out-of-scope class's, plus the weighted neighbour support); minus infinity when
    the out-of-scope class wins outright."""
    oos = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -1
    top = float((np.delete(row, oos) if oos >= 0 else row).max())
    oos_p = float(row[oos]) if oos >= 0 else 0.0
    if oos_p > top:
        return -np.inf
    return top - oos_p + SUPPORT_WEIGHT * support


def _calibrate(
    fast: IntentClassifier,
    fast_logits: FloatArray,
    fast_support: FloatArray,
    summed: FloatArray,
    deep_support: FloatArray,
    labels: Sequence[str],
    rule: ThresholdRule,
    escalated_share: float,
) -> CascadeCalibration:
    model_labels = fast.model.labels
    truth = np.array(labels)
    fast_best, fast_evidence, fast_won = read_batch(
        softmax(fast_logits, fast.calibration.temperature), fast_support, model_labels
    )
    known = np.array([label in model_labels for label in labels])
    targets = np.array([model_labels.index(label) for label in truth[known]], dtype=np.int64)
    temperature = fit_temperature(summed[known], targets)
    deep_best, deep_evidence, deep_won = read_batch(
        softmax(summed, temperature), deep_support, model_labels
    )
    # Messages the fast classifier already rejects always go the deep way; the gate sends
    # the escalated share of all of them, lowest evidence first.
    gate = float(np.quantile(fast_evidence, escalated_share)) if len(labels) else 0.0
    easy = (fast_evidence >= gate) & ~fast_won & (fast_evidence >= fast.calibration.threshold)
    best = np.where(easy, fast_best, deep_best)
    evidence = np.where(easy, np.inf, deep_evidence)
    won = np.where(easy, False, deep_won)
    point = choose_threshold(
        evidence,
        won,
        best == truth,
        truth == OUT_OF_SCOPE,
        budget=rule.budget,
        min_oos_recall=rule.min_oos_recall,
    )
    return CascadeCalibration(
        gate=max(gate, fast.calibration.threshold),
        temperature=temperature,
        threshold=point.threshold,
        validation_escalated=float(1.0 - easy.mean()),
        validation_in_scope_accuracy=point.in_scope_accuracy,
        validation_oos_recall=point.oos_recall,
    )
