"""Training the sequence tagger on labelled samples (the validation split of the Presidio set).

Gold spans become token labels in BIO form with our entity types (the dataset's labels mapped by
:data:`services.pii.evaluation.DATASET_TO_OURS`); an honorific labelled TITLE right before a
PERSON continues that person ("Dr." "Kyle Kuefer" is one PERSON). The rule detector's own
output for each text is a feature, so the rules run first, exactly as at detection time.

Training is deterministic: the same samples, rules and parameters give the same model bytes.
The word classes the tagger reads (:func:`build_word_classes`) come from k-means with a fixed
seed over MiniLM's input embeddings, also the same bytes on every run.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pycrfsuite
from safetensors import safe_open
from sklearn.cluster import KMeans

from services.pii.config import DATA_DIR
from services.pii.context import (
    FloatArray,
    ReadOut,
    WordEncoder,
    context_path,
    facts,
    shared_encoder,
)
from services.pii.detector import Detector
from services.pii.evaluation import DATASET_TO_OURS, Report, Sample, score_sample
from services.pii.tagger import (
    OUTSIDE,
    TITLE,
    Token,
    features,
    minilm_file,
    piece_ids,
    rule_labels,
    tokenize,
)

DEFAULT_C1 = 0.05
DEFAULT_C2 = 0.01
DEFAULT_ITERATIONS = 150
DEFAULT_CONTEXT_C = 1.0
DEFAULT_CONTEXT_INT8 = True
#: BANKING77's training questions: customer-service text with (almost) no personal data
DEFAULT_BACKGROUND = DATA_DIR / "banking77" / "train.csv"
DEFAULT_BACKGROUND_COUNT = 500
#: how many generated texts (services/pii/synthetic.py) join the validation samples in training
DEFAULT_SYNTHETIC = 500
#: how many word classes (with the other features, cross-validation preferred 32 to 64 and 128)
WORD_CLASSES = 32
_EMBEDDINGS = "embeddings.word_embeddings.weight"


def build_word_classes(
    count: int = WORD_CLASSES, seed: int = 0, weights: Path | None = None
) -> npt.NDArray[np.uint16]:
    """The class of each WordPiece: k-means over MiniLM's static input embeddings.

    The classic Brown-cluster trick for CRF taggers, with the encoder's first layer for
    distributions: pieces used alike (given names, surnames, towns, company-like stems) land
    in one class, so a name never seen in training shares a feature with the ones that were.
    Vectors are length-normalised (cosine k-means); one initialisation with a fixed seed, so
    the result is the same on every run.
    """
    path = weights or minilm_file("model.safetensors")
    with safe_open(str(path), "np") as handle:
        vectors = np.asarray(handle.get_tensor(_EMBEDDINGS), dtype=np.float32)
    if vectors.shape[0] != len(piece_ids()):
        raise ValueError(f"{path}: {vectors.shape[0]} embeddings for {len(piece_ids())} pieces")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kmeans = KMeans(n_clusters=count, n_init=1, max_iter=30, random_state=seed).fit(vectors)
    return np.asarray(kmeans.labels_, dtype=np.uint16)


def save_word_classes(classes: npt.NDArray[np.uint16], path: Path) -> None:
    """Write the classes as a ``.npy`` file (no timestamps: the same classes, the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.save(handle, classes, allow_pickle=False)


@dataclass(frozen=True)
class TrainingParameters:
    """Elastic-net weights of the CRF (c1: L1, c2: L2) and the L-BFGS iteration cap."""

    c1: float = DEFAULT_C1
    c2: float = DEFAULT_C2
    max_iterations: int = DEFAULT_ITERATIONS
    #: keep only features seen at least this many times
    min_feature_count: int = 1
    #: inverse L2 weight of the contextual read-out (:mod:`services.pii.context`); None: no
    #: contextual features
    context_c: float | None = DEFAULT_CONTEXT_C
    #: also train on every sequence without the contextual features, so the tagger may run
    #: without them (long texts, tool results)
    context_optional: bool = True
    #: read the contextual encoder with int8 weight products (about twice as fast)
    context_int8: bool = DEFAULT_CONTEXT_INT8


def _label(dataset_label: str) -> str:
    # Job titles and honorifics (TITLE) read unlike names, so the tagger learns them apart; it
    # reports an honorific as part of the PERSON after it and a job title as OCCUPATION, as the
    # evaluation maps them.
    return TITLE if dataset_label == "TITLE" else DATASET_TO_OURS.get(dataset_label, dataset_label)


def gold_labels(sample: Sample, tokens: Sequence[Token]) -> list[str]:
    """Each token's BIO label from the sample's gold spans, in our entity types."""
    spans = sorted((start, end, _label(label)) for label, start, end in sample.spans)
    labels: list[str] = []
    previous: tuple[int, int, str] | None = None
    for token in tokens:
        span = next((s for s in spans if s[0] < token.end and token.start < s[1]), None)
        if span is None:
            labels.append(OUTSIDE)
        elif previous is not None and (previous == span or previous[2] == span[2]):
            # A span that continues, or one of the same type right after (TITLE then PERSON).
            labels.append(f"I-{span[2]}")
        else:
            labels.append(f"B-{span[2]}")
        previous = span
    return labels


Sequence_ = tuple[list[list[str]], list[str]]
#: the contextual facts of each token of a text, by text
ContextFacts = Mapping[str, Sequence[Sequence[str]]]


def sequences(
    samples: Sequence[Sample], rules: Detector, context: ContextFacts | None = None
) -> list[Sequence_]:
    """(features, labels) for each sample; ``rules`` is a detector without a tagger."""
    out: list[Sequence_] = []
    for sample in samples:
        tokens = tokenize(sample.text)
        if not tokens:
            continue
        found = rules.rule_entities(sample.text)
        facts = None if context is None else context[sample.text]
        xseq = features(sample.text, tokens, rule_labels(tokens, found), facts)
        out.append((xseq, gold_labels(sample, tokens)))
    return out


def background_sequences(
    texts: Sequence[str], rules: Detector, context: ContextFacts | None = None
) -> list[Sequence_]:
    """(features, labels) for unlabelled customer-service texts, labelled by the rules alone.

    The Presidio set has personal data in almost every sentence, written by templates; real
    turns mostly have none ("I have 84,000 miles, Gold tier"). These texts teach the tagger
    that a plain request adds nothing to what the rules find (what they find, e.g. a country,
    stays labelled, so the tagger does not learn to unsee it).
    """
    out: list[Sequence_] = []
    for text in texts:
        tokens = tokenize(text)
        if not tokens:
            continue
        labels = rule_labels(tokens, rules.rule_entities(text))
        facts = None if context is None else context[text]
        out.append((features(text, tokens, labels, facts), labels))
    return out


def load_background(path: Path, count: int) -> list[str]:
    """``count`` texts spread evenly over a CSV file's ``text`` column, in file order."""
    if count <= 0:
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    step = max(1, len(texts) // count)
    return texts[::step][:count]


@dataclass(frozen=True)
class TrainedTagger:
    """A CRF model's bytes and, when it reads contextual features, its read-out."""

    crf: bytes
    read_out: ReadOut | None

    def save(self, path: Path) -> None:
        """Write the model to ``path`` and its read-out beside it (or remove a stale one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.crf)
        side = context_path(path)
        if self.read_out is not None:
            side.write_bytes(self.read_out.to_bytes())
        else:
            side.unlink(missing_ok=True)


class _WordVectors:
    """Texts' word vectors (computed once per text) and word types for the read-out."""

    def __init__(self, encoder: WordEncoder, rules: Detector) -> None:
        self._encoder = encoder
        self._rules = rules
        self._cache: dict[str, FloatArray] = {}

    def vectors(self, text: str) -> FloatArray:
        if text not in self._cache:
            tokens = tokenize(text)
            self._cache[text] = self._encoder.vectors(text, [(t.start, t.end) for t in tokens])
        return self._cache[text]

    def fit(
        self,
        samples: Sequence[Sample],
        background: Sequence[str],
        c: float,
        optional: bool = False,
    ) -> ReadOut | None:
        """A read-out of the samples' gold types and the background texts' rule types (None if
        they hold one type only: there is nothing to tell apart)."""
        labels: list[str] = []
        for sample in samples:
            labels += _types(gold_labels(sample, tokenize(sample.text)))
        for text in background:
            tokens = tokenize(text)
            labels += _types(rule_labels(tokens, self._rules.rule_entities(text)))
        if len(set(labels)) < 2:
            return None
        texts = [s.text for s in samples] + list(background)
        vectors = np.concatenate([self.vectors(text) for text in texts])
        return ReadOut.fit(vectors, labels, c, self._encoder.layer, optional, self._encoder.int8)

    def facts(self, read_out: ReadOut, text: str) -> list[list[str]]:
        return facts(read_out.probabilities(self.vectors(text)), read_out.classes)


def _types(labels: Sequence[str]) -> list[str]:
    """BIO labels without their B-/I- prefix: the read-out learns types, not boundaries."""
    return [label[2:] if label != OUTSIDE else OUTSIDE for label in labels]


#: the inner folds that give the training samples' contextual facts
CONTEXT_FOLDS = 4
_CONTEXT_SEED = 100


def train(
    samples: Sequence[Sample],
    rules: Detector,
    parameters: TrainingParameters = TrainingParameters(),
    background: Sequence[str] = (),
    *,
    word_vectors: _WordVectors | None = None,
) -> TrainedTagger:
    """A CRF model trained on ``samples`` and ``background`` texts, with its read-out.

    The read-out is fitted on the samples' gold types and the background's rule types. The
    CRF must learn how far to trust it on sentences it has not seen, so each training sample's
    contextual facts come from a read-out fitted without the sample's template (inner
    cross-validation by template); the background's come from the final read-out.
    """
    samples = [s for s in samples if tokenize(s.text)]
    background = [t for t in background if tokenize(t)]
    if not samples and not background:
        raise ValueError("no samples to train on")
    read_out: ReadOut | None = None
    context: dict[str, list[list[str]]] | None = None
    if parameters.context_c is not None:
        vectors = word_vectors or _WordVectors(shared_encoder(int8=parameters.context_int8), rules)
        read_out = vectors.fit(
            samples, background, parameters.context_c, parameters.context_optional
        )
        if read_out is None:
            raise ValueError("the contextual read-out needs labels of at least two types")
        context = {text: vectors.facts(read_out, text) for text in background}
        for fold in range(CONTEXT_FOLDS):
            inner = [s for s in samples if fold_of(s, CONTEXT_FOLDS, _CONTEXT_SEED) == fold]
            rest = [s for s in samples if fold_of(s, CONTEXT_FOLDS, _CONTEXT_SEED) != fold]
            if not inner:
                continue
            # A fold whose other templates hold one type only (tiny sets) uses the full read-out.
            fold_read_out = vectors.fit(rest, background, parameters.context_c) or read_out
            for sample in inner:
                context[sample.text] = vectors.facts(fold_read_out, sample.text)
    data = sequences(samples, rules, context) + background_sequences(background, rules, context)
    if context is not None and parameters.context_optional:
        data += sequences(samples, rules) + background_sequences(background, rules)
    trainer = pycrfsuite.Trainer(verbose=False)
    for xseq, yseq in data:
        trainer.append(xseq, yseq)
    trainer.set_params(
        {
            "c1": parameters.c1,
            "c2": parameters.c2,
            "max_iterations": parameters.max_iterations,
            "feature.minfreq": parameters.min_feature_count,
            "feature.possible_transitions": True,
        }
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tagger.crfsuite"
        trainer.train(str(path))
        return TrainedTagger(path.read_bytes(), read_out)


def fold_of(sample: Sample, folds: int, seed: int) -> int:
    """The cross-validation fold of a sample, decided by its template (as the split is)."""
    digest = hashlib.sha256(f"pii-tagger-cv/{seed}/{sample.template_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def cross_validate(
    samples: Sequence[Sample],
    rules: Detector,
    parameters: TrainingParameters = TrainingParameters(),
    background: Sequence[str] = (),
    *,
    folds: int = 5,
    seed: int = 0,
    extra: Sequence[Sample] = (),
) -> Report:
    """Score the rules + tagger on ``samples`` with models that never saw a sample's template.

    Each fold's model is trained on the other folds (and the background texts and the
    ``extra`` samples, which are never scored); every sample is scored once, by the model that
    did not train on its template.
    """
    report = Report(split=f"{folds}-fold cross-validation by template", samples=len(samples))
    vectors = (
        None
        if parameters.context_c is None
        else _WordVectors(shared_encoder(int8=parameters.context_int8), rules)
    )
    with tempfile.TemporaryDirectory() as directory:
        for fold in range(folds):
            held_out = [s for s in samples if fold_of(s, folds, seed) == fold]
            trained_on = [s for s in samples if fold_of(s, folds, seed) != fold]
            if not held_out or not trained_on:
                continue
            path = Path(directory) / f"fold-{fold}.crfsuite"
            train([*trained_on, *extra], rules, parameters, background, word_vectors=vectors).save(
                path
            )
            detector = dataclasses.replace(rules, tagger_model=path)
            for sample in held_out:
                started = time.perf_counter()
                found = detector.detect(sample.text)
                report.latencies_ms.append((time.perf_counter() - started) * 1000)
                score_sample(report, sample, found)
    return report
