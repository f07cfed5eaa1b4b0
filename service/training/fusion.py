"""The logistic-regression fusion fit, shared by training and checkpoint import."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from service.domain import PLANES
from service.model.fusion import Fusion


def fit_logistic_fusion(logits: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]) -> Fusion:
    """Regress the label on the plane logits (N, 3) in PLANES order, as MRNet does."""
    model = LogisticRegression(C=1.0, max_iter=1000).fit(logits, labels)
    coefficients = dict(zip(PLANES, (float(c) for c in model.coef_[0]), strict=True))
    return Fusion(coefficients=coefficients, intercept=float(model.intercept_[0]))
