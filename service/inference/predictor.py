"""Score one exam with a model package, unbatched: the reference path.

preprocess (as the package's InputSpec says) -> per-slice features -> max over
slices, logit and exact attribution per task head -> logistic fusion of the
three planes per task. Each backbone runs once per plane for all its tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

from service.domain import PLANES, Plane
from service.errors import InvalidVolumeError
from service.model.attribution import SliceAttribution, attribute_heads
from service.model.fusion import sigmoid
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec, prepare_volume
from service.store.loader import ModelPackage


@dataclass(frozen=True)
class PlanePrediction:
    logit: float
    probability: float
    num_slices: int
    attribution: SliceAttribution

    @classmethod
    def of(cls, result: SliceAttribution, num_slices: int) -> PlanePrediction:
        """A plane's prediction from its attribution: the logit and its probability."""
        return cls(result.logit, sigmoid(result.logit), num_slices, result)


@dataclass(frozen=True)
class ExamPrediction:
    """One task's answer for an exam."""

    task: str
    probability: float
    positive: bool
    threshold: float
    planes: dict[Plane, PlanePrediction]
    warnings: list[str] = field(default_factory=list)


def score_plane(
    network: MRNetPlane,
    spec: InputSpec,
    volume: npt.NDArray[np.generic],
    plane: Plane,
    row: int = 0,
) -> tuple[PlanePrediction, list[str]]:
    """One plane's logit and attribution for classifier row `row`, and warnings naming the plane."""
    predictions, warnings = score_plane_heads(network, spec, volume, plane, [row])
    return predictions[0], warnings


def score_plane_heads(
    network: MRNetPlane,
    spec: InputSpec,
    volume: npt.NDArray[np.generic],
    plane: Plane,
    rows: Sequence[int],
) -> tuple[list[PlanePrediction], list[str]]:
    """The backbone once over the volume, then one prediction per classifier row in `rows`."""
    try:
        prepared = prepare_volume(volume, spec)
    except ValueError as error:
        raise InvalidVolumeError(plane, str(error)) from error
    device = next(network.parameters()).device
    with torch.inference_mode():
        embeddings = network.embed(prepared.slices.to(device))  # (S, 256)
        weight, bias = network.classifier.weight, network.classifier.bias  # (T, 256), (T,)
        results = attribute_heads(embeddings, weight[list(rows)], bias[list(rows)])
    predictions = [PlanePrediction.of(r, prepared.original_shape[0]) for r in results]
    return predictions, [f"The {plane} volume {warning}." for warning in prepared.warnings]


def predict_tasks(
    package: ModelPackage,
    volumes: Mapping[Plane, npt.NDArray[np.generic]],
    tasks: Sequence[str] | None = None,
) -> dict[str, ExamPrediction]:
    """Every task asked (default: all of the package's), each backbone run once per plane."""
    wanted = list(tasks) if tasks is not None else list(package.manifest.task_names)
    unknown = [task for task in wanted if task not in package.manifest.task_names]
    if unknown:
        raise KeyError(unknown[0])
    planes: dict[str, dict[Plane, PlanePrediction]] = {task: {} for task in wanted}
    warnings: list[str] = []
    for backbone in package.backbones:
        mine = [task for task in wanted if task in backbone.tasks]
        if not mine:
            continue
        rows = [backbone.tasks.index(task) for task in mine]
        for plane in PLANES:
            network, spec = backbone.planes[plane], package.manifest.input
            results, notes = score_plane_heads(network, spec, volumes[plane], plane, rows)
            warnings.extend(note for note in notes if note not in warnings)
            for task, result in zip(mine, results, strict=True):
                planes[task][plane] = result
    return {task: fuse(package, task, planes[task], warnings) for task in wanted}


def predict_exam(
    package: ModelPackage,
    volumes: Mapping[Plane, npt.NDArray[np.generic]],
    task: str | None = None,
) -> ExamPrediction:
    """One task's fused probability, decision at its threshold, and every plane.

    The task defaults to the package's first.
    """
    chosen = task if task is not None else package.manifest.task_names[0]
    return predict_tasks(package, volumes, [chosen])[chosen]


def fuse(
    package: ModelPackage, task: str, planes: dict[Plane, PlanePrediction], warnings: list[str]
) -> ExamPrediction:
    """The task's probability from its plane logits, and the decision at its threshold."""
    head = package.manifest.head(task)
    probability = head.fusion.probability({p: planes[p].logit for p in PLANES})
    threshold = head.threshold.value
    return ExamPrediction(
        task, probability, probability >= threshold, threshold, planes, list(warnings)
    )
