"""Scoring the detector on the Presidio synthetic PII set (presidio-research ``synth_dataset_v2``).

The method follows ``presidio_evaluator.evaluation.SpanEvaluator`` with its defaults, which
produced the published baselines:

* texts are split into tokens (here: runs of word characters, and single punctuation marks;
  upstream uses spaCy, so token boundaries can differ slightly);
* gold and predicted spans become token labels; consecutive labelled tokens form a span, and
  spans separated only by "skip words" (punctuation, stop words, "street", "apt", "suite", ...)
  are merged;
* a span's extent is measured from its first to its last non-skip token, and a prediction
  matches a gold span when their character-level IoU is at least 0.9;
* the overall score ignores entity types ("is it PII"): every labelled span is PII; the
  per-type scores map the dataset's labels to ours (:func:`ours`) and match within a type;
  the dataset's TITLE holds honorifics ("Mr.") and job titles ("Local transit bus driver"):
  an honorific counts as PERSON (our person spans include it), a job title as OCCUPATION, a
  quasi-identifier, so a job title is neither a person in the per-type table nor in scope;
* F-beta with beta = 2.

Also reported: exact-span precision/recall/F1 (type ignored, same merged spans, boundaries must
agree exactly), an "in scope" score restricted on both sides to the direct identifiers the
service masks by default (quasi-identifiers such as LOCATION, ORGANIZATION or DATE are detected
but masked only when configured), and the detector's latency per text.

The split is deterministic and by template: a sample is in ``validation`` when the SHA-256 of
its ``template_id`` falls in the lowest 30 of 100 buckets, else in ``test``. Splitting by template
keeps one sentence pattern from appearing on both sides (the dataset README recommends it).
Rules and word lists were developed looking at ``validation`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import string
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from services.pii import entities as et
from services.pii import wordlists
from services.pii.detector import Detector
from services.pii.entities import Entity

Split = Literal["test", "validation", "all"]
VALIDATION_PERCENT = 30
IOU_THRESHOLD = 0.9
BETA = 2.0

# The dataset's labels and ours. TITLE covers honorifics and job titles: an honorific maps to
# PERSON because our PERSON spans include it ("Ms. Jones"), a job title to OCCUPATION
# (:func:`ours`); GPE (countries, cities) is our LOCATION.
DATASET_TO_OURS: dict[str, str] = {
    "PERSON": et.PERSON,
    "TITLE": et.PERSON,
    "STREET_ADDRESS": et.ADDRESS,
    "ZIP_CODE": et.ADDRESS,
    "CREDIT_CARD": et.CARD,
    "IBAN_CODE": et.IBAN,
    "US_SSN": et.SSN,
    "EMAIL_ADDRESS": et.EMAIL,
    "PHONE_NUMBER": et.PHONE,
    "US_DRIVER_LICENSE": et.DRIVER_LICENSE,
    "IP_ADDRESS": et.IP_ADDRESS,
    "GPE": et.LOCATION,
    "NRP": et.NATIONALITY,
    "AGE": et.AGE,
    "DATE_TIME": et.DATE,
    "ORGANIZATION": et.ORGANIZATION,
    "DOMAIN_NAME": et.URL,
}

# presidio_evaluator.evaluation.skipwords, without spaCy's list of English stop words, for which
# a short list of the commonest ones stands in.
_SKIP_WORDS: frozenset[str] = frozenset(
    [*string.punctuation, "'s", ">>", ">>>"]
    + """
    street st st. de rue via and a the or do as of day address country state city zip po apt unit
    corner p.o. box suite mr. mrs. miss year years y/o month months old morning noon afternoon
    night evening this first last week weeks weekend days age ago inc inc. ltd mr mrs
    i me my we our you your he him his she her it its they them their what which who whom this
    that these those am is are was were be been being have has had having does did doing an but
    if because until while at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so
    than too very can will just should now
    """.split()
)
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def ours(label: str, value: str) -> str:
    """Our type for a gold span: the dataset's label mapped, a job title (a TITLE that is not
    an honorific: "Local transit bus driver", "the Packager") to OCCUPATION.

    A job title is said of a person but names nobody, and many people share one: it is a
    quasi-identifier like a place, masked only when configured. Counted as PERSON it would
    make a "name" of it, in the per-type scores and in scope alike.
    """
    if label == "TITLE" and value.strip(" .").lower() not in wordlists.TITLES:
        return et.OCCUPATION
    return DATASET_TO_OURS.get(label, label)


@dataclass(frozen=True)
class Sample:
    """One labelled text."""

    index: int
    text: str
    template_id: int
    spans: tuple[tuple[str, int, int], ...]  # (dataset label, start, end)


def load_samples(path: Path) -> list[Sample]:
    """The dataset's samples, in file order."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Sample(
            index=i,
            text=item["full_text"],
            template_id=int(item["template_id"]),
            spans=tuple(
                (s["entity_type"], int(s["start_position"]), int(s["end_position"]))
                for s in item["spans"]
            ),
        )
        for i, item in enumerate(raw)
    ]


