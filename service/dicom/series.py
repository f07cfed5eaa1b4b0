"""Group frames into series, screen them, and lay each usable one out as a stack.

A series is screened out (with its reason) when it is not MR, is derived,
secondary or a localizer, has no pixels or geometry, is in colour, or has too
few slices. A series that mixes orientations is split into one stack per
orientation, never stacked across them. Slices are ordered by their position
along the normal; duplicated positions keep one slice each, uneven spacing is
reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from service.dicom.caps import StudyCaps
from service.dicom.geometry import OBLIQUE_DEGREES, SliceFrame, Vector, plane_of
from service.dicom.instances import Frame, Instance, SeriesInfo
from service.domain import Plane

REFUSED_IMAGE_TYPES = ("DERIVED", "SECONDARY", "LOCALIZER")
DUPLICATE_MM = 0.01
UNEVEN_RATIO = 1.2


@dataclass(frozen=True)
class NotUsed:
    """A series (or one orientation of it) that is not scored, and why."""

    series: SeriesInfo
    instances: int
    reason: str
    plane: Plane | None = None
    part: str = ""  # "orientation 2 of 3" when a series was split


@dataclass
class Stack:
    """A candidate volume: one orientation of one series, slices in order along the normal."""

    series: SeriesInfo
    frames: list[Frame]  # ordered by position along the normal
    orientation: tuple[float, ...]
    frame: SliceFrame
    plane: Plane
    obliquity_degrees: float
    pixel_spacing: tuple[float, float]  # between rows, between columns (mm)
    slice_spacing: float  # mm, the median step along the normal
    rows: int
    columns: int
    part: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        number = "" if self.series.number is None else f" {self.series.number}"
        description = f" {self.series.description!r}" if self.series.description else ""
        return f"series{number}{description}{' (' + self.part + ')' if self.part else ''}"


def _screen(series: SeriesInfo, instances: list[Instance]) -> str | None:
    if series.modality != "MR":
        return f"its modality is {series.modality or 'missing'}, not MR"
    types = {value for instance in instances for value in instance.series.image_type}
    refused = [kind for kind in REFUSED_IMAGE_TYPES if kind in types]
    if refused:
        return f"its ImageType is {'/'.join(refused)}; only original acquisitions are scored"
    if not all(instance.has_pixels for instance in instances):
        return "it has instances without pixel data"
    if any(instance.samples != 1 for instance in instances):
        return "it is in colour; MR volumes are gray"
    frames = [frame for instance in instances for frame in instance.frames]
    if any(f.orientation is None or f.position is None or f.spacing is None for f in frames):
        return "it lacks ImageOrientationPatient, ImagePositionPatient or PixelSpacing"
    return None


def _dedupe(
    frames: list[Frame], distances: list[float], notes: list[str]
) -> tuple[list[Frame], list[float]]:
    kept: list[Frame] = []
    kept_at: list[float] = []
    dropped = 0
    for frame, distance in zip(frames, distances, strict=True):
        if kept_at and distance - kept_at[-1] < DUPLICATE_MM:
            dropped += 1
            continue
        kept.append(frame)
        kept_at.append(distance)
    if dropped:
        notes.append(
            f"had {dropped} slice{'s' if dropped != 1 else ''} at positions already taken; "
            "the first of each "
            "(by InstanceNumber) was kept"
        )
    return kept, kept_at


def _spacing(distances: list[float], notes: list[str]) -> float:
    if len(distances) < 2:
        return 0.0
    steps = np.diff(np.asarray(distances))
    median = float(np.median(steps))
    if float(steps.max()) > UNEVEN_RATIO * float(steps.min()):
        notes.append(
            f"has uneven slice spacing ({steps.min():.2f} to {steps.max():.2f} mm, "
            f"median {median:.2f}); slices were kept in order as they are"
        )
    return median


def _stack(series: SeriesInfo, frames: list[Frame], part: str) -> Stack:
    first = frames[0]
    assert first.orientation is not None and first.spacing is not None
    frame = SliceFrame.from_cosines(first.orientation)
    normal: Vector = frame.normal
    # by position along the normal, then InstanceNumber: duplicates keep the first
    keyed = sorted(
        frames,
        key=lambda f: (round(float(np.asarray(f.position) @ normal), 4), f.instance_number),
    )
    distances = [float(np.asarray(f.position) @ normal) for f in keyed]
    notes: list[str] = []
    ordered, at = _dedupe(keyed, distances, notes)
    plane, obliquity = plane_of(normal)
    if obliquity > OBLIQUE_DEGREES:
        notes.append(f"is {obliquity:.0f} degrees oblique to the {plane} plane")
    dataset = first.dataset
    return Stack(
        series=series,
        frames=ordered,
        orientation=first.orientation,
        frame=frame,
        plane=plane,
        obliquity_degrees=obliquity,
        pixel_spacing=(float(first.spacing[0]), float(first.spacing[1])),
        slice_spacing=_spacing(at, notes),
        rows=int(dataset.get("Rows") or 0),
        columns=int(dataset.get("Columns") or 0),
        part=part,
        notes=notes,
    )


def _orientations(frames: list[Frame]) -> list[list[Frame]]:
    groups: dict[tuple[float, ...], list[Frame]] = defaultdict(list)
    for frame in frames:
        assert frame.orientation is not None
        groups[tuple(round(v, 3) + 0.0 for v in frame.orientation)].append(frame)
    return list(groups.values())


def _stacks(
    series: SeriesInfo, frames: list[Frame], caps: StudyCaps
) -> tuple[list[Stack], list[NotUsed]]:
    stacks: list[Stack] = []
    not_used: list[NotUsed] = []
    groups = _orientations(frames)
    for number, group in enumerate(groups, start=1):
        part = f"orientation {number} of {len(groups)}" if len(groups) > 1 else ""
        try:
            stack = _stack(series, group, part)
        except ValueError as error:
            not_used.append(NotUsed(series, len(group), f"{error}", part=part))
            continue
        sizes = {(f.dataset.get("Rows"), f.dataset.get("Columns")) for f in stack.frames}
        if len(stack.frames) < caps.min_series_slices:
            count = len(stack.frames)
            reason = (
                f"it has {count} slice{'s' if count != 1 else ''}"
                f"{' in this orientation' if part else ''}; at least "
                f"{caps.min_series_slices} are needed for a volume"
            )
            not_used.append(NotUsed(series, len(group), reason, stack.plane, part))
        elif len(sizes) > 1:
            reason = "its slices have different sizes"
            not_used.append(NotUsed(series, len(group), reason, stack.plane, part))
        else:
            stacks.append(stack)
    return stacks, not_used


def series_stacks(instances: list[Instance], caps: StudyCaps) -> tuple[list[Stack], list[NotUsed]]:
    """Every usable stack of the study, and every series (or part) not usable, with why."""
    by_series: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances:
        by_series[instance.series.uid].append(instance)
    stacks: list[Stack] = []
    not_used: list[NotUsed] = []
    for members in by_series.values():
        series = members[0].series
        frames = [frame for instance in members for frame in instance.frames]
        reason = _screen(series, members)
        if reason is not None:
            not_used.append(NotUsed(series, len(frames), reason))
            continue
        found, refused = _stacks(series, frames, caps)
        stacks.extend(found)
        not_used.extend(refused)
    return stacks, not_used
