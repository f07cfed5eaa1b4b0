"""Shapes swept along a profile: columns whose section varies with height, wedge rings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.synth.primitives import ellipse_distance
from service.synth.shapes import Box, Field, Points, Shape, as_field

_EPS = 1.0e-6


@dataclass(frozen=True)
class Column(Shape):
    """A vertical elliptic column whose centre and radii vary with z (limb, tibia)."""

    knots_z: tuple[float, ...]
    center_y: tuple[float, ...]
    radius_x: tuple[float, ...]
    radius_y: tuple[float, ...]
    z_lo: float
    z_hi: float

    @property
    def lipschitz(self) -> float:
        ratio = max(
            max(rx / ry, ry / rx) for rx, ry in zip(self.radius_x, self.radius_y, strict=True)
        )
        return ratio * (1.0 + self._steepest())

    def _steepest(self) -> float:
        """The largest change of centre or radius per mm of z."""
        slopes = [0.0]
        for values in (self.center_y, self.radius_x, self.radius_y):
            for i in range(len(values) - 1):
                slopes.append(
                    abs(values[i + 1] - values[i]) / (self.knots_z[i + 1] - self.knots_z[i])
                )
        return max(slopes)

    def sdf(self, p: Points) -> Field:
        z = p.z
        cy, rx, ry = (
            self._profile(z, values) for values in (self.center_y, self.radius_x, self.radius_y)
        )
        dy = p.y - cy
        k0 = np.sqrt((p.x / rx) ** 2 + (dy / ry) ** 2)
        k1 = np.sqrt((p.x / rx**2) ** 2 + (dy / ry**2) ** 2)
        flat = ellipse_distance(k0, k1, min(min(self.radius_x), min(self.radius_y)))
        return as_field(np.maximum(flat, np.maximum(self.z_lo - z, z - self.z_hi)))

    def _profile(self, z: Field, values: tuple[float, ...]) -> Field | float:
        if min(values) == max(values):
            return values[0]
        return as_field(np.interp(z, self.knots_z, values))

    def bounds(self) -> Box:
        rx, ry = max(self.radius_x), max(self.radius_y)
        y_lo, y_hi = min(self.center_y) - ry, max(self.center_y) + ry
        return Box((-rx, y_lo, self.z_lo), (rx, y_hi, self.z_hi))


@dataclass(frozen=True)
class WedgeRing(Shape):
    """A C-shaped ring with a wedge cross-section, thick outside, thin inside (a meniscus).

    It sits on the plane z = base_z + slope * (y - center[1]); `inner_front` and
    `inner_back` are the inner radius as a fraction of the outer one at the anterior
    and posterior horn; the ring is open over `gap_half` radians around `gap_angle`.
    """

    center: tuple[float, float]
    radii: tuple[float, float]
    inner_front: float
    inner_back: float
    height: float
    base_z: float
    slope: float
    gap_angle: float
    gap_half: float

    @property
    def lipschitz(self) -> float:
        return 10.0  # not a distance: keep it out of coarse sampling

    def sdf(self, p: Points) -> Field:
        (cx, cy), (ax, ay) = self.center, self.radii
        u, v = (p.x - cx) / ax, (p.y - cy) / ay  # (...,) normalised
        rho = np.sqrt(u**2 + v**2)
        sin_t = v / np.maximum(rho, _EPS)
        inner = (
            0.5 * (self.inner_front + self.inner_back)
            + 0.5 * (self.inner_front - self.inner_back) * sin_t
        )
        base = self.base_z + self.slope * (p.y - cy)
        top = base + self.height * np.sqrt(np.clip((rho - inner) / (1.0 - inner), 0.0, 1.0))
        angle = (np.arctan2(v, u) - self.gap_angle + math.pi) % (2.0 * math.pi) - math.pi
        size = min(ax, ay)
        terms = (
            (rho - 1.0) * size,
            (inner - rho) * size,
            base - p.z,
            p.z - top,
            (self.gap_half - np.abs(angle)) * rho * size,
        )
        result = terms[0]
        for term in terms[1:]:
            result = np.maximum(result, term)
        return as_field(result)

    def bounds(self) -> Box:
        (cx, cy), (ax, ay) = self.center, self.radii
        rise = abs(self.slope) * ay
        return Box(
            (cx - ax, cy - ay, self.base_z - rise),
            (cx + ax, cy + ay, self.base_z + rise + self.height),
        )
