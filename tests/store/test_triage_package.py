"""The three-task demo package triage/4, held to the project's bars from its manifest.

Bars (issue 11), on the package's own synthetic validation split as `mrnet
evaluate` measured it when the package was written: fused AUC abnormal >= 0.90,
acl >= 0.95, meniscus >= 0.90; attention hit rate (top slice of the plane on
the finding's slices, over positive cases) >= 0.70 in every plane for acl and
meniscus, and >= 0.85 for the leading plane.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.datasets.reader import SplitReader
from service.domain import PLANES
from service.evaluation.report import Scorer, TaskScorer, evaluate
from service.store.loader import load_package
from service.store.manifest import Manifest
from service.synth import generate_dataset

STORE = Path(__file__).resolve().parents[2] / "model_store"
NAME, VERSION = "triage", "4"
AUC_BARS = {"abnormal": 0.90, "acl": 0.95, "meniscus": 0.90}
PLANE_HIT_BAR, LEADING_HIT_BAR = 0.70, 0.85
ATTENTION_TASKS = ("acl", "meniscus")
# Bars the package misses (measured; see docs/model-card.md), each checked to be missed
# by exactly the measured value and reported as an expected failure. triage/4 meets all.
MISSED: dict[str, str] = {}


def _manifest() -> Manifest:
    return load_package(STORE, NAME, VERSION).manifest


def _metrics(task: str) -> dict[str, Any]:
    return _manifest().head(task).metrics.model_dump()


def _bar(key: str, value: float | None, bar: float) -> None:
    assert value is not None
    if key in MISSED:
        # still missed, by the measured amount: a better package must update this table
        assert value < bar and MISSED[key].startswith(f"{value:.3f}"), key
        pytest.xfail(f"bar missed: {key} {MISSED[key]}")
    assert value >= bar, f"{key}: {value} < {bar}"


def test_demo_package_verifies_and_says_what_it_is() -> None:
    package = load_package(STORE, NAME, VERSION)
    manifest = package.manifest
    assert manifest.task_names == ("abnormal", "acl", "meniscus")
    assert len(package.backbones) == 1  # one shared backbone per plane
    assert all(net.num_tasks == 3 for net in package.planes.values())
    assert manifest.weights.dtype == "float16"
    assert "synthetic" in manifest.intended_use and "not for clinical use" in manifest.intended_use
    training = manifest.training
    extra = training.model_extra or {}
    assert training.source == "trained" and training.command.startswith("mrnet train")
    assert (
        extra["data_command"].startswith("mrnet synth") and "--seed 2026" in extra["data_command"]
    )
    assert training.seed == 0 and extra["tasks"] == ["abnormal", "acl", "meniscus"]
    assert extra["fusion_fitted_on"].startswith("train logits, out-of-fold")
    for plane in PLANES:
        # trained in stages: the last fits the heads, the earlier ones (each record inside
        # the next) pretrain on slices
        stage, epochs = extra["planes"][plane], 0
        while stage is not None:
            epochs += stage["config"]["pretrain_epochs"]
            stage = stage.get("started_from")
        assert epochs >= 8, plane
        assert set(extra["planes"][plane]["head_c"]) == {"abnormal", "acl", "meniscus"}
    for head in manifest.tasks:
        assert head.threshold.split == "valid" and 0.0 < head.threshold.value < 1.0
        assert head.metrics.cases == 100 and head.metrics.split == "valid"
    for plane, file in manifest.weights.backbones[0].planes.items():
        size = (STORE / NAME / VERSION / file.file).stat().st_size
        assert 2e6 < size < 8e6, plane  # a few MB per plane in float16


@pytest.mark.parametrize("task", list(AUC_BARS))
def test_fused_auc_meets_the_bar(task: str) -> None:
    _bar(f"{task} auc", _metrics(task)["auc"], AUC_BARS[task])


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("task", ATTENTION_TASKS)
def test_attention_hits_the_finding_in_every_plane(task: str, plane: str) -> None:
    rate = _metrics(task)["planes"][plane]["attention_hit_rate"]
    _bar(f"{task} {plane} hit rate", rate, PLANE_HIT_BAR)


@pytest.mark.parametrize("task", ATTENTION_TASKS)
def test_attention_of_the_leading_plane_hits_the_finding(task: str) -> None:
    _bar(
        f"{task} leading plane hit rate", _metrics(task)["leading_plane_hit_rate"], LEADING_HIT_BAR
    )


@pytest.mark.slow
def test_demo_package_scores_synthetic_exams_as_its_manifest_says(tmp_path: Path) -> None:
    """A few exams of a fresh synthetic set (another seed): every task is scored."""
    generate_dataset(tmp_path, 3, 3, seed=5, workers=1, progress=False)
    package = load_package(STORE, NAME, VERSION)
    manifest = package.manifest
    heads = [
        TaskScorer(h.task, i, h.fusion, h.threshold.value) for i, h in enumerate(manifest.tasks)
    ]
    readers = {h.task: SplitReader(tmp_path, "valid", h.task) for h in heads}
    report = evaluate(Scorer([package.planes], manifest.input, heads), readers, False, 0)
    for task, rows in report["scores"].items():
        assert len(rows) == 3 and all(0.0 <= r["probability"] <= 1.0 for r in rows), task
        logits = np.array([[r[f"{p}_logit"] for p in PLANES] for r in rows])
        assert np.isfinite(logits).all()
