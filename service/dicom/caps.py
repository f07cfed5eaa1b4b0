"""What a study upload is made of, and the caps that bound the work it can cause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PartKind = Literal["dicom", "zip"]


@dataclass(frozen=True)
class Part:
    """One uploaded thing: a DICOM instance or a zip of them, named for messages only.

    The name (``part 3``, ``archive member 'IMG0001'``) is never used as a path.
    """

    name: str
    data: bytes
    kind: PartKind = "dicom"


@dataclass(frozen=True)
class StudyCaps:
    max_instances: int = 2000
    max_inflated_bytes: int = 512 * 1024 * 1024  # all instances, after unzipping
    max_frame_pixels: int = 1024 * 1024  # rows x columns of one frame
    min_series_slices: int = 5  # fewer is a localizer or a scout, not a volume
