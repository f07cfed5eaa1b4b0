"""Response bodies of the v1 API, with examples for generated clients."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.datasets.layout import Plane
from service.inference.engine import ExamOutcome
from service.inference.predictor import PlanePrediction
from service.store.loader import ModelPackage

RESPONSE_PLANES: tuple[Plane, ...] = ("sagittal", "coronal", "axial")


class PlaneResult(BaseModel):
    probability: float = Field(description="sigmoid of this plane's logit", examples=[0.88])
    logit: float = Field(examples=[2.0])
    num_slices: int = Field(examples=[36])
    attention: list[float] = Field(
        description="one value per slice: the positive slice contributions to the logit, "
        "normalised to sum to 1 (all zeros when none is positive)"
    )
    top_slices: list[int] = Field(description="slices by attention, highest first (up to 3)")


class ModelIdentity(BaseModel):
    task: str
    version: str
    architecture: str
    sha256: str = Field(description="sha256 of the package manifest, which pins every file")


class Timing(BaseModel):
    queue: float = Field(description="milliseconds waiting for the worker")
    inference: float = Field(description="milliseconds of the packed batch's compute")
    total: float = Field(description="milliseconds from request to response")


class PredictionResponse(BaseModel):
    request_id: str
    task: str = Field(examples=["acl"])
    probability: float = Field(description="fused probability of a tear", examples=[0.91])
    positive: bool = Field(description="probability >= threshold")
    threshold: float = Field(examples=[0.5])
    planes: dict[str, PlaneResult]
    model: ModelIdentity
    timing_ms: Timing
    warnings: list[str] = Field(description="what was done to the input, e.g. resizing")


class ModelInfo(BaseModel):
    task: str
    version: str
    architecture: str
    sha256: str
    device: str
    precision: str
    threshold: dict[str, Any]
    metrics: dict[str, Any]
    intended_use: str
    input: dict[str, Any]


class ModelList(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    detail: str | None = None


def _plane(prediction: PlanePrediction) -> PlaneResult:
    result = prediction.attribution
    return PlaneResult(
        probability=prediction.probability,
        logit=prediction.logit,
        num_slices=prediction.num_slices,
        attention=result.attention,
        top_slices=result.top_slices,
    )


def prediction_response(
    outcome: ExamOutcome, package: ModelPackage, request_id: str, total_ms: float
) -> PredictionResponse:
    exam = outcome.prediction
    manifest = package.manifest
    return PredictionResponse(
        request_id=request_id,
        task=manifest.task,
        probability=exam.probability,
        positive=exam.positive,
        threshold=exam.threshold,
        planes={plane: _plane(exam.planes[plane]) for plane in RESPONSE_PLANES},
        model=ModelIdentity(
            task=manifest.task,
            version=manifest.version,
            architecture=manifest.architecture,
            sha256=package.digest,
        ),
        timing_ms=Timing(
            queue=round(outcome.queue_ms, 2),
            inference=round(outcome.inference_ms, 2),
            total=round(total_ms, 2),
        ),
        warnings=exam.warnings,
    )
