"""Signed distance shapes in the canonical knee frame, in millimetres, and how to combine them.

`sdf` is negative inside, zero on the surface and close to the distance in mm
near it: good enough to cut shells (cortex, cartilage, fluid) a few mm thick.
`bounds` is a conservative box, so a renderer can skip points far away;
`lipschitz` bounds how fast `sdf` changes per mm near the surface, so a
renderer may sample it coarsely where it is far from every threshold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Field = npt.NDArray[np.float32]
Vec3 = tuple[float, float, float]

_FAR = 1.0e4


@dataclass(frozen=True)
class Points:
    """Canonical coordinates of sample points; x lateral, y anterior, z superior."""

    x: Field
    y: Field
    z: Field


@dataclass(frozen=True)
class Box:
    lo: Vec3
    hi: Vec3

    def grow(self, margin: float) -> Box:
        lo = (self.lo[0] - margin, self.lo[1] - margin, self.lo[2] - margin)
        return Box(lo, (self.hi[0] + margin, self.hi[1] + margin, self.hi[2] + margin))

    def hull(self, other: Box) -> Box:
        lo = (
            min(self.lo[0], other.lo[0]),
            min(self.lo[1], other.lo[1]),
            min(self.lo[2], other.lo[2]),
        )
        hi = (
            max(self.hi[0], other.hi[0]),
            max(self.hi[1], other.hi[1]),
            max(self.hi[2], other.hi[2]),
        )
        return Box(lo, hi)

    def overlap(self, other: Box) -> Box:
        lo = (
            max(self.lo[0], other.lo[0]),
            max(self.lo[1], other.lo[1]),
            max(self.lo[2], other.lo[2]),
        )
        hi = (
            min(self.hi[0], other.hi[0]),
            min(self.hi[1], other.hi[1]),
            min(self.hi[2], other.hi[2]),
        )
        return Box(lo, hi)


EVERYWHERE = Box((-_FAR, -_FAR, -_FAR), (_FAR, _FAR, _FAR))


def as_field(value: npt.ArrayLike) -> Field:
    """The value as a float32 array, without a copy when it already is one."""
    return np.asarray(value, dtype=np.float32)


class Shape(ABC):
    @abstractmethod
    def sdf(self, p: Points) -> Field: ...

    @abstractmethod
    def bounds(self) -> Box: ...

    @property
    def lipschitz(self) -> float:
        """How many mm `sdf` may change per mm moved, near the surface."""
        return 1.0


def smooth_min(a: Field, b: Field, k: float) -> Field:
    if k <= 0.0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return as_field(b + (a - b) * h - k * h * (1.0 - h))


@dataclass(frozen=True)
class Union(Shape):
    parts: Sequence[Shape]
    blend: float = 0.0

    @property
    def lipschitz(self) -> float:
        return max(part.lipschitz for part in self.parts)

    def sdf(self, p: Points) -> Field:
        result = self.parts[0].sdf(p)
        for part in self.parts[1:]:
            result = smooth_min(result, part.sdf(p), self.blend)
        return result

    def bounds(self) -> Box:
        box = self.parts[0].bounds()
        for part in self.parts[1:]:
            box = box.hull(part.bounds())
        return box.grow(self.blend)


@dataclass(frozen=True)
class Intersection(Shape):
    parts: Sequence[Shape]
    blend: float = 0.0

    @property
    def lipschitz(self) -> float:
        return max(part.lipschitz for part in self.parts)

    def sdf(self, p: Points) -> Field:
        result = self.parts[0].sdf(p)
        for part in self.parts[1:]:
            result = -smooth_min(-result, -part.sdf(p), self.blend)
        return result

    def bounds(self) -> Box:
        box = self.parts[0].bounds()
        for part in self.parts[1:]:
            box = box.overlap(part.bounds())
        return box


@dataclass(frozen=True)
class Difference(Shape):
    """`keep` with `cut` carved out of it."""

    keep: Shape
    cut: Shape
    blend: float = 0.0

    @property
    def lipschitz(self) -> float:
        return max(self.keep.lipschitz, self.cut.lipschitz)

    def sdf(self, p: Points) -> Field:
        return -smooth_min(-self.keep.sdf(p), self.cut.sdf(p), self.blend)

    def bounds(self) -> Box:
        return self.keep.bounds()


@dataclass(frozen=True)
class Grown(Shape):
    """A shape grown outwards by `margin` mm (shrunk when negative)."""

    shape: Shape
    margin: float

    @property
    def lipschitz(self) -> float:
        return self.shape.lipschitz

    def sdf(self, p: Points) -> Field:
        return as_field(self.shape.sdf(p) - self.margin)

    def bounds(self) -> Box:
        return self.shape.bounds().grow(max(self.margin, 0.0))