def split_of(sample: Sample) -> Literal["test", "validation"]:
    """The sample's side of the held-out split, decided by its template."""
    digest = hashlib.sha256(f"presidio-synth-v2/template/{sample.template_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "validation" if bucket < VALIDATION_PERCENT else "test"


def select(samples: Iterable[Sample], split: Split) -> list[Sample]:
    return [s for s in samples if split == "all" or split_of(s) == split]


@dataclass(frozen=True)
class _Span:
    label: str
    start: int  # raw extent, first to last labelled token
    end: int
    norm_start: int  # extent without skip words at either end
    norm_end: int


def _spans(text: str, labelled: Sequence[tuple[str, int, int]]) -> list[_Span]:
    """Token-level spans as SpanEvaluator builds them: label runs, merged across skip words."""
    tokens = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    labels: list[str | None] = []
    for start, end in tokens:
        label = next((lab for lab, s, e in labelled if s < end and start < e), None)
        labels.append(label)
    runs: list[tuple[str, int, int]] = []  # (label, first token, last token)
    for i, label in enumerate(labels):
        if label is None:
            continue
        if runs and runs[-1][0] == label and runs[-1][2] == i - 1:
            runs[-1] = (label, runs[-1][1], i)
        else:
            runs.append((label, i, i))

    def skip(i: int) -> bool:
        start, end = tokens[i]
        return text[start:end].lower() in _SKIP_WORDS

    merged: list[tuple[str, int, int]] = []
    for run in runs:
        if merged and merged[-1][0] == run[0]:
            between = range(merged[-1][2] + 1, run[1])
            if all(skip(i) for i in between):
                merged[-1] = (run[0], merged[-1][1], run[2])
                continue
        merged.append(run)
    spans: list[_Span] = []
    for label, first, last in merged:
        kept = [i for i in range(first, last + 1) if not skip(i)]
        if not kept:
            continue
        spans.append(
            _Span(label, tokens[first][0], tokens[last][1], tokens[kept[0]][0], tokens[kept[-1]][1])
        )
    return spans


def _iou(a: _Span, b: _Span) -> float:
    inter = min(a.norm_end, b.norm_end) - max(a.norm_start, b.norm_start)
    if inter <= 0:
        return 0.0
    union = max(a.norm_end, b.norm_end) - min(a.norm_start, b.norm_start)
    return inter / union


def _match(gold: Sequence[_Span], predicted: Sequence[_Span]) -> int:
    """How many gold spans a distinct prediction matches, pairing the best IoUs first."""
    pairs = sorted(
        ((_iou(g, p), gi, pi) for gi, g in enumerate(gold) for pi, p in enumerate(predicted)),
        reverse=True,
    )
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    for score, gi, pi in pairs:
        if score < IOU_THRESHOLD:
            break
        if gi in used_gold or pi in used_pred:
            continue
        used_gold.add(gi)
        used_pred.add(pi)
    return len(used_gold)


@dataclass
class Counts:
    """Tallies behind precision and recall."""

    true_positives: int = 0  # matched pairs: each gold span and prediction is used once
    predicted: int = 0
    annotated: int = 0

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.annotated if self.annotated else 0.0

    def scores(self) -> dict[str, float]:
        """Precision, recall and F2."""
        f2 = f_beta(self.precision, self.recall, BETA)
        return {"precision": self.precision, "recall": self.recall, "f2": f2}


def f_beta(precision: float, recall: float, beta: float) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


@dataclass
class Report:
    """The scores of one evaluation run."""

    split: str
    samples: int
    overall: Counts = field(default_factory=Counts)
    in_scope: Counts = field(default_factory=Counts)
    exact: Counts = field(default_factory=Counts)
    per_entity: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    latencies_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        exact = self.exact
        latencies = sorted(self.latencies_ms) or [0.0]
        return {
            "split": self.split,
            "samples": self.samples,
            "iou_threshold": IOU_THRESHOLD,
            **self.overall.scores(),
            "annotated": self.overall.annotated,
            "predicted": self.overall.predicted,
            "exact_f1": f_beta(exact.precision, exact.recall, 1.0),
            "exact_precision": exact.precision,
            "exact_recall": exact.recall,
            "in_scope": {**self.in_scope.scores(), "annotated": self.in_scope.annotated},
            "per_entity": {
                label: {
                    **counts.scores(),
                    "annotated": counts.annotated,
                    "predicted": counts.predicted,
                }
                for label, counts in sorted(self.per_entity.items())
            },
            "latency_ms": {
                "p50": statistics.median(latencies),
                "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                "mean": statistics.fmean(latencies),
            },
        }


def _count(
    counts: Counts,
    gold: Sequence[_Span],
    predicted: Sequence[_Span],
    *,
    exact: bool = False,
) -> None:
    if exact:
        hits = len({(g.start, g.end) for g in gold} & {(p.start, p.end) for p in predicted})
    else:
        hits = _match(gold, predicted)
    counts.true_positives += hits
    counts.annotated += len(gold)
    counts.predicted += len(predicted)


def evaluate(
    detector: Detector,
    samples: Sequence[Sample],
    split: str,
    clock: Callable[[], float] = time.perf_counter,
    *,
    context: bool = True,
) -> Report:
    """Run the detector over ``samples`` and score it (``context``: see ``Detector.detect``)."""
    report = Report(split=split, samples=len(samples))
    for sample in samples:
        started = clock()
        found: list[Entity] = detector.detect(sample.text, context=context)
        report.latencies_ms.append((clock() - started) * 1000)
        score_sample(report, sample, found)
    return report


def score_sample(report: Report, sample: Sample, found: Sequence[Entity]) -> None:
    """Add one sample's gold spans and the detector's entities to ``report``."""
    text = sample.text
    pii_gold = _spans(text, [("PII", s, e) for _, s, e in sample.spans])
    pii_pred = _spans(text, [("PII", e.start, e.end) for e in found])
    _count(report.overall, pii_gold, pii_pred)
    _count(report.exact, pii_gold, pii_pred, exact=True)
    # In scope: what the service masks by default (direct identifiers), on both sides.
    scoped_gold = [
        ("PII", s, e)
        for label, s, e in sample.spans
        if ours(label, text[s:e]) in et.DIRECT_IDENTIFIERS
    ]
    scoped_pred = [("PII", e.start, e.end) for e in found if e.type in et.DIRECT_IDENTIFIERS]
    _count(report.in_scope, _spans(text, scoped_gold), _spans(text, scoped_pred))

    typed_gold = _spans(text, [(ours(lab, text[s:e]), s, e) for lab, s, e in sample.spans])
    typed_pred = _spans(text, [(e.type, e.start, e.end) for e in found])
    for label in {span.label for span in (*typed_gold, *typed_pred)}:
        _count(
            report.per_entity[label],
            [g for g in typed_gold if g.label == label],
            [p for p in typed_pred if p.label == label],
        )
