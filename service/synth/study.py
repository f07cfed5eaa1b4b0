"""One synthetic case as the series of a knee MRI study, in DICOM's patient frame.

`study_series` turns a rendered case into what a scanner would have sent:
a three-plane localizer, the three diagnostic series and sometimes an extra
sagittal one that the selection rules must not pick. Each is a stack of
12-bit images with the geometry of the phantom's own reslicing
(`service.synth.grid.plane_geometry` at the volumes' 256 pixels), so
positions, spacing and orientation are exact, not decoration.

Geometry convention (what a reader relies on). DICOM's patient frame is LPS:
+x to the patient's left, +y posterior, +z superior. In each case's `.npy`
volume (slice k, row i, column j) the three axes point:

============  ======================  ==================  ==================
plane         slices (axis 0)         rows (axis 1)       columns (axis 2)
============  ======================  ==================  ==================
sagittal      to the patient's left   to inferior         to posterior
coronal       to anterior             to inferior         to the patient's left
axial         to inferior             to posterior        to the patient's left
============  ======================  ==================  ==================

That is the radiological view (sagittal: anterior on the image's left, head
up; coronal: the patient's right on the image's left, head up; axial: the
patient's right on the image's left, anterior up) with slice 0 the patient's
rightmost, most posterior and most superior slice. In every plane the .npy
slice direction is rows x columns, the opposite of the DICOM normal
(ImageOrientationPatient's row cosine x column cosine): for the canonical
storage (sagittal IOP 0\\1\\0\\0\\0\\-1, coronal 1\\0\\0\\0\\0\\-1, axial
1\\0\\0\\0\\1\\0) the .npy holds the slices in decreasing order of
ImagePositionPatient projected on that normal.

Pixel values: a stored value is `gain * v + offset` for the .npy value v (an
integer gain per series, at most 4095 stored), with a RescaleSlope and
RescaleIntercept on one diagnostic series per case; a reader that applies the
modality rescale, then min-max scales the volume to 0..255 and rounds to the
nearest integer gets the .npy volume back exactly whenever it spans 0..255
(75 of 90 volumes in a 30-case sample do), and its min-max rescaled self otherwise.

Storage varies per case as scanners do: a series may be stored in the reverse
slice order (instance 1 at the other end) or mirrored in-plane (which turns
its normal round); the instances and positions stay consistent either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from service.domain import Plane
from service.synth.contrast import OUTPUT_SIZE, render_series
from service.synth.grid import plane_geometry
from service.synth.params import CaseParams
from service.synth.render import RenderedCase, lesion_signals

Vector = npt.NDArray[np.float64]
Stored = npt.NDArray[np.uint16]

# World (x left, y anterior, z superior) to DICOM LPS (x left, y posterior, z superior).
_LPS: Final = np.diag([1.0, -1.0, 1.0])
MAX_STORED: Final = 4095  # BitsStored 12


@dataclass(frozen=True)
class Sequence:
    """What the protocol names a series and how it was acquired."""

    description: str
    fat_suppressed: bool
    repetition_ms: float
    echo_ms: float


# MRNet's protocol: sagittal T2 fat-suppressed, coronal T1, axial PD fat-suppressed.
DIAGNOSTIC: Final[dict[Plane, Sequence]] = {
    "sagittal": Sequence("SAG T2 FS", True, 3200.0, 60.0),
    "coronal": Sequence("COR T1", False, 550.0, 14.0),
    "axial": Sequence("AX PD FS", True, 2600.0, 30.0),
}
EXTRA: Final = Sequence("SAG T1", False, 600.0, 12.0)  # rendered with the T1 contrast
LOCALIZER: Final = Sequence("3-PLANE LOC", False, 8.0, 4.0)
_LOCALIZER_SLICES: Final = 3  # per plane, about the centre


@dataclass(frozen=True)
class Stack:
    """Images (n, h, w); voxel (k, i, j) lies at origin + (k, i, j) @ steps, in LPS mm."""

    pixels: Stored  # (n, h, w)
    origin: Vector  # (3,)
    steps: Vector  # (3, 3): the slice, row and column steps

    def flipped(self, axis: int) -> Stack:
        """The same voxels stored the other way along `axis`."""
        steps = self.steps.copy()
        steps[axis] = -steps[axis]
        origin = self.origin + (self.pixels.shape[axis] - 1) * self.steps[axis]
        return Stack(np.flip(self.pixels, axis), origin, steps)

    def position(self, k: int) -> Vector:
        """ImagePositionPatient of image k: the centre of its first pixel."""
        return np.asarray(self.origin + k * self.steps[0], dtype=np.float64)

    @property
    def orientation(self) -> Vector:
        """ImageOrientationPatient: along a row (columns step), then down a column (rows step)."""
        row = self.steps[2] / np.linalg.norm(self.steps[2])
        column = self.steps[1] / np.linalg.norm(self.steps[1])
        return np.concatenate([row, column])

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        """PixelSpacing: between rows, then between columns (mm)."""
        return float(np.linalg.norm(self.steps[1])), float(np.linalg.norm(self.steps[2]))


@dataclass(frozen=True)
class Rescale:
    slope: float
    intercept: float


@dataclass(frozen=True)
class Series:
    number: int
    sequence: Sequence
    localizer: bool  # ImageType ...\LOCALIZER, mixed orientations
    images: tuple[Stack, ...]  # one stack per orientation; the instances in this order
    slice_spacing_mm: float
    slice_thickness_mm: float
    rescale: Rescale | None


def _stored(volume: npt.NDArray[np.uint8], rng: np.random.Generator) -> Stored:
    """12-bit values `gain * v + offset`: an affine map, so min-max gives v back."""
    gain = int(rng.integers(10, 17))
    offset = int(rng.integers(0, MAX_STORED - 255 * gain + 1))
    return (volume.astype(np.uint16) * np.uint16(gain) + np.uint16(offset)).astype(np.uint16)


def plane_stack(params: CaseParams, plane: Plane, pixels: Stored) -> Stack:
    """A (S, 256, 256) series at the phantom's geometry for `plane`, in .npy order."""
    geometry = plane_geometry(plane, params.slices[plane], params.pose, OUTPUT_SIZE)
    return Stack(pixels, _LPS @ geometry.origin, geometry.steps @ _LPS.T)


