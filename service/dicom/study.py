"""From uploaded parts to three MRNet volumes and a report of what was used and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from service.dicom.archive import ByteBudget, is_dicom, unpack
from service.dicom.caps import Part, StudyCaps
from service.dicom.instances import NOT_DICOM, Instance, read_instance
from service.dicom.pixels import UInt8Array, stack_volume
from service.dicom.rules import SelectionRules
from service.dicom.selection import choose
from service.dicom.series import NotUsed, Stack, series_stacks
from service.domain import PLANES, Plane
from service.errors import InvalidInstanceError, MissingPlaneError, StudyTooLargeError


@dataclass(frozen=True)
class SeriesUsed:
    plane: Plane
    series_instance_uid: str
    series_number: int | None
    series_description: str
    slices: int
    pixel_spacing_mm: tuple[float, float]
    slice_spacing_mm: float
    orientation: tuple[float, ...]  # ImageOrientationPatient
    obliquity_degrees: float
    reason: str


@dataclass(frozen=True)
class SeriesNotUsed:
    series_instance_uid: str
    series_number: int | None
    series_description: str
    modality: str
    instances: int
    plane: Plane | None
    reason: str


@dataclass
class Study:
    volumes: dict[Plane, UInt8Array]  # (S, size, size) each, in its plane's view
    used: dict[Plane, SeriesUsed]
    not_used: list[SeriesNotUsed]
    skipped: list[str] = field(default_factory=list)  # files that were not DICOM instances
    warnings: list[str] = field(default_factory=list)


def _instances(parts: Sequence[Part], caps: StudyCaps) -> tuple[list[Instance], list[str]]:
    budget = ByteBudget(caps.max_inflated_bytes)
    files: list[Part] = []
    skipped: list[str] = []
    for part in parts:
        if part.kind == "zip":
            found = unpack(part, caps, budget)
            files.extend(found.parts)
            skipped.extend(found.skipped)
        else:
            budget.take(len(part.data))
            files.append(part)
        if len(files) > caps.max_instances:
            raise StudyTooLargeError(
                f"The study has more than {caps.max_instances} instances; at most "
                f"{caps.max_instances} are accepted (MRNET_MAX_STUDY_INSTANCES)."
            )
    instances = []
    for file in files:
        if file.kind == "dicom" and not is_dicom(file.data):
            raise InvalidInstanceError(file.name, NOT_DICOM)
        instance = read_instance(file, caps)
        if instance is None:
            skipped.append(f"The {file.name} is a DICOMDIR (an index of files); it was skipped.")
        else:
            instances.append(instance)
    return instances, skipped


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _not_used(item: NotUsed) -> SeriesNotUsed:
    part = f"In {item.part}, " if item.part else ""
    return SeriesNotUsed(
        series_instance_uid=item.series.uid,
        series_number=item.series.number,
        series_description=item.series.description,
        modality=item.series.modality,
        instances=item.instances,
        plane=item.plane,
        reason=f"{part}{item.reason}." if part else _sentence(item.reason),
    )


def _used(stack: Stack, reason: str) -> SeriesUsed:
    return SeriesUsed(
        plane=stack.plane,
        series_instance_uid=stack.series.uid,
        series_number=stack.series.number,
        series_description=stack.series.description,
        slices=len(stack.frames),
        pixel_spacing_mm=stack.pixel_spacing,
        slice_spacing_mm=round(stack.slice_spacing, 4),
        orientation=tuple(round(v, 6) for v in stack.orientation),
        obliquity_degrees=round(stack.obliquity_degrees, 2),
        reason=_sentence(reason),
    )


def _found(stacks: list[Stack], not_used: list[SeriesNotUsed]) -> list[str]:
    usable = [f"{stack.label}: {stack.plane}, {len(stack.frames)} slices" for stack in stacks]
    unusable = [
        f"series {item.series_number} {item.series_description!r}: {item.reason.rstrip('.')}"
        for item in not_used
    ]
    return usable + unusable


def read_study(parts: Sequence[Part], rules: SelectionRules, caps: StudyCaps, size: int) -> Study:
    """The three volumes of a study, each (S, size, size) uint8 in its plane's view."""
    instances, skipped = _instances(parts, caps)
    stacks, refused = series_stacks(instances, caps)
    chosen, passed_over = choose(stacks, rules)
    not_used = [_not_used(item) for item in refused + passed_over]
    missing = [plane for plane in PLANES if plane not in chosen]
    if missing:
        raise MissingPlaneError(missing, _found(stacks, not_used))
    volumes: dict[Plane, UInt8Array] = {}
    used: dict[Plane, SeriesUsed] = {}
    warnings: list[str] = []
    for plane, choice in chosen.items():
        volume = stack_volume(choice.stack, size)
        volumes[plane] = volume.voxels
        used[plane] = _used(choice.stack, choice.reason)
        label = f"The {plane} {choice.stack.label}"
        warnings.extend(f"{label} {note}." for note in choice.stack.notes + volume.notes)
    return Study(volumes, used, not_used, skipped, warnings)
