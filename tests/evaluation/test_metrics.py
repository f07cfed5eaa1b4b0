from __future__ import annotations

import numpy as np
import pytest

from service.evaluation.metrics import auc_or_none, bootstrap_auc, choose_threshold, rates_at

LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.05])


def test_auc_of_a_known_ranking() -> None:
    # 16 positive-negative pairs; the positive scoring 0.3 loses to 0.6 only.
    assert auc_or_none(LABELS, SCORES) == pytest.approx(15 / 16)
    assert auc_or_none(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_rates_at_a_threshold() -> None:
    point = rates_at(LABELS, SCORES, 0.65)
    assert (point.sensitivity, point.specificity) == (0.75, 1.0)
    point = rates_at(LABELS, SCORES, 0.7)  # >= counts as positive
    assert point.sensitivity == 0.75


@pytest.mark.parametrize(
    ("min_sensitivity", "threshold", "sensitivity", "specificity"),
    # halfway between the last score called positive and the next one down
    [(0.75, 0.65, 0.75, 1.0), (0.9, 0.25, 1.0, 0.75), (0.5, 0.75, 0.5, 1.0)],
)
def test_threshold_is_the_best_specificity_at_the_sensitivity(
    min_sensitivity: float, threshold: float, sensitivity: float, specificity: float
) -> None:
    point = choose_threshold(LABELS, SCORES, min_sensitivity)
    assert point.threshold == pytest.approx(threshold)
    assert (point.sensitivity, point.specificity) == (sensitivity, specificity)


def test_threshold_without_both_classes_is_one_half() -> None:
    assert choose_threshold(np.array([0, 0]), np.array([0.1, 0.7]), 0.9).threshold == 0.5


def test_bootstrap_interval_brackets_the_auc() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.8 + rng.normal(0, 0.5, 200)
    interval = bootstrap_auc(labels, scores, rounds=300)
    assert interval is not None
    low, high = interval
    assert low < float(auc_or_none(labels, scores) or 0) < high
    assert 0.5 < low < high < 1.0
