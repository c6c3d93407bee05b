"""The intent classifier the router runs in-process on every turn.

``classify`` returns the best intent with a calibrated probability, the top-k in-scope
candidates, an out-of-scope decision, and every intent of a multi-intent message. Training
fits the linear model (:mod:`services.intents.model`) on MiniLM features (by default the
pooled states of layers 1-6, :mod:`services.intents.features`), then fits a temperature and
an out-of-scope threshold on held-out scores: a validation split when one is given, otherwise
out-of-fold scores from k-fold cross-validation on the examples themselves.

Fitting and calibrating use scikit-learn, which this module imports only inside the functions
that fit. The router (:meth:`IntentClassifier.from_packs`) encodes the examples itself and runs
the fits in a child process (:class:`services.runtime.child.Child`), which sends back plain
arrays: scikit-learn and scipy never enter the router's memory.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.intents.calibration import (
    ThresholdRule,
    choose_threshold,
    fit_temperature,
    softmax,
)
from services.intents.features import LayerPoolingEncoder, SentenceFeatures, encode_cached
from services.intents.model import (
    FittedLinear,
    FloatArray,
    LinearIntentModel,
    ModelOptions,
    fit_linear,
)
from services.intents.packs import OUT_OF_SCOPE, IntentPack, load_packs
from services.intents.threads import one_blas_thread
from services.runtime.child import Child
from services.runtime.memory import release_freed_memory

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Clause boundaries for multi-intent messages: sentence ends, semicolons, and the conjunctions
# customers use to chain requests ("... and I also want ...", "... plus ...", "... but ...").
_CLAUSE_SPLIT = re.compile(
    r"[.!?;]+\s+|\s+(?:and\s+also|and\s+then|as\s+well\s+as|and|also|plus|but|then)\s+",
    re.IGNORECASE,
)
# A clause needs this many words to stand on its own ("and cancel" is not a request).
_MIN_CLAUSE_WORDS = 3
# Each clause costs an encoder pass; a long message is judged on its first few requests.
MAX_CLAUSES = 6
# In-scope evidence = top in-scope probability - out-of-scope probability
#                     + SUPPORT_WEIGHT * mean cosine similarity to the nearest training examples.
# The similarity term catches messages the linear model is sure about but that resemble no
# example; on CLINC150 validation it raised out-of-scope recall by 4 to 9 points at the same
# in-scope accuracy. The weight was picked among 1, 2, 3 and 5.
SUPPORT_WEIGHT = 2.0
# What a training child process imports to fit (:func:`_fit_and_calibrate`), while the parent
# encodes the examples.
_FIT_IMPORTS = (
    "services.intents.classifier",
    "sklearn.feature_extraction.text",
    "sklearn.linear_model",
    "sklearn.model_selection",
)


def _no_progress(message: str) -> None:
    del message


@dataclass(frozen=True)
class Classification:
    """The classifier's answer for one message.

    ``intent`` is the best intent, or ``out_of_scope``; ``confidence`` the calibrated
    probability of that answer; ``candidates`` the top in-scope intents with their calibrated
    probabilities, best first; ``intents`` every intent found, in the order the customer
    raised them (one for a single request, none when out of scope).
    """

    intent: str
    confidence: float
    candidates: list[tuple[str, float]]
    out_of_scope: bool
    intents: list[str] = field(default_factory=list)
    #: what the answer was decided from, so :meth:`IntentClassifier.within` can decide again
    scores: _Scores | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Scores:
    """A message's calibrated probabilities and support, and its clauses' when it has several."""

    message: tuple[FloatArray, float]
    clauses: tuple[tuple[FloatArray, float], ...]
    top_k: int


def _blank() -> Classification:
    """A blank message asks for nothing, and there is no candidate to offer."""
    return Classification(OUT_OF_SCOPE, 1.0, [], True, [])


@dataclass(frozen=True)
class Calibration:
    """Fitted on held-out data: the softmax temperature and the in-scope evidence threshold."""

    temperature: float
    threshold: float
    validation_in_scope_accuracy: float
    validation_oos_recall: float


def split_clauses(text: str) -> list[str]:
    """The parts of a message that could each carry a request, in order."""
    parts = (part.strip(" ,") for part in _CLAUSE_SPLIT.split(text))
    return [part for part in parts if len(part.split()) >= _MIN_CLAUSE_WORDS][:MAX_CLAUSES]


class IntentClassifier:
    """Intent classification with calibrated confidence and out-of-scope detection."""

    def __init__(
        self,
        encoder: SentenceFeatures,
        model: LinearIntentModel,
        calibration: Calibration,
        clause_confidence: float = 0.5,
    ) -> None:
        self.encoder = encoder
        self.model = model
        self.calibration = calibration
        self.clause_confidence = clause_confidence
        labels = model.labels
        self._oos_index = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -1
        self._in_scope = np.array([i for i in range(len(labels)) if i != self._oos_index])
        self._labels = np.array(labels)

    @property
    def intent_names(self) -> list[str]:
        return [str(name) for name in self._labels[self._in_scope]]

    @classmethod
    def from_packs(
        cls,
        packs_dir: Path,
        *,
        encoder: SentenceFeatures | None = None,
        cache_dir: Path | None = None,
        fit_in_child: bool = True,
    ) -> IntentClassifier:
        """Train on every intent pack in a folder; calibrated by cross-validation.

        With ``cache_dir`` the examples' embeddings are kept there, keyed by a hash of the
        model and the examples, so a restart with unchanged packs skips encoding them. The
        fits run in a child process unless ``fit_in_child`` is false (see
        :meth:`from_examples`): this is how the router trains.
        """
        return cls.from_intent_packs(
            load_packs(packs_dir), encoder=encoder, cache_dir=cache_dir, fit_in_child=fit_in_child
        )

    @classmethod
    def from_intent_packs(
        cls,
        packs: Sequence[IntentPack],
        *,
        encoder: SentenceFeatures | None = None,
        cache_dir: Path | None = None,
        fit_in_child: bool = False,
    ) -> IntentClassifier:
        texts: list[str] = []
        labels: list[str] = []
        oos: list[str] = []
        for pack in packs:
            for intent in pack.intents:
                texts.extend(intent.examples)
                labels.extend([intent.name] * len(intent.examples))
            oos.extend(pack.out_of_scope)
        return cls.from_examples(
            texts,
            labels,
            oos_texts=oos,
            encoder=encoder,
            cache_dir=cache_dir,
            fit_in_child=fit_in_child,
        )

    @classmethod
    def from_examples(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        oos_texts: Sequence[str] = (),
        *,
        validation: tuple[Sequence[str], Sequence[str]] | None = None,
        encoder: SentenceFeatures | None = None,
        options: ModelOptions | None = None,
        rule: ThresholdRule | None = None,
        folds: int = 4,
        cache_dir: Path | None = None,
        progress: Progress = _no_progress,
        fit_in_child: bool = False,
    ) -> IntentClassifier:
        """Train on labelled utterances (``labels`` may include ``out_of_scope``).

        ``oos_texts`` are extra out-of-scope utterances. ``validation`` is a held-out
        ``(texts, labels)`` pair for the temperature and the threshold; without it they are
        fitted on out-of-fold scores from ``folds``-fold cross-validation. ``rule`` says how
        the threshold is chosen (default: :class:`ThresholdRule`'s accuracy budget).
        ``cache_dir`` keeps the training features (see :func:`encode_cached`).

        The encoder always runs here. With ``fit_in_child`` the fits and the calibration run in
        a child process that imports scikit-learn instead of this one and sends back plain
        arrays, the same bits as a fit here; if it fails,
        :class:`~services.runtime.child.ChildProcessFailed` carries its reason.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("no training examples")
        encoder = encoder or LayerPoolingEncoder()
        options = options or ModelOptions()
        if options.sentence_dimension != encoder.sentence_dimension:
            options = replace(options, sentence_dimension=encoder.sentence_dimension)
        all_texts = list(texts) + list(oos_texts)
        all_labels = list(labels) + [OUT_OF_SCOPE] * len(oos_texts)
        if len({label for label in all_labels if label != OUT_OF_SCOPE}) < 1:
            raise ValueError("need at least one in-scope intent")

        with one_blas_thread():
            return cls._train(
                all_texts,
                all_labels,
                validation,
                encoder,
                options,
                rule or ThresholdRule(),
                folds,
                cache_dir,
                progress,
                fit_in_child,
            )

    @classmethod
    def _train(
        cls,
        all_texts: list[str],
        all_labels: list[str],
        validation: tuple[Sequence[str], Sequence[str]] | None,
        encoder: SentenceFeatures,
        options: ModelOptions,
        rule: ThresholdRule,
        folds: int,
        cache_dir: Path | None,
        progress: Progress,
        fit_in_child: bool,
    ) -> IntentClassifier:
        started = time.perf_counter()
        with ExitStack() as stack:
            # Started first, so that it imports scikit-learn while the examples are encoded here.
            child = (
                stack.enter_context(Child("training the intent classifier", _FIT_IMPORTS))
                if fit_in_child
                else None
            )
            progress(f"encoding {len(all_texts)} training utterances")
            embeddings = encode_cached(encoder, all_texts, cache_dir)
            held_out: _HeldOut | None = None
            if validation is not None:
                val_texts, val_labels = list(validation[0]), list(validation[1])
                progress(f"encoding {len(val_texts)} validation utterances")
                held_out = _HeldOut(val_texts, val_labels, encoder.encode(val_texts))
            calibrated_by = (
                f"{len(held_out.texts)} validation utterances"
                if held_out is not None
                else f"{folds}-fold cross-validation"
            )
            where = "in a child process" if child is not None else "in this process"
            progress(
                f"fitting on {len(all_texts)} utterances, calibrating by {calibrated_by} {where}"
            )
            arguments = (all_texts, all_labels, embeddings, options, rule, folds, held_out)
            if child is not None:
                # The child's memory adds to this process's while it fits: first give back the
                # heap that loading the encoder (and encoding) freed here, which glibc would
                # otherwise keep through the fits (~60 MiB when the embeddings come from the
                # cache), so that the two peaks do not stack.
                release_freed_memory()
                fitted, calibration = child.call(_fit_and_calibrate, *arguments)
            else:
                fitted, calibration = _fit_and_calibrate(*arguments)
        model = LinearIntentModel.from_fitted(fitted, all_labels, embeddings, options)
        logger.info(
            "intent classifier trained on %d utterances, %d intents in %.1fs, fitted %s "
            "(temperature %.3f, threshold %.3f)",
            len(all_texts),
            len(set(all_labels) - {OUT_OF_SCOPE}),
            time.perf_counter() - started,
            where,
            calibration.temperature,
            calibration.threshold,
        )
        return cls(encoder, model, calibration)

    def refit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        options: ModelOptions | None = None,
        cache_dir: Path | None = None,
    ) -> IntentClassifier:
        """The same features, temperature and threshold over a model retrained on ``texts``.

        For a final model on train + validation once validation has chosen everything: the
        calibration stays the one fitted on validation scores of the train-only model.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("no training examples")
        options = replace(
            options or ModelOptions(), sentence_dimension=self.encoder.sentence_dimension
        )
        with one_blas_thread():
            embeddings = encode_cached(self.encoder, list(texts), cache_dir)
            model = LinearIntentModel.fit(list(texts), list(labels), embeddings, options)
        if (OUT_OF_SCOPE in model.labels) != (OUT_OF_SCOPE in self.model.labels):
            # The threshold was fitted with (or without) an out-of-scope class competing.
            raise ValueError(
                "the refit examples must include out-of-scope ones exactly when the "
                "calibrated model's did"
            )
        return IntentClassifier(self.encoder, model, self.calibration, self.clause_confidence)

    def classify(self, text: str, top_k: int = 5) -> Classification:
        """Classify one message; multi-intent messages list every confident intent."""
        with one_blas_thread():
            return self._classify(text, top_k)

    def _classify(self, text: str, top_k: int) -> Classification:
        if not text.strip():
            return _blank()
        probabilities, support = self._score([text])
        return self.conclude(text, probabilities[0], float(support[0]), top_k)

    def conclude(
        self, text: str, probabilities: FloatArray, support: float, top_k: int = 5
    ) -> Classification:
        """What :meth:`classify` answers for ``text`` given its calibrated probabilities and
        support (as :meth:`_score` computes them); its clauses are scored here."""
        clauses = split_clauses(text)
        parts: tuple[tuple[FloatArray, float], ...] = ()
        if len(clauses) >= 2:
            clause_probabilities, clause_support = self._score(clauses)
            parts = tuple(
                (row, float(near))
                for row, near in zip(clause_probabilities, clause_support, strict=True)
            )
        return self._conclude(_Scores((probabilities, support), parts, top_k), None)

    def within(
        self,
        result: Classification,
        intents: Collection[str] | None,
        others: float = 0.0,
        unlikely: Mapping[str, float] | None = None,
    ) -> Classification:
        """``result`` decided again under a prior that favours ``intents`` (None: all alike).

        The other intents' probabilities are weighted by ``others`` (0: ruled out) and the whole
        renormalised: Bayes' rule with prior odds of ``others`` to 1 against each of them (out of
        scope keeps its own). A conversation with a dental office rarely turns to a sportsbook's
        bet: a vague "why was it reduced?" is then no bet, while a message that plainly is one
        still reads as one. ``unlikely`` weighs single intents further by their own odds (a "no"
        when nothing was asked). A result without scores (a blank message) is returned as it is.
        """
        if result.scores is None:
            return result
        weights: FloatArray = (
            np.ones(len(self._labels))
            if intents is None
            else np.where(np.isin(self._labels, list(intents)), 1.0, others)
        ).astype(np.float32)
        for name, odds in (unlikely or {}).items():
            weights[self._labels == name] *= odds
        if self._oos_index >= 0:
            weights[self._oos_index] = 1.0
        return self._conclude(result.scores, weights)

    def _conclude(self, scores: _Scores, weights: FloatArray | None) -> Classification:
        allowed = None if weights is None else weights > 0

        def among(row: FloatArray) -> FloatArray:
            if weights is None:
                return row
            kept: FloatArray = (row * weights).astype(row.dtype)
            total = float(kept.sum())
            return kept / np.float32(total) if total > 0 else kept

        row, support = scores.message
        result = replace(self._decide(among(row), support, scores.top_k, allowed), scores=scores)
        found: list[tuple[str, float]] = []
        parts = [self._decide(among(clause), near, 1, allowed) for clause, near in scores.clauses]
        for part in parts:
            if (
                not part.out_of_scope
                and part.confidence >= self.clause_confidence
                and part.intent not in (name for name, _ in found)
            ):
                found.append((part.intent, part.confidence))
        asking = [index for index, part in enumerate(parts) if not part.out_of_scope]
        if (
            len(found) == 1
            and len(asking) == 1
            and (result.out_of_scope or result.intent == found[0][0])
        ):
            # One request, and the other clauses read as nothing: details that dilute the whole
            # ("rebook me please. booking K4M9TZ, surname Rossi"). The request alone is as sure.
            clause, near = scores.clauses[asking[0]]
            alone = self._decide(among(clause), near, scores.top_k, allowed)
            if result.out_of_scope or alone.confidence > result.confidence:
                return replace(alone, scores=scores)
        if len(found) < 2:
            return result
        names = [name for name, _ in found]
        if result.intent in names:
            return replace(result, out_of_scope=False, intents=names)
        # The whole message read as something else (or as nothing): the clauses are clearer.
        primary, confidence = max(found, key=lambda item: item[1])
        return Classification(primary, confidence, result.candidates, False, names, scores)

    def classify_batch(self, texts: Sequence[str], top_k: int = 5) -> list[Classification]:
        """Classify many messages at once (no multi-intent split): for evaluation and tools."""
        if not texts:
            return []
        with one_blas_thread():
            probabilities, support = self._score(texts)
        return [
            _blank() if not text.strip() else self._decide(row, float(near), top_k)
            for text, row, near in zip(texts, probabilities, support, strict=True)
        ]

    def _score(self, texts: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        if len(texts) == 1:
            embeddings = self.encoder.encode_one(texts[0])[None, :]
        else:
            embeddings = self.encoder.encode(texts)
        probabilities = softmax(self.model.logits(texts, embeddings), self.calibration.temperature)
        return probabilities, self.model.support(embeddings)

    def decide(self, probabilities: FloatArray, support: float, top_k: int = 5) -> Classification:
        """One reading of a message from its calibrated probabilities and support: the best
        intent, or out of scope under this classifier's threshold (no clauses)."""
        return self._decide(probabilities, support, top_k)

    def _decide(
        self,
        probabilities: FloatArray,
        support: float,
        top_k: int,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> Classification:
        indices = self._in_scope if allowed is None else self._in_scope[allowed[self._in_scope]]
        if not len(indices):
            return Classification(OUT_OF_SCOPE, 1.0, [], True, [])
        in_scope = probabilities[indices]
        k = max(1, min(top_k, len(in_scope)))
        order = np.argsort(-in_scope, kind="stable")[:k]
        candidates = [(str(self._labels[indices[i]]), float(in_scope[i])) for i in order]
        best_name, best_p = candidates[0]
        oos_p = float(probabilities[self._oos_index]) if self._oos_index >= 0 else 0.0
        evidence = best_p - oos_p + SUPPORT_WEIGHT * support
        if oos_p > best_p or evidence < self.calibration.threshold:
            # P(out of scope) is the out-of-scope class's mass, but a message none of the
            # intents claims is out of scope even when that class is small.
            confidence = max(oos_p, 1.0 - best_p)
            return Classification(OUT_OF_SCOPE, confidence, candidates, True, [])
        return Classification(best_name, best_p, candidates, False, [best_name])


@dataclass(frozen=True)
class _HeldOut:
    """Validation utterances, their labels and their features."""

    texts: list[str]
    labels: list[str]
    embeddings: FloatArray


def _fit_and_calibrate(
    texts: list[str],
    labels: list[str],
    embeddings: FloatArray,
    options: ModelOptions,
    rule: ThresholdRule,
    folds: int,
    held_out: _HeldOut | None,
) -> tuple[FittedLinear, Calibration]:
    """The model on every example, and its calibration on ``held_out`` or else out-of-fold
    scores. Only plain data in and out: it may run in a child process."""
    with one_blas_thread():
        fitted = fit_linear(texts, labels, embeddings, options)
        if held_out is not None:
            model = LinearIntentModel.from_fitted(fitted, labels, embeddings, options)
            held_logits = model.logits(held_out.texts, held_out.embeddings)
            held_support = model.support(held_out.embeddings)
            held_labels = held_out.labels
            held_model_labels = model.labels
        else:
            held_logits, held_support, held_labels, held_model_labels = _out_of_fold(
                texts, labels, embeddings, options, folds
            )
        calibration = _calibrate(held_logits, held_support, held_labels, held_model_labels, rule)
    return fitted, calibration


def _out_of_fold(
    texts: list[str],
    labels: list[str],
    embeddings: FloatArray,
    options: ModelOptions,
    folds: int,
) -> tuple[FloatArray, FloatArray, list[str], list[str]]:
    from sklearn.model_selection import StratifiedKFold

    classes = sorted(set(labels))
    smallest = min(labels.count(name) for name in classes)
    folds = max(2, min(folds, smallest))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    logits = np.zeros((len(texts), len(classes)), dtype=np.float32)
    support = np.zeros(len(texts), dtype=np.float32)
    for train_idx, held_idx in splitter.split(texts, labels):
        fold = LinearIntentModel.fit(
            [texts[i] for i in train_idx],
            [labels[i] for i in train_idx],
            embeddings[train_idx],
            options,
        )
        scores = fold.logits([texts[i] for i in held_idx], embeddings[held_idx])
        columns = [classes.index(name) for name in fold.labels]
        # A class missing from a fold's training part gets a score no softmax will pick.
        block = np.full((len(held_idx), len(classes)), -1e4, dtype=np.float32)
        block[:, columns] = scores
        logits[held_idx] = block
        support[held_idx] = fold.support(embeddings[held_idx])
    return logits, support, labels, classes


def read_batch(
    probabilities: FloatArray, support: FloatArray, model_labels: Sequence[str]
) -> tuple[npt.NDArray[np.str_], FloatArray, npt.NDArray[np.bool_]]:
    """Each row's best in-scope intent, its in-scope evidence (what the threshold is set on)
    and whether the out-of-scope class won outright, for calibrating on many messages."""
    oos_column = list(model_labels).index(OUT_OF_SCOPE) if OUT_OF_SCOPE in model_labels else -1
    in_scope = np.array([i for i in range(len(model_labels)) if i != oos_column])
    in_p = probabilities[:, in_scope]
    top = in_p.max(axis=1)
    names = np.array(model_labels)[in_scope][in_p.argmax(axis=1)]
    won = probabilities[:, oos_column] > top if oos_column >= 0 else np.zeros(len(top), dtype=bool)
    oos_p = probabilities[:, oos_column] if oos_column >= 0 else np.zeros(len(top))
    evidence: FloatArray = top - oos_p + SUPPORT_WEIGHT * support
    return names, evidence, won


def _calibrate(
    logits: FloatArray,
    support: FloatArray,
    labels: Sequence[str],
    model_labels: Sequence[str],
    rule: ThresholdRule,
) -> Calibration:
    index = {name: i for i, name in enumerate(model_labels)}
    known = [i for i, label in enumerate(labels) if label in index]
    targets: npt.NDArray[np.int64] = np.array([index[labels[i]] for i in known], dtype=np.int64)
    temperature = fit_temperature(logits[known], targets) if known else 1.0
    names, evidence, won = read_batch(softmax(logits, temperature), support, model_labels)
    truth = np.array(labels)
    point = choose_threshold(
        evidence,
        won,
        names == truth,
        truth == OUT_OF_SCOPE,
        budget=rule.budget,
        min_oos_recall=rule.min_oos_recall,
    )
    return Calibration(temperature, point.threshold, point.in_scope_accuracy, point.oos_recall)
