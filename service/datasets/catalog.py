"""What the data set index holds, and the lookups that turn request names into files.

Every name a client sends (data set, split, case, plane, slice) is looked up
here; a file path is only ever built from names found in the index, so no
request text is joined into a path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service.datasets.layout import volume_path
from service.domain import PLANES, Plane
from service.errors import DatasetError, InvalidExamError, InvalidQueryError, InvalidVolumeError


@dataclass(frozen=True)
class VolumeShape:
    num_slices: int
    height: int
    width: int


@dataclass(frozen=True)
class CaseEntry:
    case_id: str
    labels: dict[str, int | None]  # every task; None where the label is unknown
    planes: dict[Plane, VolumeShape | None]  # None: the file is missing or malformed
    acl_slices: dict[Plane, tuple[int, int] | None] | None  # None: no ground truth

    @property
    def missing_planes(self) -> list[Plane]:
        return [plane for plane in PLANES if self.planes[plane] is None]

    @property
    def slices(self) -> int:
        """Slices over the planes that are there."""
        return sum(shape.num_slices for shape in self.planes.values() if shape is not None)


@dataclass(frozen=True)
class PlaneRef:
    """One indexed volume file of a case."""

    dataset: str
    split: str
    case_id: str
    plane: Plane
    path: Path
    shape: VolumeShape

    def check_slice(self, index: int) -> int:
        if not 0 <= index < self.shape.num_slices:
            raise DatasetError(
                f"Slice {index} is out of range: the {self.plane} volume of case "
                f"{self.case_id} has slices 0 to {self.shape.num_slices - 1}."
            )
        return index


@dataclass(frozen=True)
class SplitIndex:
    dataset: str
    name: str
    root: Path
    cases: dict[str, CaseEntry]  # ordered by case_id
    tasks: tuple[str, ...]  # tasks with a label file
    has_ground_truth: bool

    @property
    def where(self) -> str:
        return f"the {self.name} split of data set {self.dataset!r}"

    def case(self, case_id: str) -> CaseEntry:
        if case_id not in self.cases:
            raise DatasetError(f"There is no case {case_id!r} in {self.where}.")
        return self.cases[case_id]

    def plane(self, case_id: str, plane: str) -> PlaneRef:
        case = self.case(case_id)
        if plane not in PLANES:
            raise DatasetError(f"{plane!r} is not a plane; the planes are {', '.join(PLANES)}.")
        known = PLANES[PLANES.index(plane)]  # paths are built from the index's own strings
        shape = case.planes[known]
        if shape is None:
            raise DatasetError(f"Case {case_id} in {self.where} has no readable {plane} volume.")
        path = volume_path(self.root, self.name, known, case.case_id)
        return PlaneRef(self.dataset, self.name, case.case_id, known, path, shape)

    def volume_paths(self, case_id: str) -> dict[Plane, Path]:
        """The three volume files of a case; a missing plane is an invalid exam."""
        missing = self.case(case_id).missing_planes
        if missing:
            problem = f"of case {case_id} in {self.where} is missing."
            raise InvalidExamError([InvalidVolumeError(plane, problem) for plane in missing])
        return {plane: volume_path(self.root, self.name, plane, case_id) for plane in PLANES}

    def select(self, labels: Mapping[str, int]) -> list[CaseEntry]:
        """The cases whose labels equal every given one, in case_id order."""
        for task in labels:
            if task not in self.tasks:
                raise InvalidQueryError(task, self._unlabelled(task))
        return [
            case
            for case in self.cases.values()
            if all(case.labels[task] == value for task, value in labels.items())
        ]

    def _unlabelled(self, task: str) -> str:
        return (
            f"There are no {task} labels in {self.where}, so it cannot be filtered by {task}; "
            f"its label tasks are {', '.join(self.tasks) or 'none'}."
        )


@dataclass(frozen=True)
class DatasetIndex:
    name: str
    root: Path
    available: bool
    problem: str | None  # a sentence for clients when something is wrong with the root
    splits: dict[str, SplitIndex]


@dataclass(frozen=True)
class Catalog:
    """Every configured data set by name."""

    datasets: dict[str, DatasetIndex]

    def dataset(self, name: str) -> DatasetIndex:
        if name not in self.datasets:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise DatasetError(f"There is no data set {name!r}; the data sets are {known}.")
        found = self.datasets[name]
        if not found.available:
            raise DatasetError(f"The data set {name!r} is not available. {found.problem}")
        return found

    def split(self, dataset: str, split: str) -> SplitIndex:
        found = self.dataset(dataset)
        if split not in found.splits:
            known = ", ".join(found.splits) or "none"
            raise DatasetError(
                f"The data set {dataset!r} has no split {split!r}; its splits are {known}."
            )
        return found.splits[split]
