"""Primitive shapes: ellipsoids, boxes, planes, sheets and rods."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.synth.shapes import EVERYWHERE, Box, Field, Points, Shape, Vec3, as_field

_EPS = 1.0e-6


def _unit(v: Vec3) -> Vec3:
    norm = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def _sub(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _neg(v: Vec3) -> Vec3:
    return (-v[0], -v[1], -v[2])


def ellipse_distance(k0: Field, k1: Field, smallest: float) -> Field:
    """Quilez's ellipsoid distance bound from k0 = |p/r| and k1 = |p/r^2|.

    It is (k0 - 1) * k0 / k1; k0 / k1 lies between the smallest and the largest
    radius, so the centre (0 / 0) takes the smallest.
    """
    ratio = np.divide(k0, k1, out=np.full_like(k0, smallest), where=k1 > _EPS)
    return as_field((k0 - 1.0) * ratio)


@dataclass(frozen=True)
class Ellipsoid(Shape):
    center: Vec3
    radii: Vec3

    @property
    def lipschitz(self) -> float:
        return max(self.radii) / min(self.radii)

    def sdf(self, p: Points) -> Field:
        (cx, cy, cz), (rx, ry, rz) = self.center, self.radii
        a, b, c = (p.x - cx) / rx, (p.y - cy) / ry, (p.z - cz) / rz  # (...,) normalised
        k0 = np.sqrt(a * a + b * b + c * c)
        a /= rx
        b /= ry
        c /= rz
        k1 = np.sqrt(a * a + b * b + c * c)
        return ellipse_distance(k0, k1, min(self.radii))

    def bounds(self) -> Box:
        return Box(_sub(self.center, self.radii), _sub(self.center, _neg(self.radii)))


@dataclass(frozen=True)
class Block(Shape):
    """An axis-aligned box."""

    lo: Vec3
    hi: Vec3

    def sdf(self, p: Points) -> Field:
        qs = [
            np.abs(c - (lo + hi) / 2) - (hi - lo) / 2
            for c, lo, hi in zip((p.x, p.y, p.z), self.lo, self.hi, strict=True)
        ]
        outside = np.sqrt(sum(np.maximum(q, 0.0) ** 2 for q in qs))
        inside = np.minimum(np.maximum(np.maximum(qs[0], qs[1]), qs[2]), 0.0)
        return as_field(outside + inside)

    def bounds(self) -> Box:
        return Box(self.lo, self.hi)


@dataclass(frozen=True)
class HalfSpace(Shape):
    """Everything behind a plane: the side opposite its normal."""

    point: Vec3
    normal: Vec3

    def sdf(self, p: Points) -> Field:
        nx, ny, nz = _unit(self.normal)
        px, py, pz = self.point
        return as_field((p.x - px) * nx + (p.y - py) * ny + (p.z - pz) * nz)

    def bounds(self) -> Box:
        return EVERYWHERE


@dataclass(frozen=True)
class Plate(Shape):
    """A flat sheet of half-thickness `half` through a point (a cleft, a tear line)."""

    point: Vec3
    normal: Vec3
    half: float

    def sdf(self, p: Points) -> Field:
        return as_field(np.abs(HalfSpace(self.point, self.normal).sdf(p)) - self.half)

    def bounds(self) -> Box:
        return EVERYWHERE


@dataclass(frozen=True)
class Segment:
    """A straight axis from a to b, with the projection of points onto it."""

    a: Vec3
    b: Vec3

    @property
    def length(self) -> float:
        d = _sub(self.b, self.a)
        return math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)

    def along(self, p: Points) -> Field:
        """Signed distance along the axis from a, in mm (not clipped)."""
        ux, uy, uz = _unit(_sub(self.b, self.a))
        ax, ay, az = self.a
        return as_field((p.x - ax) * ux + (p.y - ay) * uy + (p.z - az) * uz)

    def offset(self, p: Points, t: Field) -> tuple[Field, Field, Field]:
        """Vector from the axis point at fraction t to each point."""
        (ax, ay, az), (dx, dy, dz) = self.a, _sub(self.b, self.a)
        return p.x - (ax + t * dx), p.y - (ay + t * dy), p.z - (az + t * dz)

    def clipped_fraction(self, p: Points) -> Field:
        return as_field(np.clip(self.along(p) / self.length, 0.0, 1.0))

    def box(self) -> Box:
        lo = (min(self.a[0], self.b[0]), min(self.a[1], self.b[1]), min(self.a[2], self.b[2]))
        hi = (max(self.a[0], self.b[0]), max(self.a[1], self.b[1]), max(self.a[2], self.b[2]))
        return Box(lo, hi)


@dataclass(frozen=True)
class Capsule(Shape):
    """A rod of radius r around a segment; `flatten` stretches it along `across` (tendons)."""

    axis: Segment
    radius: float
    flatten: float = 1.0
    across: Vec3 = (1.0, 0.0, 0.0)

    def sdf(self, p: Points) -> Field:
        ox, oy, oz = self.axis.offset(p, self.axis.clipped_fraction(p))  # (...,) each
        if self.flatten == 1.0:
            return as_field(np.sqrt(ox**2 + oy**2 + oz**2) - self.radius)
        nx, ny, nz = _unit(self.across)
        wide = ox * nx + oy * ny + oz * nz
        thin2 = np.maximum(ox**2 + oy**2 + oz**2 - wide**2, 0.0)
        k = np.sqrt((wide / self.flatten) ** 2 + thin2)
        return as_field(k - self.radius)

    def bounds(self) -> Box:
        return self.axis.box().grow(self.radius * max(self.flatten, 1.0))


@dataclass(frozen=True)
class WavyCapsule(Shape):
    """A rod whose centre line swings sideways like a sine: a lax, retracted ligament stump."""

    axis: Segment
    radius: float
    amplitude: float
    waves: float
    phase: float
    across: Vec3

    @property
    def lipschitz(self) -> float:
        return 1.0 + 2.0 * math.pi * self.waves * abs(self.amplitude) / max(self.axis.length, _EPS)

    def sdf(self, p: Points) -> Field:
        t = self.axis.clipped_fraction(p)  # (...,)
        ox, oy, oz = self.axis.offset(p, t)
        swing = self.amplitude * np.sin(2.0 * math.pi * self.waves * t + self.phase)
        nx, ny, nz = _unit(self.across)
        dist = np.sqrt((ox - swing * nx) ** 2 + (oy - swing * ny) ** 2 + (oz - swing * nz) ** 2)
        return as_field(dist - self.radius)

    def bounds(self) -> Box:
        return self.axis.box().grow(self.radius + abs(self.amplitude))


@dataclass(frozen=True)
class Slab(Shape):
    """The part of space between two planes across an axis, at fractions t0..t1 of it."""

    axis: Segment
    t0: float
    t1: float

    def sdf(self, p: Points) -> Field:
        s = self.axis.along(p)  # (...,) mm from a
        length = self.axis.length
        return as_field(np.maximum(self.t0 * length - s, s - self.t1 * length))

    def bounds(self) -> Box:
        return EVERYWHERE
