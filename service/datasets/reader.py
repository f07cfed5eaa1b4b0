"""Read one split of an MRNet-layout data set for training and evaluation.

Labels come from the split's CSV for the task; volumes are read through the
checked `.npy` reader; the synthetic generator's `<split>-meta.json`, when
present, adds slice-level ground truth (where the ACL is, where it is torn).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.datasets.layout import SPLITS, labels_path, meta_path, read_labels, volume_path
from service.datasets.npy import VolumeLimits, load_volume
from service.domain import Plane
from service.errors import DatasetError

Span = Annotated[list[int], Field(max_length=2)]  # [first, last] slice, inclusive; [] absent

# The findings whose slices a synthetic data set records, and which of them makes each
# task positive ("abnormal": any of them).
FINDINGS: Final = ("acl_tear", "meniscus_tear", "effusion", "bone_bruise")
TASK_FINDINGS: Final[dict[str, tuple[str, ...]]] = {
    "abnormal": FINDINGS,
    "acl": ("acl_tear",),
    "meniscus": ("meniscus_tear",),
}


def _in_span(span: Span, index: int) -> bool:
    return len(span) == 2 and span[0] <= index <= span[1]


class PlaneTruth(BaseModel):
    """Slice-level truth of one series. `finding_slices` is absent in older data sets."""

    model_config = ConfigDict(extra="allow")

    num_slices: int
    acl_slices: Span = Field(default_factory=list)
    tear_slices: list[int] = Field(default_factory=list)
    meniscus_slices: Span = Field(default_factory=list)
    finding_slices: dict[str, Span] | None = None

    def in_acl(self, index: int) -> bool:
        return _in_span(self.acl_slices, index)

    def in_menisci(self, index: int) -> bool:
        return _in_span(self.meniscus_slices, index)

    @property
    def has_findings(self) -> bool:
        return self.finding_slices is not None

    def shows(self, task: str, index: int) -> bool:
        """Whether slice `index` shows a finding of `task` (False without finding truth)."""
        spans = self.finding_slices or {}
        return any(_in_span(spans.get(name, []), index) for name in TASK_FINDINGS.get(task, ()))


class CaseTruth(BaseModel):
    model_config = ConfigDict(extra="allow")

    labels: dict[str, int] = Field(default_factory=dict)
    findings: list[str] = Field(default_factory=list)
    planes: dict[Plane, PlaneTruth] = Field(default_factory=dict)


class SplitTruth(BaseModel):
    model_config = ConfigDict(extra="allow")

    cases: dict[str, CaseTruth]


def read_truth(root: Path, split: str) -> SplitTruth | None:
    """The split's slice-level ground truth, or None where the data set has none."""
    path = meta_path(root, split)
    if not path.is_file():
        return None
    try:
        return SplitTruth.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as error:
        raise DatasetError(f"The ground truth file {path} is not valid: {error}") from error


class SplitReader:
    """The labelled cases of one split for one task, and their volumes."""

    def __init__(
        self, root: Path, split: str, task: str, limits: VolumeLimits | None = None
    ) -> None:
        if split not in SPLITS:
            raise DatasetError(f"{split!r} is not a split; MRNet has {', '.join(SPLITS)}.")
        path = labels_path(root, split, task)
        if not path.is_file():
            raise DatasetError(f"The label file {path} for task {task!r} does not exist.")
        try:
            self.labels = read_labels(path)
        except ValueError as error:
            raise DatasetError(str(error)) from error
        if not self.labels:
            raise DatasetError(f"The label file {path} lists no cases.")
        self.root, self.split, self.task = root, split, task
        self.limits = limits or VolumeLimits()
        self.case_ids = sorted(self.labels)
        self.truth = read_truth(root, split)

    def __len__(self) -> int:
        return len(self.case_ids)

    def label_array(self) -> npt.NDArray[np.int64]:
        return np.array([self.labels[c] for c in self.case_ids], dtype=np.int64)

    def volume(self, case_id: str, plane: Plane) -> npt.NDArray[np.generic]:
        path = volume_path(self.root, self.split, plane, case_id)
        try:
            return load_volume(path, self.limits)
        except OSError as error:
            raise DatasetError(
                f"Cannot read the {self.split} {plane} volume {path}: {error.strerror}."
            ) from error
        except ValueError as error:
            raise DatasetError(f"The {self.split} {plane} volume {path} {error}.") from error

    def plane_truth(self, case_id: str, plane: Plane) -> PlaneTruth | None:
        if self.truth is None or case_id not in self.truth.cases:
            return None
        return self.truth.cases[case_id].planes.get(plane)
