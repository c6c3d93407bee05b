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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pycrfsuite
from safetensors import safe_open
from sklearn.cluster import KMeans

from services.pii.config import DATA_DIR
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
#: BANKING77's training questions: customer-service text with (almost) no personal data
DEFAULT_BACKGROUND = DATA_DIR / "banking77" / "train.csv"
DEFAULT_BACKGROUND_COUNT = 500
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


def _label(dataset_label: str) -> str:
    # Job titles and honorifics (TITLE) read unlike names, so the tagger learns them apart;
    # it reports them as PERSON, as the evaluation maps them.
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


def sequences(samples: Sequence[Sample], rules: Detector) -> list[Sequence_]:
    """(features, labels) for each sample; ``rules`` is a detector without a tagger."""
    out: list[Sequence_] = []
    for sample in samples:
        tokens = tokenize(sample.text)
        if not tokens:
            continue
        found = rules.rule_entities(sample.text)
        xseq = features(sample.text, tokens, rule_labels(tokens, found))
        out.append((xseq, gold_labels(sample, tokens)))
    return out


def background_sequences(texts: Sequence[str], rules: Detector) -> list[Sequence_]:
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
        out.append((features(text, tokens, labels), labels))
    return out


def load_background(path: Path, count: int) -> list[str]:
    """``count`` texts spread evenly over a CSV file's ``text`` column, in file order."""
    if count <= 0:
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def train(
    samples: Sequence[Sample],
    rules: Detector,
    parameters: TrainingParameters = TrainingParameters(),
    background: Sequence[str] = (),
) -> bytes:
    """A CRF model (its file's bytes) trained on ``samples`` and ``background`` texts."""
    data = sequences(samples, rules) + background_sequences(background, rules)
    if not data:
        raise ValueError("no samples to train on")
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
        return path.read_bytes()


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
) -> Report:
    """Score the rules + tagger on ``samples`` with models that never saw a sample's template.

    Each fold's model is trained on the other folds (and the background texts); every sample
    is scored once, by the model that did not train on its template.
    """
    report = Report(split=f"{folds}-fold cross-validation by template", samples=len(samples))
    with tempfile.TemporaryDirectory() as directory:
        for fold in range(folds):
            held_out = [s for s in samples if fold_of(s, folds, seed) == fold]
            trained_on = [s for s in samples if fold_of(s, folds, seed) != fold]
            if not held_out or not trained_on:
                continue
            path = Path(directory) / f"fold-{fold}.crfsuite"
            path.write_bytes(train(trained_on, rules, parameters, background))
            detector = dataclasses.replace(rules, tagger_model=path)
            for sample in held_out:
                started = time.perf_counter()
                found = detector.detect(sample.text)
                report.latencies_ms.append((time.perf_counter() - started) * 1000)
                score_sample(report, sample, found)
    return report
