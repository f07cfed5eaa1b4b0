"""Evaluate plane networks and their fusion on one split: AUC, operating point, attention.

The attention hit rate is the share of positive cases whose top-attention slice
lies inside the slice range that cuts the ACL (from `<split>-meta.json`). For
the fused model the top slice is the one, over all three planes, that adds most
to the fused logit (fusion coefficient times slice contribution: an exact share
of it). `leading_plane_hit_rate` reads instead the top slice of the plane whose
whole term (coefficient times logit) is largest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from service.datasets.reader import SplitReader
from service.domain import PLANES, Plane
from service.evaluation.metrics import auc_or_none, bootstrap_auc, rates_at
from service.inference.predictor import PlanePrediction, score_plane
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec


@dataclass(frozen=True)
class Scorer:
    """What evaluation needs of a model: the networks, their input and the fusion."""

    planes: Mapping[Plane, MRNetPlane]
    spec: InputSpec
    fusion: Fusion
    threshold: float


@dataclass
class CaseScore:
    case_id: str
    label: int
    planes: dict[Plane, PlanePrediction]
    probability: float


def score_cases(scorer: Scorer, reader: SplitReader, progress: bool = True) -> list[CaseScore]:
    results = []
    for case_id in tqdm(reader.case_ids, desc=f"evaluate {reader.split}", disable=not progress):
        planes = {
            plane: score_plane(
                scorer.planes[plane], scorer.spec, reader.volume(case_id, plane), plane
            )[0]
            for plane in PLANES
        }
        probability = scorer.fusion.probability({p: planes[p].logit for p in PLANES})
        results.append(CaseScore(case_id, reader.labels[case_id], planes, probability))
    return results


def _top_slice(prediction: PlanePrediction) -> int | None:
    top = prediction.attribution.top_slices
    return top[0] if top else None


def _hit(reader: SplitReader, case: CaseScore, plane: Plane) -> bool:
    truth = reader.plane_truth(case.case_id, plane)
    top = _top_slice(case.planes[plane])
    return truth is not None and top is not None and truth.in_acl(top)


def _leading_plane(fusion: Fusion, case: CaseScore) -> Plane:
    return max(PLANES, key=lambda p: fusion.coefficients[p] * case.planes[p].logit)


def exam_top_slice(fusion: Fusion, case: CaseScore) -> tuple[Plane, int]:
    """The slice that adds most to the fused logit, over all planes.

    The fused logit is intercept + sum_p c_p (b_p + sum_s contribution[p][s]), so
    c_p * contribution[p][s] is the exact share of slice s of plane p.
    """
    return max(
        ((p, s) for p in PLANES for s in range(case.planes[p].num_slices)),
        key=lambda ps: (
            fusion.coefficients[ps[0]] * case.planes[ps[0]].attribution.contributions[ps[1]]
        ),
    )


def _exam_hit(reader: SplitReader, fusion: Fusion, case: CaseScore) -> bool:
    plane, index = exam_top_slice(fusion, case)
    truth = reader.plane_truth(case.case_id, plane)
    return truth is not None and truth.in_acl(index)


def attention_hit_rates(
    reader: SplitReader, scorer: Scorer, cases: list[CaseScore]
) -> dict[str, float] | None:
    """Hit rates per plane and fused over positive cases, or None without ground truth."""
    positives = [case for case in cases if case.label == 1]
    if reader.truth is None or not positives:
        return None
    rates: dict[str, float] = {
        plane: float(np.mean([_hit(reader, case, plane) for case in positives])) for plane in PLANES
    }
    rates["fused"] = float(np.mean([_exam_hit(reader, scorer.fusion, c) for c in positives]))
    leading = [_hit(reader, c, _leading_plane(scorer.fusion, c)) for c in positives]
    rates["leading_plane"] = float(np.mean(leading))
    return rates


def _interval(
    labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], rounds: int
) -> list[float] | None:
    interval = bootstrap_auc(labels, scores, rounds) if rounds > 0 else None
    return list(interval) if interval else None


def evaluate(
    scorer: Scorer, reader: SplitReader, progress: bool = True, bootstrap_rounds: int = 1000
) -> dict[str, Any]:
    """The evaluation report as a JSON-ready dict; AUC intervals from case bootstrap."""
    cases = score_cases(scorer, reader, progress)
    labels = np.array([c.label for c in cases], dtype=np.int64)
    fused = np.array([c.probability for c in cases], dtype=np.float64)
    point = rates_at(labels, fused, scorer.threshold)
    hits = attention_hit_rates(reader, scorer, cases)
    planes: dict[str, dict[str, Any]] = {}
    for plane in PLANES:
        logits = np.array([c.planes[plane].logit for c in cases], dtype=np.float64)
        planes[plane] = {
            "auc": auc_or_none(labels, logits),
            "auc_ci95": _interval(labels, logits, bootstrap_rounds),
        }
        if hits is not None:
            planes[plane]["attention_hit_rate"] = hits[plane]
    report: dict[str, Any] = {
        "task": reader.task,
        "split": reader.split,
        "cases": len(cases),
        "positives": int(labels.sum()),
        "auc": auc_or_none(labels, fused),
        "auc_ci95": _interval(labels, fused, bootstrap_rounds),
        "threshold": scorer.threshold,
        "sensitivity": point.sensitivity,
        "specificity": point.specificity,
        "planes": planes,
    }
    if hits is not None:
        report["attention_hit_rate"] = hits["fused"]
        report["leading_plane_hit_rate"] = hits["leading_plane"]
    return report
