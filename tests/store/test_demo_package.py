"""The demo package the repository carries: it verifies, says what it is, and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.inference.predictor import predict_exam
from service.store.loader import load_package
from service.synth import PREVALENCE, render_case, sample_case, sample_plans

STORE = Path(__file__).resolve().parents[2] / "model_store"


def test_demo_package_verifies_and_is_labelled_for_demonstration() -> None:
    package = load_package(STORE, "acl", "2")
    manifest = package.manifest
    assert manifest.weights.dtype == "float16"
    assert "synthetic" in manifest.intended_use and "not for clinical use" in manifest.intended_use
    assert manifest.training.source == "trained"
    assert manifest.training.command.startswith("mrnet train")
    assert (manifest.training.model_extra or {})["data_command"].startswith("mrnet synth")
    assert manifest.tasks[0].metrics.auc is not None and manifest.tasks[0].metrics.auc >= 0.95
    # the project's bar: fused attention hit rate >= 0.80 on its synthetic validation split
    assert (manifest.tasks[0].metrics.model_extra or {})["attention_hit_rate"] >= 0.80
    assert manifest.training.model_extra["fusion_fitted_on"].startswith(  # type: ignore[index]
        "train logits, out-of-fold"
    )
    assert 0.0 < manifest.tasks[0].threshold.value < 1.0


@pytest.mark.slow
def test_demo_package_scores_a_synthetic_exam_on_the_256_path() -> None:
    package = load_package(STORE, "acl", "2")
    plan = sample_plans(1, PREVALENCE["valid"], np.random.default_rng(5))[0]
    case = render_case(sample_case(0, plan, 5))
    prediction = predict_exam(package, case.volumes)
    assert 0.0 <= prediction.probability <= 1.0
    for plane, volume in case.volumes.items():
        scored = prediction.planes[plane]
        assert volume.shape[1:] == (256, 256) and scored.num_slices == volume.shape[0]
        assert len(scored.attribution.attention) == volume.shape[0]
        assert sum(scored.attribution.attention) == pytest.approx(1.0) or not any(
            scored.attribution.attention
        )
    assert prediction.warnings == []
