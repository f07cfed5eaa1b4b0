"""The normal knee: bones, joint, soft tissue and ligaments as shapes.

Canonical frame of a right knee in extension (mm): x lateral, y anterior,
z superior, origin at the joint line between the femoral condyles. Sizes are
those of an average adult knee; `Anatomy` varies some of them per case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from service.synth.params import Anatomy
from service.synth.primitives import Block, Capsule, Ellipsoid, HalfSpace, Segment
from service.synth.profiles import Column, WedgeRing
from service.synth.shapes import Difference, Grown, Intersection, Shape, Union, Vec3

_JOINT_LINE_Y = -6.0  # where the femur rests on the tibia


@dataclass(frozen=True)
class Knee:
    femur: Shape
    femoral_shaft: Shape  # the diaphysis, where the cortex is thick
    notch: Shape
    tibia: Shape
    tibial_shaft: Shape  # the diaphysis
    patella: Shape
    fibula: Shape
    skin: Shape
    plateau: HalfSpace  # everything below the tibial plateau surface
    patella_back: HalfSpace  # the articular half of the patella
    medial_meniscus: WedgeRing
    lateral_meniscus: WedgeRing
    acl: Segment
    pcl: tuple[Segment, ...]


def _notch(an: Anatomy) -> Shape:
    # The roof (Blumensaat's line) runs from posterior-superior to anterior-inferior,
    # parallel to the ACL just below it.
    w = an.notch_half_width_mm
    roof = HalfSpace((0.0, -26.0, 30.0), (0.0, 0.6, 0.8))
    return Intersection([Block((-w, -70.0, -30.0), (w, 40.0, 34.0)), roof], blend=8.0)


_FEMORAL_SHAFT = Column((30.0, 300.0), (-2.0, -2.0), (15.0, 15.0), (14.0, 14.0), 30.0, 300.0)
_TIBIAL_SHAFT = Column(
    (-300.0, -80.0, -60.0, -40.0, -25.0, -14.0, 10.0),
    (-8.0, -8.0, -7.0, -6.0, -5.0, -4.0, -4.0),
    (15.0, 16.0, 19.0, 26.0, 33.0, 37.0, 38.0),
    (14.0, 15.0, 17.0, 21.0, 25.0, 27.0, 27.0),
    -300.0,
    10.0,
)  # the tibia without its plateau, spines and tuberosity
# The shafts above and below the metaphyses, where the cortex is thick.
_FEMORAL_DIAPHYSIS = Intersection(
    [_FEMORAL_SHAFT, Block((-40.0, -40.0, 60.0), (40.0, 40.0, 300.0))]
)
_TIBIAL_DIAPHYSIS = Intersection(
    [_TIBIAL_SHAFT, Block((-40.0, -40.0, -300.0), (40.0, 40.0, -70.0))]
)


def _femur(an: Anatomy, notch: Shape) -> Shape:
    s = an.condyle_scale
    low = 2.5 + 19.0 * s  # condyle centres sit so that the bone's lowest point is z = 2.5
    medial = Ellipsoid((-21.0 * s, -6.0, low), (15.0 * s, 27.0 * s, 19.0 * s))
    lateral = Ellipsoid((21.0 * s, -6.0, low), (14.0 * s, 26.0 * s, 19.0 * s))
    trochlea = Ellipsoid((0.0, 8.0, 28.0), (32.0 * s, 20.0, 20.0))
    metaphysis = Ellipsoid((0.0, -4.0, 36.0), (33.0 * s, 23.0, 24.0))
    body = Union([medial, lateral, trochlea, metaphysis, _FEMORAL_SHAFT], blend=6.0)
    groove = Capsule(Segment((0.0, 35.0, 5.0), (0.0, 31.0, 60.0)), 10.0)
    return Difference(Difference(body, groove, blend=2.0), notch, blend=1.5)


def _plateau(an: Anatomy) -> HalfSpace:
    slope = math.radians(an.tibial_slope_deg)  # the plateau falls posteriorly
    return HalfSpace((0.0, _JOINT_LINE_Y, -2.5), (0.0, -math.sin(slope), math.cos(slope)))


def _tibia(plateau: HalfSpace) -> Shape:
    spines = [
        Ellipsoid((-5.0, -2.0, -3.0), (4.5, 8.0, 6.5)),
        Ellipsoid((5.0, -3.0, -3.0), (4.5, 7.0, 6.0)),
    ]
    tuberosity = Ellipsoid((0.0, 19.0, -32.0), (11.0, 7.0, 13.0))
    plateau_block = Intersection([_TIBIAL_SHAFT, plateau], blend=4.0)
    return Union([plateau_block, *spines, tuberosity], blend=3.0)


def _patella(an: Anatomy) -> Shape:
    z = 31.0 + an.patella_height_mm
    return Intersection(
        [
            Ellipsoid((0.0, 44.0, z), (22.0, 11.0, 19.0)),
            HalfSpace((0.0, 52.0, 0.0), (0.0, 1.0, 0.0)),
        ]
    )


def _fibula() -> Shape:
    head = Ellipsoid((32.0, -20.0, -24.0), (9.0, 9.0, 10.0))
    shaft = Capsule(Segment((32.0, -20.0, -24.0), (28.0, -17.0, -300.0)), 6.5)
    return Union([head, shaft], blend=3.0)


def _skin(an: Anatomy) -> Shape:
    """The limb's outline: muscle compartment radii plus the subcutaneous fat."""
    grow = an.fat_mm
    return Column(
        (-300.0, -60.0, -20.0, 30.0, 80.0, 300.0),
        (-8.0, -8.0, 2.0, 4.0, 0.0, 0.0),
        tuple(r + grow for r in (40.0, 44.0, 47.0, 48.0, 54.0, 60.0)),
        tuple(r + grow for r in (44.0, 50.0, 51.0, 52.0, 55.0, 58.0)),
        -300.0,
        300.0,
    )


