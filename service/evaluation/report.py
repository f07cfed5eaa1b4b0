"""Evaluate a package's plane networks and fusions on one split, for each of its tasks.

Each case runs each plane's backbone once; every task on it reads its own row
of the classifier from the same per-slice features (exact attribution per task).

Attention hit rates count positive cases whose top-attention slice lies inside
the slices of the task's finding (`finding_slices` of `<split>-meta.json`:
acl_tear for acl, meniscus_tear for meniscus, any finding for abnormal). For
the fused model the top slice is the one, over all three planes, that adds most
to the fused logit (fusion coefficient times slice contribution: an exact share
of it). `leading_plane_hit_rate` reads instead the top slice of the plane whose
whole term (coefficient times logit) is largest. For acl the older, looser
measure is kept as `ligament_hit_rate`: the top slice inside the slices that cut
the ligament at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from service.datasets.reader import PlaneTruth, SplitReader
from service.domain import PLANES, TASKS, Plane
from service.evaluation.metrics import auc_or_none, bootstrap_auc, rates_at
from service.model.attribution import SliceAttribution, attribute
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec, prepare_volume

# The MRNet leaderboard ranks by the mean AUC of its three tasks.
LEADERBOARD_TASKS: Final = TASKS


@dataclass(frozen=True)
class TaskScorer:
    """One task of a model: its backbone, classifier row, fusion and threshold."""

    task: str
    row: int
    fusion: Fusion
    threshold: float
    backbone: int = 0  # index into Scorer.backbones


Backbone = Mapping[Plane, MRNetPlane]


@dataclass(frozen=True)
class Scorer:
    """What evaluation needs of a model: the networks, their input and each task's head.

    A package trained here has one backbone (three plane networks) for all its
    tasks; an imported one may have one per task. Each backbone runs once a case.
    """

    backbones: Sequence[Backbone]
    spec: InputSpec
    tasks: Sequence[TaskScorer]
    # Per-slice features (S, 256) of backbone 0 by plane and case, where training has them.
    cached: Mapping[Plane, Mapping[str, torch.Tensor]] | None = None


@dataclass(frozen=True)
class PlaneScore:
    logit: float
    attribution: SliceAttribution

    @property
    def num_slices(self) -> int:
        return len(self.attribution.contributions)


@dataclass
class CaseScore:
    case_id: str
    label: int
    planes: dict[Plane, PlaneScore]
    probability: float


def _embeddings(
    scorer: Scorer, backbone: int, reader: SplitReader, case_id: str
) -> dict[Plane, torch.Tensor]:
    out = {}
    cached = scorer.cached if scorer.cached is not None and backbone == 0 else {}
    with torch.inference_mode():
        for plane in PLANES:
            known = cached.get(plane, {})
            if case_id in known:
                out[plane] = known[case_id]
                continue
            network = scorer.backbones[backbone][plane]
            device = next(network.parameters()).device
            prepared = prepare_volume(reader.volume(case_id, plane), scorer.spec)
            out[plane] = network.embed(prepared.slices.to(device))  # (S, 256)
    return out


def score_cases(
    scorer: Scorer, readers: Mapping[str, SplitReader], progress: bool = True
) -> dict[str, list[CaseScore]]:
    """Every case scored for every task of the scorer; `readers` gives each task's labels."""
    first = readers[scorer.tasks[0].task]
    results: dict[str, list[CaseScore]] = {head.task: [] for head in scorer.tasks}
    used = sorted({head.backbone for head in scorer.tasks})
    for case_id in tqdm(first.case_ids, desc=f"evaluate {first.split}", disable=not progress):
        embeddings = {b: _embeddings(scorer, b, first, case_id) for b in used}
        for head in scorer.tasks:
            planes = {}
            for plane in PLANES:
                weight, bias = scorer.backbones[head.backbone][plane].head(head.row)
                found = attribute(embeddings[head.backbone][plane], weight, bias)
                planes[plane] = PlaneScore(found.logit, found)
            probability = head.fusion.probability({p: planes[p].logit for p in PLANES})
            label = readers[head.task].labels[case_id]
            results[head.task].append(CaseScore(case_id, label, planes, probability))
    return results


def _top_slice(score: PlaneScore) -> int | None:
    top = score.attribution.top_slices
    return top[0] if top else None


InRange = Callable[[PlaneTruth, int], bool]


def _hit(reader: SplitReader, case: CaseScore, plane: Plane, inside: InRange) -> bool:
    truth = reader.plane_truth(case.case_id, plane)
    top = _top_slice(case.planes[plane])
    return truth is not None and top is not None and inside(truth, top)


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


def _exam_hit(reader: SplitReader, fusion: Fusion, case: CaseScore, inside: InRange) -> bool:
    plane, index = exam_top_slice(fusion, case)
    truth = reader.plane_truth(case.case_id, plane)
    return truth is not None and inside(truth, index)


