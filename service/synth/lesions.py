"""The findings as shapes: ACL tear or degeneration, meniscal tear, bone bruise.

A torn ACL is local: everything outside its tear zone (a swollen stretch of
30-60% of the ligament, filled with fluid-like signal and lax stumps) is
painted exactly as in the intact knee, so a render with and without the tear
differs only where the zone is visible. ACL degeneration raises the signal
inside a continuous ligament: a look-alike, not a tear.
"""

from __future__ import annotations

import math

from service.synth.anatomy import Knee
from service.synth.canvas import Stroke, stroke
from service.synth.params import AclDegeneration, AclTear, BoneBruise, MeniscusTear
from service.synth.primitives import (
    Block,
    Capsule,
    Ellipsoid,
    HalfSpace,
    Plate,
    Segment,
    Slab,
    WavyCapsule,
)
from service.synth.shapes import Intersection, Shape, Union, Vec3
from service.synth.tissues import Tissue


def _point(axis: Segment, t: float) -> Vec3:
    (ax, ay, az), (bx, by, bz) = axis.a, axis.b
    return (ax + t * (bx - ax), ay + t * (by - ay), az + t * (bz - az))


def _across(axis: Segment, angle: float) -> Vec3:
    """A unit vector perpendicular to the axis; angle 0 lies in the sagittal plane."""
    (ax, ay, az), (bx, by, bz) = axis.a, axis.b
    length = axis.length
    ux, uy, uz = (bx - ax) / length, (by - ay) / length, (bz - az) / length
    sag = (0.0, -uz / math.hypot(uy, uz), uy / math.hypot(uy, uz))  # x-axis cross u, normalised
    side = (uy * sag[2] - uz * sag[1], uz * sag[0] - ux * sag[2], ux * sag[1] - uy * sag[0])
    c, s = math.cos(angle), math.sin(angle)
    return (c * sag[0] + s * side[0], c * sag[1] + s * side[1], c * sag[2] + s * side[2])


def _tear_zone(axis: Segment, radius: float, tear: AclTear) -> Shape:
    parts: list[Shape] = [Capsule(axis, radius * tear.swelling), Slab(axis, tear.t0, tear.t1)]
    if tear.partial_offset is not None:
        normal = _across(axis, tear.partial_angle_rad)
        mid = _point(axis, 0.5 * (tear.t0 + tear.t1))
        cut = tuple(m + tear.partial_offset * radius * n for m, n in zip(mid, normal, strict=True))
        parts.append(HalfSpace((cut[0], cut[1], cut[2]), normal))
    return Intersection(parts)


def _stumps(axis: Segment, radius: float, tear: AclTear, zone: Shape) -> list[Stroke]:
    gap = tear.t1 - tear.t0
    ends = [
        (tear.t0, tear.t0 + tear.femoral_stump * gap),
        (tear.t1 - tear.tibial_stump * gap, tear.t1),
    ]
    strokes: list[Stroke] = []
    for start, stop in ends:
        if stop - start < 0.02:
            continue
        stump = WavyCapsule(
            Segment(_point(axis, start), _point(axis, stop)),
            radius * 0.75,
            tear.wave_mm,
            1.0,
            tear.wave_phase_rad,
            _across(axis, 0.0),
        )
        strokes.append(stroke(Intersection([zone, stump]), Tissue.ACL_STUMP))
    return strokes


def acl_strokes(
    knee: Knee, radius: float, tear: AclTear | None, degeneration: AclDegeneration | None
) -> list[Stroke]:
    """The ACL, then its degeneration or its tear zone and stumps on top."""
    strokes = [stroke(Capsule(knee.acl, radius), Tissue.ACL)]
    if degeneration is not None:
        inside = Intersection(
            [Capsule(knee.acl, radius * 0.8), Slab(knee.acl, degeneration.t0, degeneration.t1)]
        )
        strokes.append(stroke(inside, Tissue.ACL_DEGENERATION))
    if tear is not None:
        zone = _tear_zone(knee.acl, radius, tear)
        strokes.append(stroke(zone, Tissue.ACL_TEAR))
        strokes.extend(_stumps(knee.acl, radius, tear, zone))
    return strokes


def meniscus_tear_stroke(knee: Knee, tear: MeniscusTear) -> Stroke:
    """A fluid-bright cleft through the posterior horn, painted over meniscus only."""
    ring = knee.lateral_meniscus if tear.lateral else knee.medial_meniscus
    (cx, cy), (ax, ay) = ring.center, ring.radii
    y = cy - ay * (0.78 + 0.08 * tear.position)
    z = ring.base_z + ring.slope * (y - cy) + ring.height * (0.45 + 0.12 * tear.position)
    normals = {
        "horizontal": (0.0, -ring.slope, 1.0),
        "oblique": (0.0, 0.8, 0.6),
        "vertical": (0.0, 1.0, 0.0),
    }
    cleft = Plate((cx, y, z), normals[tear.kind], 0.9)
    horn = Block((cx - ax, cy - ay - 2.0, z - 10.0), (cx + ax, cy - 0.3 * ay, z + 10.0))
    return stroke(Intersection([horn, cleft]), Tissue.MENISCUS_TEAR, over=(Tissue.MENISCUS,))


def bone_bruise_strokes(bruise: BoneBruise) -> list[Stroke]:
    """Marrow edema of the lateral femoral condyle and/or the posterolateral tibial plateau."""
    s = bruise.size
    sites: list[Shape] = []
    if bruise.femur:
        sites.append(Ellipsoid((22.0, -2.0, 7.0), (9.0 * s, 12.0 * s, 7.0 * s)))
    if bruise.tibia:
        sites.append(Ellipsoid((20.0, -24.0, -9.0), (10.0 * s, 8.0 * s, 7.0 * s)))
    return [stroke(Union(sites), Tissue.EDEMA, over=(Tissue.MARROW,))] if sites else []
