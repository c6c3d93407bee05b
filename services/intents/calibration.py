"""Temperature scaling and the out-of-scope threshold, both fitted on held-out scores.

Temperature scaling (Guo et al. 2017) divides the logits by one scalar chosen to minimise the
negative log-likelihood on validation data: it keeps the ranking of intents and makes the
top probability mean what it says. The out-of-scope threshold is then chosen on the same
calibrated probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# The threshold may cost at most this much in-scope accuracy (absolute) on validation, relative
# to accepting every in-scope prediction; within that budget it maximises out-of-scope recall.
ACCURACY_BUDGET = 0.01


@dataclass(frozen=True)
class ThresholdRule:
    """How the out-of-scope threshold is chosen on held-out scores.

    With ``min_oos_recall`` unset: the highest out-of-scope recall that costs at most
    ``budget`` in-scope accuracy. With it set: the highest in-scope accuracy whose
    out-of-scope recall is at least ``min_oos_recall`` (the highest recall if none reaches it).
    """

    budget: float = ACCURACY_BUDGET
    min_oos_recall: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.budget <= 1.0:
            raise ValueError(f"budget must be within [0, 1], got {self.budget}")
        if self.min_oos_recall is not None and not 0.0 <= self.min_oos_recall <= 1.0:
            raise ValueError(f"min_oos_recall must be within [0, 1], got {self.min_oos_recall}")


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    out: FloatArray = z.astype(np.float32)
    return out


def fit_temperature(logits: FloatArray, targets: npt.NDArray[np.int64]) -> float:
    """The temperature in [0.05, 20] minimising validation NLL (golden-section on log T)."""

    def nll(log_t: float) -> float:
        z = logits.astype(np.float64) / math.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(targets)), targets]))

    lo, hi = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    in_scope_accuracy: float
    oos_recall: float


def choose_threshold(
    in_scope_score: Sequence[float] | FloatArray,
    predicted_oos: Sequence[bool] | npt.NDArray[np.bool_],
    correct: Sequence[bool] | npt.NDArray[np.bool_],
    is_oos: Sequence[bool] | npt.NDArray[np.bool_],
    budget: float = ACCURACY_BUDGET,
    min_oos_recall: float | None = None,
) -> OperatingPoint:
    """Pick the threshold on the in-scope score below which a message is out of scope.

    ``in_scope_score`` is each validation message's in-scope evidence, ``predicted_oos``
    whether the out-of-scope class already won, ``correct`` whether the best in-scope intent is
    the right one, ``is_oos`` the truth. ``budget`` and ``min_oos_recall`` are the
    :class:`ThresholdRule`. With no out-of-scope messages nothing is rejected (the threshold
    is minus infinity).
    """
    top = np.asarray(in_scope_score, dtype=np.float64)
    won = np.asarray(predicted_oos, dtype=bool)
    right = np.asarray(correct, dtype=bool)
    oos = np.asarray(is_oos, dtype=bool)
    inside = ~oos

    def point(threshold: float) -> OperatingPoint:
        rejected = won | (top < threshold)
        accuracy = float((right & ~rejected)[inside].mean()) if inside.any() else 0.0
        recall = float(rejected[oos].mean()) if oos.any() else 0.0
        return OperatingPoint(threshold, accuracy, recall)

    base = point(-math.inf)
    if not oos.any():
        return base
    candidates = [base] + [point(float(t)) for t in np.unique(np.round(top, 4))]
    if min_oos_recall is not None:
        feasible = [c for c in candidates if c.oos_recall >= min_oos_recall]
        if feasible:
            # Highest accuracy; among ties the lowest threshold (the first one met).
            return max(feasible, key=lambda c: (c.in_scope_accuracy, -c.threshold))
        return max(candidates, key=lambda c: (c.oos_recall, c.in_scope_accuracy))
    best = base
    for candidate in candidates[1:]:
        if candidate.in_scope_accuracy < base.in_scope_accuracy - budget:
            continue
        if candidate.oos_recall > best.oos_recall or (
            candidate.oos_recall == best.oos_recall
            and candidate.in_scope_accuracy > best.in_scope_accuracy
        ):
            best = candidate
    return best