def _stored_as_scanned(stack: Stack, rng: np.random.Generator) -> Stack:
    """Reverse the slice order half the time, mirror in-plane (turning the normal) a quarter."""
    if rng.random() < 0.5:
        stack = stack.flipped(0)
    if rng.random() < 0.25:
        stack = stack.flipped(2)
    return stack


def _localizer_images(stack: Stack) -> Stack:
    """Three coarse slices about the centre of a series: 2x2 pixel means, (3, 128, 128)."""
    centre = stack.pixels.shape[0] // 2
    picked = stack.pixels[centre - 1 : centre - 1 + _LOCALIZER_SLICES].astype(np.float64)
    n, h, w = picked.shape
    coarse = picked.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))  # (3, h/2, w/2)
    origin = stack.position(centre - 1) + 0.5 * (stack.steps[1] + stack.steps[2])
    steps = stack.steps * np.array([[1.0], [2.0], [2.0]])
    return Stack(np.rint(coarse).astype(np.uint16), origin, steps)


def _series(
    params: CaseParams,
    plane: Plane,
    sequence: Sequence,
    volume: npt.NDArray[np.uint8],
    rng: np.random.Generator,
) -> Series:
    spec = params.slices[plane]
    stack = _stored_as_scanned(plane_stack(params, plane, _stored(volume, rng)), rng)
    thickness = round(spec.spacing_mm / 1.1, 2)  # a 10 % gap between slices
    return Series(0, sequence, False, (stack,), spec.spacing_mm, thickness, None)


def _extra(params: CaseParams, case: RenderedCase, rng: np.random.Generator) -> Series:
    """A sagittal T1 on the sagittal slices: same plane and slice count, another contrast."""
    noise = np.random.default_rng([params.noise_seed, 3])
    lesions = lesion_signals(params)
    t1 = render_series(
        case.labels["sagittal"], "coronal", params.contrast["coronal"], lesions, noise
    )
    return _series(params, "sagittal", EXTRA, t1, rng)


def _localizer(params: CaseParams, case: RenderedCase, rng: np.random.Generator) -> Series:
    planes: tuple[Plane, ...] = ("sagittal", "coronal", "axial")
    images = tuple(
        _localizer_images(plane_stack(params, p, _stored(case.volumes[p], rng))) for p in planes
    )
    return Series(1, LOCALIZER, True, images, 0.0, 5.0, None)


def study_series(params: CaseParams, case: RenderedCase, rng: np.random.Generator) -> list[Series]:
    """The localizer (series 1), then the diagnostic series in a per-case order."""
    planes: list[Plane] = ["sagittal", "coronal", "axial"]
    order = [planes[i] for i in rng.permutation(3)]
    series = [_series(params, p, DIAGNOSTIC[p], case.volumes[p], rng) for p in order]
    rescaled = int(rng.integers(0, 3))
    slope = float(rng.choice([0.5, 2.0]))
    intercept = float(rng.choice([0.0, -64.0, 100.0]))
    series[rescaled] = replace(series[rescaled], rescale=Rescale(slope, intercept))
    if rng.random() < 0.5:
        # Before or after the sagittal series it must not displace.
        at = order.index("sagittal") + int(rng.integers(0, 2))
        series.insert(at, _extra(params, case, rng))
    numbered = [replace(s, number=n) for n, s in enumerate(series, start=2)]
    return [_localizer(params, case, rng), *numbered]
