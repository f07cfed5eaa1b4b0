"""Where every pixel of a series lies: in the scanner (world) and in the canonical knee.

World axes: x to the patient's left, y anterior, z superior, in mm. Display
conventions follow clinical viewers: sagittal rows run superior to inferior
with anterior on the left; coronal rows superior to inferior with the
patient's right on the left; axial rows anterior to posterior. Slices run
right to left (sagittal), posterior to anterior (coronal), superior to
inferior (axial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import numpy as np
import numpy.typing as npt

from service.domain import Plane
from service.synth.params import Pose, SliceSpec
from service.synth.shapes import Box, Points

Matrix = npt.NDArray[np.float64]
IndexBox = tuple[slice, slice, slice]

# Unit vectors (world) of increasing slice, row and column index.
_AXES: Final[dict[Plane, tuple[tuple[float, float, float], ...]]] = {
    "sagittal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "coronal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
    "axial": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0)),
}


def _rotation(pose: Pose) -> Matrix:
    fx, vy, rz = (math.radians(a) for a in (pose.flexion_deg, pose.varus_deg, pose.rotation_deg))
    rot_x = np.array([[1, 0, 0], [0, math.cos(fx), -math.sin(fx)], [0, math.sin(fx), math.cos(fx)]])
    rot_y = np.array([[math.cos(vy), 0, math.sin(vy)], [0, 1, 0], [-math.sin(vy), 0, math.cos(vy)]])
    rot_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    return np.asarray(rot_z @ rot_y @ rot_x, dtype=np.float64)


def world_from_canonical(pose: Pose) -> tuple[Matrix, Matrix]:
    """(A, t) with world = A @ canonical + t. A right knee's lateral side is the patient's right."""
    mirror = np.diag([1.0 if pose.left_knee else -1.0, 1.0, 1.0])
    return _rotation(pose) @ (pose.scale * mirror), np.asarray(pose.shift_mm, dtype=np.float64)


@dataclass(frozen=True)
class PlaneGeometry:
    """World position of voxel (k, i, j): origin + k * steps[0] + i * steps[1] + j * steps[2]."""

    shape: tuple[int, int, int]
    origin: Matrix  # (3,)
    steps: Matrix  # (3, 3): rows are the slice, row and column steps

    def world(self, index: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> Matrix:
        """World mm of (..., 3) voxel indices (k, i, j), fractional ones allowed."""
        return self.origin + np.asarray(index, dtype=np.float64) @ self.steps


def plane_geometry(plane: Plane, spec: SliceSpec, pose: Pose, size: int) -> PlaneGeometry:
    """The sampling geometry of one series at `size` x `size` pixels per slice."""
    axes = np.asarray(_AXES[plane], dtype=np.float64)  # (3, 3)
    pixel = spec.fov_mm / size
    steps = axes * np.array([[spec.spacing_mm], [pixel], [pixel]])  # (3, 3)
    centre = np.asarray(pose.shift_mm) + np.asarray(spec.offset_mm) @ axes  # (3,)
    half = np.array([spec.num_slices - 1, size - 1, size - 1]) / 2.0
    return PlaneGeometry((spec.num_slices, size, size), centre - half @ steps, steps)


@dataclass(frozen=True)
class SliceGrid:
    """The same voxels in canonical knee coordinates, for evaluating the phantom."""

    shape: tuple[int, int, int]
    origin: Matrix  # (3,) canonical mm of voxel (0, 0, 0)
    steps: Matrix  # (3, 3)

    @classmethod
    def from_geometry(cls, geometry: PlaneGeometry, pose: Pose) -> SliceGrid:
        forward, shift = world_from_canonical(pose)
        inverse = np.linalg.inv(forward)
        origin = inverse @ (geometry.origin - shift)
        return cls(geometry.shape, origin, geometry.steps @ inverse.T)

    @property
    def pixel_mm(self) -> float:
        """In-plane pixel size in canonical mm."""
        return float(np.linalg.norm(self.steps[1]))

    @cached_property
    def _coordinates(self) -> tuple[npt.NDArray[np.float32], ...]:
        k, i, j = (np.arange(n, dtype=np.float32) for n in self.shape)
        return tuple(
            (
                np.float32(self.origin[c])
                + k[:, None, None] * np.float32(self.steps[0, c])
                + i[None, :, None] * np.float32(self.steps[1, c])
                + j[None, None, :] * np.float32(self.steps[2, c])
            ).astype(np.float32)  # (S, h, w)
            for c in range(3)
        )

    def points(self, where: IndexBox) -> Points:
        x, y, z = self._coordinates
        return Points(x[where], y[where], z[where])

    def index_box(self, box: Box) -> IndexBox | None:
        """The smallest index block that holds every voxel inside `box`, or None."""
        lo, hi = np.asarray(box.lo), np.asarray(box.hi)
        ranges = [(0, n) for n in self.shape]
        for axis in range(3):
            spread_lo, spread_hi = self.origin.copy(), self.origin.copy()
            for other in (a for a in range(3) if a != axis):
                ends = np.outer(
                    [ranges[other][0], ranges[other][1] - 1], self.steps[other]
                )  # (2, 3)
                spread_lo += ends.min(axis=0)
                spread_hi += ends.max(axis=0)
            index = np.arange(*ranges[axis])
            moved = index[:, None] * self.steps[axis]  # (n, 3)
            inside = np.all((spread_hi + moved >= lo) & (spread_lo + moved <= hi), axis=1)
            hits = np.flatnonzero(inside)
            if hits.size == 0:
                return None
            ranges[axis] = (int(index[hits[0]]), int(index[hits[-1]]) + 1)
        return (slice(*ranges[0]), slice(*ranges[1]), slice(*ranges[2]))