def _meniscus(an: Anatomy, plateau: HalfSpace, lateral: bool) -> WedgeRing:
    slope = math.tan(math.radians(an.tibial_slope_deg))
    cx, cy = (20.0, -6.0) if lateral else (-20.0, -5.0)
    base = -2.5 + slope * (cy - plateau.point[1]) - 0.5
    return WedgeRing(
        center=(cx, cy),
        radii=(16.0, 21.0) if lateral else (17.0, 24.0),
        inner_front=0.4 if lateral else 0.5,
        inner_back=0.4 if lateral else 0.3,  # the medial posterior horn is the widest
        height=an.meniscus_height_mm,
        base_z=base,
        slope=slope,
        gap_angle=math.pi if lateral else 0.0,  # open towards the notch
        gap_half=math.radians(22.0 if lateral else 40.0),
    )


def _bezier(p0: Vec3, p1: Vec3, p2: Vec3, t: float) -> Vec3:
    x, y, z = (
        (1 - t) ** 2 * a + 2 * (1 - t) * t * b + t**2 * c
        for a, b, c in zip(p0, p1, p2, strict=True)
    )
    return (x, y, z)


def _pcl() -> tuple[Segment, ...]:
    """A gentle arc from the medial condyle's notch wall, anterior, to the back of the tibia."""
    p0, p1, p2 = (-7.0, 2.0, 8.0), (-4.0, -22.0, 22.0), (-1.0, -30.0, -14.0)
    points = [_bezier(p0, p1, p2, i / 5) for i in range(6)]
    return tuple(Segment(a, b) for a, b in pairwise(points))


def build_knee(an: Anatomy) -> Knee:
    notch = _notch(an)
    plateau = _plateau(an)
    return Knee(
        femur=_femur(an, notch),
        femoral_shaft=_FEMORAL_DIAPHYSIS,
        notch=notch,
        tibia=_tibia(plateau),
        tibial_shaft=_TIBIAL_DIAPHYSIS,
        patella=_patella(an),
        fibula=_fibula(),
        skin=_skin(an),
        plateau=plateau,
        patella_back=HalfSpace((0.0, 44.0, 0.0), (0.0, 1.0, 0.0)),
        medial_meniscus=_meniscus(an, plateau, lateral=False),
        lateral_meniscus=_meniscus(an, plateau, lateral=True),
        acl=Segment(an.acl_femoral_mm, an.acl_tibial_mm),
        pcl=_pcl(),
    )


def above_plateau(knee: Knee, drop_mm: float) -> HalfSpace:
    """Everything above the tibial plateau surface lowered by drop_mm."""
    (px, py, pz), (nx, ny, nz) = knee.plateau.point, knee.plateau.normal
    return HalfSpace((px, py, pz - drop_mm), (-nx, -ny, -nz))


def femoral_cartilage_zone(knee: Knee) -> Shape:
    """Where the femur is articular: under and behind the condyles and the trochlear groove;
    not the notch walls, the epicondyles or the shaft."""
    weight_bearing = Block((-31.0, -50.0, -10.0), (31.0, 45.0, 14.0))
    posterior = Block((-31.0, -50.0, -10.0), (31.0, -12.0, 32.0))
    trochlea = Block((-30.0, 12.0, 14.0), (30.0, 45.0, 50.0))
    return Difference(Union([weight_bearing, posterior, trochlea]), Grown(knee.notch, 2.0))
