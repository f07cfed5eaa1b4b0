"""Where a stack of slices lies in the patient, and how to turn it to its plane's view.

Patient coordinates are DICOM's LPS: +x to the patient's left, +y posterior,
+z to the head. The views are the radiological ones MRNet's volumes have (and
the synthetic data's, see `service.synth.study`), written as the directions of
a volume's axes (slices, rows down, columns right):

- sagittal: columns run anterior to posterior (+y), rows head to feet (-z),
  slices from the patient's right to left (+x);
- coronal: columns run from the patient's right to left (+x), rows head to feet
  (-z), slices posterior to anterior (-y);
- axial: columns run right to left (+x), rows anterior to posterior (+y),
  slices head to feet (-z).

In-plane these are the usual scanner orientations (ImageOrientationPatient
``0\\1\\0\\0\\0\\-1``, ``1\\0\\0\\0\\0\\-1``, ``1\\0\\0\\0\\1\\0``), with the
slices in decreasing order along their normal ``row x column``; any other
storage order is turned to them with nibabel's orientation helpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from nibabel.orientations import apply_orientation, io_orientation, ornt_transform

from service.domain import Plane

Vector = npt.NDArray[np.float64]
OBLIQUE_DEGREES: Final = 20.0
PLANE_OF_AXIS: Final[tuple[Plane, Plane, Plane]] = ("sagittal", "coronal", "axial")

# per volume axis (slices, rows, columns): the LPS axis it runs along and its sign
VIEWS: Final[dict[Plane, npt.NDArray[np.float64]]] = {
    "sagittal": np.array([[0, 1], [2, -1], [1, 1]], dtype=np.float64),
    "coronal": np.array([[1, -1], [2, -1], [0, 1]], dtype=np.float64),
    "axial": np.array([[2, -1], [1, 1], [0, 1]], dtype=np.float64),
}


@dataclass(frozen=True)
class SliceFrame:
    """Row and column direction cosines of a slice (ImageOrientationPatient)."""

    row: Vector  # (3,) the direction of increasing column index
    column: Vector  # (3,) the direction of increasing row index

    @classmethod
    def from_cosines(cls, cosines: tuple[float, ...]) -> SliceFrame:
        values = np.asarray(cosines, dtype=np.float64)
        if values.shape != (6,) or not np.isfinite(values).all():
            raise ValueError(f"ImageOrientationPatient {list(cosines)} is not six numbers")
        row, column = values[:3], values[3:]
        for name, vector in (("row", row), ("column", column)):
            if not 0.9 < float(np.linalg.norm(vector)) < 1.1:
                raise ValueError(f"ImageOrientationPatient's {name} cosines are not a unit vector")
        if abs(float(row @ column)) > 0.1:
            raise ValueError("ImageOrientationPatient's row and column are not perpendicular")
        return cls(row / np.linalg.norm(row), column / np.linalg.norm(column))

    @property
    def normal(self) -> Vector:
        normal: Vector = np.cross(self.row, self.column)
        return normal / np.linalg.norm(normal)


def plane_of(normal: Vector) -> tuple[Plane, float]:
    """The plane a slice normal is closest to, and how many degrees it is off that axis."""
    axis = int(np.argmax(np.abs(normal)))
    cosine = min(1.0, float(abs(normal[axis])))
    return PLANE_OF_AXIS[axis], math.degrees(math.acos(cosine))


def to_view(
    volume: npt.NDArray[np.generic], directions: Vector, plane: Plane
) -> tuple[npt.NDArray[np.generic], tuple[int, int, int], tuple[float, float, float]]:
    """Turn a volume to its plane's view.

    ``directions`` (3, 3) holds, as columns, each volume axis's step in patient
    space (LPS, mm): a DICOM stack's are normal * spacing, column * row spacing,
    row * column spacing; a NIfTI file's are its affine's. Returns the turned
    volume, the permutation applied (new axis -> old axis) and the voxel sizes
    along the new axes.
    """
    affine = np.eye(4)
    affine[:3, :3] = directions
    start = io_orientation(affine)  # type: ignore[no-untyped-call]
    transform = ornt_transform(start, VIEWS[plane])  # type: ignore[no-untyped-call]
    turned: npt.NDArray[np.generic] = apply_orientation(volume, transform)  # type: ignore[no-untyped-call]
    steps = np.linalg.norm(directions, axis=0)  # (3,) mm per voxel along each old axis
    old_of_new = [0, 0, 0]
    for old, (new, _) in enumerate(transform):
        old_of_new[int(new)] = old
    order = (old_of_new[0], old_of_new[1], old_of_new[2])
    sizes = (float(steps[order[0]]), float(steps[order[1]]), float(steps[order[2]]))
    return turned, order, sizes
