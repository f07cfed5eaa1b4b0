"""Score one exam with a model package, unbatched: the reference path.

preprocess (as the package's InputSpec says) -> per-slice features -> max over
slices, logit and exact attribution -> logistic fusion of the three planes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

from service.domain import PLANES, Plane
from service.errors import InvalidVolumeError
from service.model.attribution import SliceAttribution, attribute
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


@dataclass(frozen=True)
class ExamPrediction:
    probability: float
    positive: bool
    threshold: float
    planes: dict[Plane, PlanePrediction]
    warnings: list[str] = field(default_factory=list)


def score_plane(
    network: MRNetPlane, spec: InputSpec, volume: npt.NDArray[np.generic], plane: Plane
) -> tuple[PlanePrediction, list[str]]:
    """One plane's logit and attribution, and warnings naming the plane."""
    try:
        prepared = prepare_volume(volume, spec)
    except ValueError as error:
        raise InvalidVolumeError(plane, str(error)) from error
    device = next(network.parameters()).device
    with torch.inference_mode():
        embeddings = network.embed(prepared.slices.to(device))  # (S, 256)
        result = attribute(embeddings, network.classifier.weight, network.classifier.bias)
    prediction = PlanePrediction(
        logit=result.logit,
        probability=sigmoid(result.logit),
        num_slices=prepared.original_shape[0],
        attribution=result,
    )
    return prediction, [f"The {plane} volume {warning}." for warning in prepared.warnings]


def predict_exam(
    package: ModelPackage, volumes: Mapping[Plane, npt.NDArray[np.generic]]
) -> ExamPrediction:
    """The fused probability, the decision at the package's threshold, and every plane."""
    planes: dict[Plane, PlanePrediction] = {}
    warnings: list[str] = []
    for plane in PLANES:
        planes[plane], notes = score_plane(
            package.planes[plane], package.manifest.input, volumes[plane], plane
        )
        warnings.extend(notes)
    return fuse(package, planes, warnings)


def fuse(
    package: ModelPackage, planes: dict[Plane, PlanePrediction], warnings: list[str]
) -> ExamPrediction:
    """The exam's probability from its plane logits, and the decision at the threshold."""
    head = package.manifest.tasks[0]
    probability = head.fusion.probability({p: planes[p].logit for p in PLANES})
    threshold = head.threshold.value
    return ExamPrediction(probability, probability >= threshold, threshold, planes, warnings)
