"""Out-of-fold train logits: what the fusion is fitted on."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from service.training.stages import cross_validated_logits


def test_out_of_fold_logits_do_not_overfit_noise() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 30, dtype=np.int64)
    features = torch.from_numpy(rng.normal(size=(60, 256)))  # no signal at all
    logits = cross_validated_logits(features, labels, seed=0)
    assert logits is not None and logits.shape == (60,)
    # a head fitted on all 60 exams separates noise perfectly; held-out ones cannot
    assert roc_auc_score(labels, logits) < 0.75


def test_out_of_fold_logits_keep_a_real_signal() -> None:
    rng = np.random.default_rng(1)
    labels = np.array([0, 0, 1] * 20, dtype=np.int64)
    features = rng.normal(size=(60, 16))
    features[:, 7] += 3.0 * labels
    logits = cross_validated_logits(torch.from_numpy(features), labels, seed=0)
    assert logits is not None
    assert roc_auc_score(labels, logits) > 0.95


def test_too_few_exams_of_a_class_give_none() -> None:
    labels = np.array([0, 0, 0, 1], dtype=np.int64)
    assert cross_validated_logits(torch.zeros(4, 256), labels, seed=0) is None
