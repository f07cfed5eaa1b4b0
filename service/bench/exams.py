"""The exams a benchmark runs: synthetic knees, random volumes, or cases of a data set.

Both benchmarks build the same set from the same options, so the engine's
numbers and the HTTP numbers are for the same exams.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from service.domain import PLANES, Plane

Volumes = dict[Plane, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class ExamSet:
    source: str  # "synthetic", "random" or "data"
    detail: dict[str, Any]  # what rebuilds the same set: seed, slices, size, data path
    exams: list[Volumes]

    @property
    def max_plane_slices(self) -> int:
        return max(int(exam[p].shape[0]) for exam in self.exams for p in PLANES)

    @property
    def max_exam_slices(self) -> int:
        return max(sum(int(exam[p].shape[0]) for p in PLANES) for exam in self.exams)

    def describe(self) -> dict[str, Any]:
        slices = [{p: int(exam[p].shape[0]) for p in PLANES} for exam in self.exams]
        return {"source": self.source, **self.detail, "exams": len(self.exams), "slices": slices}


def synthetic_exams(count: int, seed: int, progress: bool = False) -> ExamSet:
    """Synthetic knee exams (256x256, MRNet-like slice counts), as `mrnet synth` draws them."""
    from service.synth import PREVALENCE, render_case, sample_case, sample_plans

    plans = sample_plans(count, PREVALENCE["valid"], np.random.default_rng([seed, 10_001]))
    exams: list[Volumes] = []
    for number, plan in enumerate(tqdm(plans, desc="exams", disable=not progress, file=sys.stderr)):
        case = render_case(sample_case(number, plan, seed))
        exams.append({p: case.volumes[p] for p in PLANES})
    return ExamSet("synthetic", {"seed": seed}, exams)


def random_exams(count: int, slices: int, size: int, seed: int) -> ExamSet:
    """Uniform noise volumes of `slices` slices per plane: fixed work per exam."""
    rng = np.random.default_rng(seed)
    exams: list[Volumes] = [
        {p: rng.integers(0, 256, (slices, size, size), dtype=np.uint8) for p in PLANES}
        for _ in range(count)
    ]
    return ExamSet("random", {"seed": seed, "slices_per_plane": slices, "size": size}, exams)


def dataset_exams(root: Path, split: str, task: str, count: int) -> ExamSet:
    """The first `count` cases of a split of an MRNet-layout data set."""
    from service.datasets.reader import SplitReader

    reader = SplitReader(root, split, task)
    case_ids = reader.case_ids[:count]
    exams: list[Volumes] = [{p: reader.volume(c, p) for p in PLANES} for c in case_ids]
    return ExamSet("data", {"data": str(root), "split": split, "case_ids": case_ids}, exams)


def build_exam_set(
    count: int,
    seed: int,
    slices: int | None = None,
    size: int = 256,
    data: Path | None = None,
    split: str = "valid",
    task: str = "acl",
    progress: bool = False,
) -> ExamSet:
    """A data set's cases with `data`, noise volumes with `slices`, else synthetic knees."""
    if count < 1:
        raise ValueError(f"a benchmark needs at least one exam, not {count}")
    if data is not None:
        return dataset_exams(data, split, task, count)
    if slices is not None:
        return random_exams(count, slices, size, seed)
    return synthetic_exams(count, seed, progress)


def npy_bytes(volume: npt.NDArray[np.generic]) -> bytes:
    """A volume as the bytes of a .npy file, as a client uploads it."""
    buffer = io.BytesIO()
    np.save(buffer, volume, allow_pickle=False)
    return buffer.getvalue()


def encode_exams(exam_set: ExamSet) -> list[dict[Plane, bytes]]:
    """Every exam as .npy bytes per plane, encoded once before a load test."""
    return [{p: npy_bytes(exam[p]) for p in PLANES} for exam in exam_set.exams]