def hit_rates(
    reader: SplitReader, fusion: Fusion, cases: list[CaseScore], inside: InRange
) -> dict[str, float] | None:
    """Hit rates per plane, fused and leading plane over positive cases; None without truth."""
    positives = [case for case in cases if case.label == 1]
    if reader.truth is None or not positives:
        return None
    rates: dict[str, float] = {
        plane: float(np.mean([_hit(reader, case, plane, inside) for case in positives]))
        for plane in PLANES
    }
    rates["fused"] = float(np.mean([_exam_hit(reader, fusion, c, inside) for c in positives]))
    leading = [_hit(reader, c, _leading_plane(fusion, c), inside) for c in positives]
    rates["leading_plane"] = float(np.mean(leading))
    return rates


def _finding_range(task: str) -> InRange:
    return lambda truth, index: truth.shows(task, index)


def _ligament_range(truth: PlaneTruth, index: int) -> bool:
    return truth.in_acl(index)


def _has_finding_truth(reader: SplitReader) -> bool:
    truth = reader.truth
    return truth is not None and all(
        plane.has_findings for case in truth.cases.values() for plane in case.planes.values()
    )


def attention_hit_rates(
    reader: SplitReader, fusion: Fusion, cases: list[CaseScore]
) -> dict[str, dict[str, float]]:
    """The finding hit rates ("finding") and, for acl, the ligament ones ("ligament")."""
    rates: dict[str, dict[str, float]] = {}
    if _has_finding_truth(reader):
        found = hit_rates(reader, fusion, cases, _finding_range(reader.task))
        if found is not None:
            rates["finding"] = found
    if reader.task == "acl":
        ligament = hit_rates(reader, fusion, cases, _ligament_range)
        if ligament is not None:
            rates["ligament"] = ligament
    return rates


def _interval(
    labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], rounds: int
) -> list[float] | None:
    interval = bootstrap_auc(labels, scores, rounds) if rounds > 0 else None
    return list(interval) if interval else None


def task_report(
    reader: SplitReader, head: TaskScorer, cases: list[CaseScore], bootstrap_rounds: int
) -> dict[str, Any]:
    """One task's metrics as a JSON-ready dict; AUC intervals from case bootstrap."""
    labels = np.array([c.label for c in cases], dtype=np.int64)
    fused = np.array([c.probability for c in cases], dtype=np.float64)
    point = rates_at(labels, fused, head.threshold)
    hits = attention_hit_rates(reader, head.fusion, cases)
    planes: dict[str, dict[str, Any]] = {}
    for plane in PLANES:
        logits = np.array([c.planes[plane].logit for c in cases], dtype=np.float64)
        planes[plane] = {
            "auc": auc_or_none(labels, logits),
            "auc_ci95": _interval(labels, logits, bootstrap_rounds),
        }
        if "finding" in hits:
            planes[plane]["attention_hit_rate"] = hits["finding"][plane]
        if "ligament" in hits:
            planes[plane]["ligament_hit_rate"] = hits["ligament"][plane]
    report: dict[str, Any] = {
        "task": reader.task,
        "split": reader.split,
        "cases": len(cases),
        "positives": int(labels.sum()),
        "auc": auc_or_none(labels, fused),
        "auc_ci95": _interval(labels, fused, bootstrap_rounds),
        "threshold": head.threshold,
        "sensitivity": point.sensitivity,
        "specificity": point.specificity,
        "planes": planes,
    }
    if "finding" in hits:
        report["attention_hit_rate"] = hits["finding"]["fused"]
        report["leading_plane_hit_rate"] = hits["finding"]["leading_plane"]
    if "ligament" in hits:
        report["ligament_hit_rate"] = hits["ligament"]["fused"]
        report["ligament_leading_plane_hit_rate"] = hits["ligament"]["leading_plane"]
    return report


def leaderboard_auc(tasks: Mapping[str, Mapping[str, Any]]) -> float | None:
    """MRNet's leaderboard figure: the mean fused AUC of abnormal, acl and meniscus."""
    aucs = [tasks[task]["auc"] if task in tasks else None for task in LEADERBOARD_TASKS]
    known = [float(a) for a in aucs if a is not None]
    return float(np.mean(known)) if len(known) == len(aucs) else None


def evaluate(
    scorer: Scorer,
    readers: Mapping[str, SplitReader],
    progress: bool = True,
    bootstrap_rounds: int = 1000,
) -> dict[str, Any]:
    """Every task's report under "tasks", and the leaderboard's mean AUC where it applies."""
    scored = score_cases(scorer, readers, progress)
    tasks = {
        head.task: task_report(readers[head.task], head, scored[head.task], bootstrap_rounds)
        for head in scorer.tasks
    }
    first = readers[scorer.tasks[0].task]
    return {
        "split": first.split,
        "cases": len(first.case_ids),
        "tasks": tasks,
        "mrnet_mean_auc": leaderboard_auc(tasks),
        "scores": {
            task: [
                {"case": c.case_id, "label": c.label, "probability": c.probability}
                | {f"{p}_logit": c.planes[p].logit for p in PLANES}
                for c in cases
            ]
            for task, cases in scored.items()
        },
    }
