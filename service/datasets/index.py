"""The index of the configured data sets: what each split holds, built once at startup.

It is read from the label CSVs, the `.npy` headers and `<split>-meta.json`
only; no volume is read whole. What is missing or malformed is recorded (a
plane as None, a task without labels, a data set as unavailable) and logged,
never fatal: predictions keep working whatever the data sets look like.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from service.datasets.catalog import (
    CaseEntry,
    Catalog,
    DatasetIndex,
    SplitIndex,
    VolumeShape,
)
from service.datasets.layout import SPLITS, is_case_id, labels_path, read_labels
from service.datasets.npy import NpyFormatError, VolumeLimits, read_volume_header
from service.datasets.reader import SplitTruth, read_truth
from service.domain import PLANES, TASKS, Plane
from service.errors import DatasetError

logger = logging.getLogger("mrnet.datasets")

Shapes = dict[str, VolumeShape | None]  # case_id -> shape, None where the header is bad


def build_catalog(roots: Mapping[str, Path], limits: VolumeLimits) -> Catalog:
    """Index every configured data set; a broken one is reported, not raised."""
    return Catalog({name: index_dataset(name, root, limits) for name, root in roots.items()})


def index_dataset(name: str, root: Path, limits: VolumeLimits) -> DatasetIndex:
    problem = _root_problem(root)
    if problem is not None:
        return _unavailable(name, root, problem)
    try:
        splits = {
            split: _index_split(name, root, split, limits)
            for split in SPLITS
            if _has_split(root, split)
        }
    except OSError as error:
        return _unavailable(name, root, f"The data set root {root} cannot be read ({error}).")
    if not splits:
        problem = f"The data set root {root} has no {' or '.join(SPLITS)} split."
        logger.warning("data set %s: %s", name, problem)
    counts = ", ".join(f"{s} {len(index.cases)} cases" for s, index in splits.items())
    logger.info("indexed data set %s: %s", name, counts or "empty")
    return DatasetIndex(name, root, available=True, problem=problem, splits=splits)


def _unavailable(name: str, root: Path, problem: str) -> DatasetIndex:
    logger.warning("data set %s is not available: %s", name, problem)
    return DatasetIndex(name, root, available=False, problem=problem, splits={})


def _root_problem(root: Path) -> str | None:
    if not root.exists():
        return f"The data set root {root} does not exist."
    if not root.is_dir():
        return f"The data set root {root} is not a folder."
    return None


def _has_split(root: Path, split: str) -> bool:
    return (root / split).is_dir() or any(labels_path(root, split, t).is_file() for t in TASKS)


def _index_split(dataset: str, root: Path, split: str, limits: VolumeLimits) -> SplitIndex:
    labels = _label_files(root, split)
    shapes = {plane: _plane_shapes(root / split / plane, limits) for plane in PLANES}
    truth = _truth(root, split)
    case_ids = set().union(*labels.values(), *shapes.values())
    cases = {case_id: _case(case_id, labels, shapes, truth) for case_id in sorted(case_ids)}
    return SplitIndex(
        dataset=dataset,
        name=split,
        root=root,
        cases=cases,
        tasks=tuple(task for task in TASKS if task in labels),
        has_ground_truth=truth is not None,
    )


def _label_files(root: Path, split: str) -> dict[str, dict[str, int]]:
    """The labels of each task whose file exists and reads; a malformed file is skipped."""
    found: dict[str, dict[str, int]] = {}
    for task in TASKS:
        path = labels_path(root, split, task)
        if not path.is_file():
            continue
        try:
            found[task] = read_labels(path)
        except (ValueError, OSError, UnicodeDecodeError) as error:
            logger.warning("label file %s is skipped: %s", path, error)
    return found


def _plane_shapes(folder: Path, limits: VolumeLimits) -> Shapes:
    """Every `<case_id>.npy` of one plane folder, by header; other files are ignored."""
    if not folder.is_dir():
        return {}
    shapes: Shapes = {}
    for path in sorted(folder.glob("*.npy")):
        if is_case_id(path.stem) and path.is_file():
            shapes[path.stem] = _volume_shape(path, limits)
    return shapes


def _volume_shape(path: Path, limits: VolumeLimits) -> VolumeShape | None:
    try:
        header = read_volume_header(path, limits)
    except (NpyFormatError, OSError) as error:
        logger.warning("volume %s is left out of the index: it %s", path, _phrase(error))
        return None
    slices, height, width = header.shape
    return VolumeShape(num_slices=slices, height=height, width=width)


def _phrase(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot be read ({error.strerror})"
    return str(error)


def _truth(root: Path, split: str) -> SplitTruth | None:
    try:
        return read_truth(root, split)
    except (DatasetError, OSError) as error:
        logger.warning("ground truth of %s/%s is skipped: %s", root, split, error)
        return None


def _case(
    case_id: str,
    labels: Mapping[str, Mapping[str, int]],
    shapes: Mapping[Plane, Shapes],
    truth: SplitTruth | None,
) -> CaseEntry:
    return CaseEntry(
        case_id=case_id,
        labels={task: labels.get(task, {}).get(case_id) for task in TASKS},
        planes={plane: shapes[plane].get(case_id) for plane in PLANES},
        acl_slices=_acl_slices(case_id, truth),
    )


def _acl_slices(
    case_id: str, truth: SplitTruth | None
) -> dict[Plane, tuple[int, int] | None] | None:
    """First and last slice that cut the ACL per plane, where the ground truth says."""
    if truth is None or case_id not in truth.cases:
        return None
    planes = truth.cases[case_id].planes
    found: dict[Plane, tuple[int, int] | None] = {}
    for plane in PLANES:
        acl = planes[plane].acl_slices if plane in planes else []
        found[plane] = (acl[0], acl[1]) if len(acl) == 2 else None
    return found
