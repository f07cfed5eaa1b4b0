"""Turn uploaded `.npy` bytes into a prepared exam job (no HTTP here)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from torch import Tensor

from service.datasets.layout import PLANES, Plane
from service.datasets.npy import NpyFormatError, VolumeLimits, parse_volume
from service.errors import InvalidVolumeError
from service.inference.engine import ExamJob
from service.model.preprocess import InputSpec, prepare_volume


def prepare_plane(
    plane: Plane, data: bytes, spec: InputSpec, limits: VolumeLimits
) -> tuple[Tensor, list[str]]:
    """Check one uploaded volume and prepare it as the package's input says."""
    try:
        volume = parse_volume(data, limits)
        prepared = prepare_volume(volume, spec)
    except (NpyFormatError, ValueError) as error:
        raise InvalidVolumeError(plane, f"{error}.") from error
    return prepared.slices, [f"The {plane} volume {note}." for note in prepared.warnings]


def prepare_exam(
    task: str,
    files: Mapping[Plane, bytes],
    spec: InputSpec,
    limits: VolumeLimits,
    timeout_s: float,
) -> ExamJob:
    """A job for the engine; its deadline counts from now. Runs off the event loop."""
    deadline = time.monotonic() + timeout_s
    planes: dict[Plane, Tensor] = {}
    warnings: list[str] = []
    for plane in PLANES:
        planes[plane], notes = prepare_plane(plane, files[plane], spec, limits)
        warnings.extend(notes)
    return ExamJob(task, planes, warnings, deadline=deadline)
