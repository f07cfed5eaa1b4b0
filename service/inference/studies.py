"""Turn an uploaded DICOM study into a prepared exam job and its report (no HTTP here)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import Tensor

from service.datasets.npy import NpyFormatError, VolumeLimits, check_shape
from service.dicom.caps import Part, StudyCaps
from service.dicom.rules import DEFAULT_RULES, SelectionRules
from service.dicom.study import Study, read_study
from service.domain import PLANES, Plane
from service.errors import InvalidVolumeError
from service.inference.engine import ExamJob
from service.model.preprocess import InputSpec, prepare_volume


@dataclass(frozen=True)
class StudyConfig:
    caps: StudyCaps = field(default_factory=StudyCaps)
    rules: SelectionRules = field(default_factory=lambda: dict(DEFAULT_RULES))


def prepare_study(
    package: str,
    tasks: tuple[str, ...],
    parts: Sequence[Part],
    spec: InputSpec,
    limits: VolumeLimits,
    config: StudyConfig,
    timeout_s: float,
) -> tuple[ExamJob, Study]:
    """A job for `package`'s `tasks` from a study's parts, and what was used; off the loop."""
    deadline = time.monotonic() + timeout_s
    study = read_study(parts, config.rules, config.caps, spec.size)
    planes: dict[Plane, Tensor] = {}
    warnings = list(study.warnings)
    for plane in PLANES:
        volume = study.volumes[plane]
        try:
            check_shape(volume.shape, limits)
        except NpyFormatError as error:
            raise InvalidVolumeError(plane, f"series {error}.") from error
        prepared = prepare_volume(volume, spec)
        planes[plane] = prepared.slices
        warnings.extend(f"The {plane} volume {note}." for note in prepared.warnings)
    return ExamJob(package, planes, warnings, deadline=deadline, tasks=tasks), study
