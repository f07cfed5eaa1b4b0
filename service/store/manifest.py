"""The model package manifest: everything needed to rebuild and judge a model.

`model_store/<task>/<version>/manifest.json` beside one safetensors file per
plane. The manifest is data, validated here; no code travels with a package.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.domain import PLANES, Plane
from service.model.fusion import Fusion
from service.model.preprocess import InputSpec

SCHEMA_VERSION: Final = 1
ARCHITECTURE: Final = "mrnet-alexnet"
MANIFEST_NAME: Final = "manifest.json"

TASK_PATTERN: Final = r"^[a-z][a-z0-9_-]{0,31}$"
VERSION_PATTERN: Final = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"
_SHA256 = r"^[0-9a-f]{64}$"


def is_task_name(value: str) -> bool:
    return re.fullmatch(TASK_PATTERN, value) is not None


def is_version(value: str) -> bool:
    return re.fullmatch(VERSION_PATTERN, value) is not None


def version_key(version: str) -> tuple[int, ...]:
    """Versions sort numerically: "2" < "10", "1.2" < "1.10"."""
    return tuple(int(part) for part in version.split("."))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeightsFile(_Strict):
    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.safetensors$")
    sha256: str = Field(pattern=_SHA256)


class Weights(_Strict):
    format: Literal["safetensors"] = "safetensors"
    dtype: Literal["float16", "float32"]
    planes: dict[Plane, WeightsFile]

    @field_validator("planes")
    @classmethod
    def _every_plane(cls, planes: dict[Plane, WeightsFile]) -> dict[Plane, WeightsFile]:
        missing = [plane for plane in PLANES if plane not in planes]
        if missing:
            raise ValueError(f"no weights file for {', '.join(missing)}")
        return planes


class Threshold(_Strict):
    """The operating point: positive when probability >= value."""

    value: float = Field(ge=0.0, le=1.0)
    method: str = Field(description="how the value was chosen")
    split: str | None = Field(None, description="the split it was chosen on")
    sensitivity: float | None = Field(None, ge=0.0, le=1.0)
    specificity: float | None = Field(None, ge=0.0, le=1.0)


class PlaneMetrics(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    auc: float | None = None


class Metrics(BaseModel):
    """Validation metrics; extra keys (intervals, hit rates) are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    split: str | None = None
    cases: int | None = None
    auc: float | None = None
    planes: dict[Plane, PlaneMetrics] = Field(default_factory=dict)


class Training(BaseModel):
    """Where the weights came from: trained here (with the command) or imported."""

    model_config = ConfigDict(extra="allow", frozen=True)

    source: Literal["trained", "imported", "test"]
    command: str
    data: str | None = None
    seed: int | None = None
    epochs: int | None = None
    stages: list[str] = Field(default_factory=list)


class PackageDraft(_Strict):
    """A manifest without what the writer decides (version, weights, schema)."""

    task: str = Field(pattern=TASK_PATTERN)
    input: InputSpec = InputSpec()
    fusion: Fusion
    threshold: Threshold
    metrics: Metrics = Field(default_factory=Metrics)
    training: Training
    intended_use: str = Field(min_length=1)


class Manifest(PackageDraft):
    schema_version: Literal[1]
    version: str = Field(pattern=VERSION_PATTERN)
    architecture: Literal["mrnet-alexnet"]
    created_at: str
    weights: Weights

    def describe(self) -> dict[str, Any]:
        """The summary a client sees in /v1/models."""
        return {
            "task": self.task,
            "version": self.version,
            "architecture": self.architecture,
            "threshold": self.threshold.model_dump(),
            "metrics": self.metrics.model_dump(),
            "intended_use": self.intended_use,
        }
