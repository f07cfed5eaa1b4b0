"""One plane of one split, prepared once and kept in memory for training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor
from tqdm import tqdm

from service.datasets.reader import PlaneTruth, SplitReader
from service.domain import Plane
from service.errors import DatasetError
from service.model.preprocess import InputSpec, prepare_volume


@dataclass
class PlaneData:
    plane: Plane
    tasks: tuple[str, ...]
    case_ids: list[str]
    labels: npt.NDArray[np.int64]  # (N, T): one column per task
    volumes: list[Tensor]  # N tensors (S, 1, h, w), float16 to halve the memory
    truths: list[PlaneTruth | None]

    def __len__(self) -> int:
        return len(self.case_ids)

    def volume(self, index: int) -> Tensor:
        return self.volumes[index].to(torch.float32)

    def subset(self, rows: Sequence[int]) -> PlaneData:
        """The same plane with only the cases at `rows`, in that order."""
        return PlaneData(
            plane=self.plane,
            tasks=self.tasks,
            case_ids=[self.case_ids[i] for i in rows],
            labels=self.labels[list(rows)],
            volumes=[self.volumes[i] for i in rows],
            truths=[self.truths[i] for i in rows],
        )

    @property
    def has_slice_truth(self) -> bool:
        """Whether every case has slice-level truth for every task.

        A data set from before `finding_slices` has truth for the ACL only
        (its tear slices), so it pretrains a run of the ACL task alone.
        """
        if not all(truth is not None for truth in self.truths):
            return False
        findings = all(truth is not None and truth.has_findings for truth in self.truths)
        return findings or self.tasks == ("acl",)


def split_labels(
    readers: Sequence[SplitReader],
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The cases of a split and their labels (N, T), one reader (CSV) per task."""
    case_ids = readers[0].case_ids
    for reader in readers[1:]:
        if reader.case_ids != case_ids:
            raise DatasetError(
                f"The {reader.split} labels of {reader.task!r} and {readers[0].task!r} "
                "list different cases; a multi-task run needs every task's label of each case."
            )
    columns = [reader.label_array() for reader in readers]
    return list(case_ids), np.stack(columns, axis=1)  # (N, T)


def load_plane_data(
    readers: Sequence[SplitReader], plane: Plane, spec: InputSpec, progress: bool = True
) -> PlaneData:
    """Read and preprocess every volume of the split for one plane; one reader per task."""
    case_ids, labels = split_labels(readers)
    reader = readers[0]
    volumes = []
    cases = tqdm(case_ids, desc=f"read {reader.split} {plane}", disable=not progress, leave=False)
    for case_id in cases:
        prepared = prepare_volume(reader.volume(case_id, plane), spec)
        volumes.append(prepared.slices.to(torch.float16))
    return PlaneData(
        plane=plane,
        tasks=tuple(r.task for r in readers),
        case_ids=case_ids,
        labels=labels,
        volumes=volumes,
        truths=[reader.plane_truth(case_id, plane) for case_id in case_ids],
    )


@dataclass(frozen=True)
class SliceRef:
    case: int
    index: int
    targets: tuple[int, ...]  # one 0/1 per task of the run

    @property
    def positive(self) -> bool:
        return any(self.targets)


def _shows(truth: PlaneTruth, task: str, index: int) -> bool:
    """Slice truth for one task; data sets without `finding_slices` know the ACL tear only."""
    if truth.has_findings:
        return truth.shows(task, index)
    return task == "acl" and index in truth.tear_slices


def slice_labels(
    data: PlaneData, rng: np.random.Generator, easy_per_hard: float = 0.25, share: float = 1.0
) -> list[SliceRef]:
    """Slices for backbone pretraining from the ground truth, with one target per task, shuffled.

    A slice is positive for a task where it shows that task's finding in a case
    positive for it (acl: the ACL tear; meniscus: the meniscal tear; abnormal:
    any finding). Every slice that cuts the ligament or the menisci, or shows a
    tear, is kept: there the tasks must tell a tear from the intact structure
    (hard negatives). `easy_per_hard` as many again are drawn from the other
    slices, positive for abnormal (an effusion, a bone bruise) or not. (On the
    ACL-only demo data, 1.0 instead of 0.25 lowered the valid AUCs, coronal 0.85
    to 0.77 and axial 0.89 to 0.88; hit rates went 0.42 to 0.50 and 0.69 to 0.53.)

    With `share` < 1 an epoch keeps every tear slice (positive for acl or
    meniscus) but only that share, drawn afresh each epoch, of the others: more
    epochs for the same time, each seeing every tear.
    """
    tears: list[SliceRef] = []
    focal: list[SliceRef] = []
    rest: list[SliceRef] = []
    for case, (volume, truth) in enumerate(zip(data.volumes, data.truths, strict=True)):
        assert truth is not None
        labels = data.labels[case]  # (T,)
        for index in range(volume.shape[0]):
            targets = tuple(
                int(labels[t] == 1 and _shows(truth, task, index))
                for t, task in enumerate(data.tasks)
            )
            ref = SliceRef(case, index, targets)
            torn = any(
                target and task != "abnormal"
                for target, task in zip(targets, data.tasks, strict=True)
            )
            if torn:
                tears.append(ref)
            elif truth.in_acl(index) or truth.in_menisci(index):
                focal.append(ref)
            else:
                rest.append(ref)
    count = min(len(rest), round((len(tears) + len(focal)) * easy_per_hard))
    others = focal + [rest[i] for i in rng.choice(len(rest), size=count, replace=False)]
    if share < 1.0:
        kept = rng.choice(len(others), size=round(share * len(others)), replace=False)
        others = [others[i] for i in sorted(kept)]
    chosen = tears + others
    return [chosen[i] for i in rng.permutation(len(chosen))]
