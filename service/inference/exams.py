"""Turn uploaded `.npy` bytes, or stored `.npy` files, into a prepared exam job (no HTTP here).

Both paths check a volume with the same reader and limits and prepare it with
the same `InputSpec` step, so a stored case scores exactly as its files would
when uploaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from torch import Tensor

from service.datasets.npy import NpyFormatError, VolumeLimits, load_volume, parse_volume
from service.dicom.nifti import is_nifti, read_nifti
from service.domain import PLANES, Plane
from service.errors import InvalidExamError, InvalidVolumeError
from service.inference.engine import ExamJob
from service.model.preprocess import InputSpec, prepare_volume

PreparedPlane = tuple[Tensor, list[str]]


def _prepare(
    plane: Plane, read: Callable[[], npt.NDArray[np.generic]], spec: InputSpec
) -> PreparedPlane:
    try:
        prepared = prepare_volume(read(), spec)
    except (NpyFormatError, ValueError) as error:
        raise InvalidVolumeError(plane, f"{error}.") from error
    except OSError as error:
        raise InvalidVolumeError(plane, f"cannot be read ({error.strerror}).") from error
    return prepared.slices, [f"The {plane} volume {note}." for note in prepared.warnings]


NIFTI_MAX_BYTES = 512 * 1024 * 1024  # a .nii.gz inflates to at most this


def prepare_plane(
    plane: Plane, data: bytes, spec: InputSpec, limits: VolumeLimits
) -> PreparedPlane:
    """Check one uploaded volume (.npy, or NIfTI turned to the plane's view) and prepare it."""
    if not is_nifti(data):
        return _prepare(plane, lambda: parse_volume(data, limits), spec)
    volume = read_nifti(plane, data, spec.size, limits, NIFTI_MAX_BYTES)
    slices, warnings = _prepare(plane, lambda: volume.voxels, spec)
    return slices, [f"The {plane} volume {note}." for note in volume.notes] + warnings


def load_plane(plane: Plane, path: Path, spec: InputSpec, limits: VolumeLimits) -> PreparedPlane:
    """Read and check one stored volume file and prepare it as the package's input says."""
    return _prepare(plane, lambda: load_volume(path, limits), spec)


def _exam(
    package: str,
    tasks: tuple[str, ...],
    prepare: Callable[[Plane], PreparedPlane],
    timeout_s: float,
) -> ExamJob:
    """Every plane is checked, so that one error names every bad volume."""
    deadline = time.monotonic() + timeout_s
    planes: dict[Plane, Tensor] = {}
    warnings: list[str] = []
    invalid: list[InvalidVolumeError] = []
    for plane in PLANES:
        try:
            planes[plane], notes = prepare(plane)
        except InvalidVolumeError as error:
            invalid.append(error)
            continue
        warnings.extend(notes)
    if invalid:
        raise InvalidExamError(invalid)
    return ExamJob(package, planes, warnings, deadline=deadline, tasks=tasks)


def prepare_exam(
    package: str,
    tasks: tuple[str, ...],
    files: Mapping[Plane, bytes],
    spec: InputSpec,
    limits: VolumeLimits,
    timeout_s: float,
) -> ExamJob:
    """A job for `package`'s `tasks` from uploaded bytes, due `timeout_s` from now. Off the loop."""
    return _exam(
        package, tasks, lambda plane: prepare_plane(plane, files[plane], spec, limits), timeout_s
    )


def load_exam(
    package: str,
    tasks: tuple[str, ...],
    paths: Mapping[Plane, Path],
    spec: InputSpec,
    limits: VolumeLimits,
    timeout_s: float,
) -> ExamJob:
    """A job for `package`'s `tasks` from stored files, due `timeout_s` from now. Off the loop."""
    return _exam(
        package, tasks, lambda plane: load_plane(plane, paths[plane], spec, limits), timeout_s
    )
