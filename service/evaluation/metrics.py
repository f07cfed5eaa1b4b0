"""Classification metrics on scikit-learn's ROC code: AUC, operating points, intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score, roc_curve

Labels = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]


def auc_or_none(labels: Labels, scores: Scores) -> float | None:
    """ROC AUC, or None where one class is absent and it is undefined."""
    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float  # positive when score >= threshold
    sensitivity: float | None
    specificity: float | None


def rates_at(labels: Labels, scores: Scores, threshold: float) -> OperatingPoint:
    """Sensitivity and specificity when `scores >= threshold` is called positive."""
    called = scores >= threshold
    positives, negatives = labels == 1, labels == 0
    sensitivity = float(called[positives].mean()) if positives.any() else None
    specificity = float((~called[negatives]).mean()) if negatives.any() else None
    return OperatingPoint(threshold, sensitivity, specificity)


def choose_threshold(labels: Labels, scores: Scores, min_sensitivity: float) -> OperatingPoint:
    """The highest specificity with sensitivity >= `min_sensitivity` (ties: higher threshold).

    Scores are probabilities; where one class is absent, 0.5 is returned.
    """
    if len(np.unique(labels)) < 2:
        return rates_at(labels, scores, 0.5)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    eligible = np.flatnonzero(tpr >= min_sensitivity)  # ascending thresholds down the curve
    best = eligible[np.argmin(fpr[eligible])]  # first index: the highest such threshold
    cut = float(min(thresholds[best], 1.0))
    below = scores[scores < cut]
    # Halfway to the next lower score: the same calls on this data, with a margin
    # so that rounding elsewhere does not move a case across the line.
    threshold = (cut + float(below.max())) / 2 if below.size else cut
    return rates_at(labels, scores, threshold)


def bootstrap_auc(
    labels: Labels, scores: Scores, rounds: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """A 95% percentile bootstrap interval of the AUC, resampling cases."""
    if len(np.unique(labels)) < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        sample = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[sample])) == 2:
            values.append(roc_auc_score(labels[sample], scores[sample]))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
