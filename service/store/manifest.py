"""The model package manifest: everything needed to rebuild and judge a model.

`model_store/<name>/<version>/manifest.json` beside one safetensors file per
plane. The manifest is data, validated here; no code travels with a package.

A package carries one or more tasks. Each task has its own fusion, threshold
and metrics (`tasks`), and its head lives on one backbone (`weights.backbones`):
three plane networks whose `classifier` is a `Linear(256, T)`, row t the head
of the backbone's t-th task. A package trained here has one backbone shared by
all its tasks; an import of one network per task has one backbone per task.
Schema 1 manifests (one task, named by the folder, fields at the top level) are
read as one-task packages.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.domain import PLANES, Plane
from service.model.fusion import Fusion
from service.model.preprocess import InputSpec

SCHEMA_VERSION: Final = 2
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


class Backbone(_Strict):
    """Three plane networks and the tasks whose heads they carry (classifier row order)."""

    tasks: list[str] = Field(min_length=1, max_length=16)
    planes: dict[Plane, WeightsFile]

    @field_validator("planes")
    @classmethod
    def _every_plane(cls, planes: dict[Plane, WeightsFile]) -> dict[Plane, WeightsFile]:
        missing = [plane for plane in PLANES if plane not in planes]
        if missing:
            raise ValueError(f"no weights file for {', '.join(missing)}")
        return planes


class Weights(_Strict):
    """Usually one backbone shared by every task; an import of one network per task has several."""

    format: Literal["safetensors"] = "safetensors"
    dtype: Literal["float16", "float32"]
    backbones: list[Backbone] = Field(min_length=1, max_length=16)


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


class TaskHead(_Strict):
    """One task of a package: its row of every plane's classifier, fusion and operating point."""

    task: str = Field(pattern=TASK_PATTERN)
    fusion: Fusion
    threshold: Threshold
    metrics: Metrics = Field(default_factory=Metrics)


class PackageDraft(_Strict):
    """A manifest without what the writer decides (version, weights, schema)."""

    name: str = Field(pattern=TASK_PATTERN, description="the package's folder in the store")
    input: InputSpec = InputSpec()
    tasks: list[TaskHead] = Field(min_length=1, max_length=16)
    training: Training
    intended_use: str = Field(min_length=1)

    @field_validator("tasks")
    @classmethod
    def _distinct(cls, tasks: list[TaskHead]) -> list[TaskHead]:
        names = [head.task for head in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"a task appears twice in {names}")
        return tasks

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(head.task for head in self.tasks)

    def head(self, task: str) -> TaskHead:
        """The fusion, threshold and metrics of `task`; KeyError when not carried."""
        for head in self.tasks:
            if head.task == task:
                return head
        raise KeyError(task)


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema 1 manifest (one task, at the top level) in the schema 2 shape."""
    data = dict(data)
    head = {key: data.pop(key) for key in ("task", "fusion", "threshold", "metrics") if key in data}
    data["name"] = head.get("task")
    data["tasks"] = [head]
    weights = data.get("weights")
    if isinstance(weights, dict) and "planes" in weights:
        weights = {k: v for k, v in weights.items() if k != "planes"}
        weights["backbones"] = [{"tasks": [head.get("task")], "planes": data["weights"]["planes"]}]
        data["weights"] = weights
    return data


class Manifest(PackageDraft):
    schema_version: Literal[1, 2] = Field(description="1: a one-task manifest, read as such")
    version: str = Field(pattern=VERSION_PATTERN)
    architecture: Literal["mrnet-alexnet"]
    created_at: str
    weights: Weights

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema_version") == 1 and "tasks" not in data:
            return _from_schema_1(data)
        return data

    @model_validator(mode="after")
    def _each_task_on_one_backbone(self) -> Manifest:
        carried = [task for backbone in self.weights.backbones for task in backbone.tasks]
        if sorted(carried) != sorted(self.task_names):
            raise ValueError(
                f"the backbones carry {carried}, but the package's tasks are "
                f"{list(self.task_names)}: each task must be on exactly one backbone"
            )
        return self

    def locate(self, task: str) -> tuple[int, int]:
        """(backbone, classifier row) of `task`; KeyError when the package does not carry it."""
        for index, backbone in enumerate(self.weights.backbones):
            if task in backbone.tasks:
                return index, backbone.tasks.index(task)
        raise KeyError(task)

    def describe(self) -> dict[str, Any]:
        """The summary a client sees in /v1/models."""
        first = self.tasks[0]
        return {
            "task": first.task,  # the package's first task, as one-task clients read it
            "threshold": first.threshold.model_dump(),
            "metrics": first.metrics.model_dump(),
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "tasks": [
                {
                    "task": head.task,
                    "threshold": head.threshold.model_dump(),
                    "metrics": head.metrics.model_dump(),
                }
                for head in self.tasks
            ],
            "intended_use": self.intended_use,
        }
