"""Draw the parameters of one case from its own random stream.

Every draw happens whether or not the plan uses it, so a case's anatomy,
pose and contrast depend on (seed, number) only, never on its findings.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from service.domain import PLANES, Plane
from service.synth.cohort import CasePlan
from service.synth.params import (
    AclDegeneration,
    AclTear,
    Anatomy,
    BoneBruise,
    CaseParams,
    MeniscusTear,
    PlaneContrast,
    Pose,
    SliceSpec,
    TearKind,
)
from service.synth.tissues import NUM_TISSUES

# Slice count ranges and through-plane coverage (mm) per series, after MRNet-v1.0.
_SLICES: Final[dict[Plane, tuple[int, int, float, float]]] = {
    "sagittal": (22, 45, 85.0, 120.0),
    "coronal": (20, 40, 85.0, 120.0),
    "axial": (20, 50, 100.0, 140.0),
}
_FOV_MM: Final[dict[Plane, tuple[float, float]]] = {
    "sagittal": (120.0, 150.0),
    "coronal": (120.0, 150.0),
    "axial": (115.0, 145.0),
}
# Centre of each series relative to the knee centre, along its slice direction (mm).
# Axial slices run downwards, so -12 centres them 12 mm above the joint line, over
# the patella as well as the joint.
_CENTRE_MM: Final[dict[Plane, float]] = {"sagittal": 1.0, "coronal": -2.0, "axial": -12.0}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _vec(rng: np.random.Generator, spread: float) -> tuple[float, float, float]:
    a, b, c = rng.uniform(-spread, spread, 3)
    return (float(a), float(b), float(c))


def _anatomy(rng: np.random.Generator) -> Anatomy:
    fx, fy, fz = _vec(rng, 1.5)
    tx, ty, tz = _vec(rng, 1.5)
    return Anatomy(
        condyle_scale=_u(rng, 0.93, 1.07),
        notch_half_width_mm=_u(rng, 8.5, 11.0),
        acl_radius_mm=_u(rng, 4.6, 5.8),
        acl_femoral_mm=(6.5 + fx, -20.0 + fy, 20.0 + fz),
        acl_tibial_mm=(0.0 + tx, 8.0 + ty, -1.5 + tz),
        pcl_radius_mm=_u(rng, 5.8, 7.2),
        cartilage_mm=_u(rng, 2.0, 3.0),
        cortex_mm=_u(rng, 1.2, 1.9),
        fat_mm=_u(rng, 4.0, 16.0),
        meniscus_height_mm=_u(rng, 6.5, 8.5),
        patella_height_mm=_u(rng, -4.0, 8.0),
        tibial_slope_deg=_u(rng, 4.0, 11.0),
    )


def _pose(rng: np.random.Generator) -> Pose:
    return Pose(
        flexion_deg=_u(rng, -10.0, 10.0),
        varus_deg=_u(rng, -4.0, 4.0),
        rotation_deg=_u(rng, -8.0, 8.0),
        shift_mm=_vec(rng, 4.0),
        scale=_u(rng, 0.85, 1.15),
        left_knee=bool(rng.random() < 0.5),
    )


def _slices(rng: np.random.Generator, plane: Plane, scale: float) -> SliceSpec:
    lo, hi, cover_lo, cover_hi = _SLICES[plane]
    count = int(rng.integers(lo, hi + 1))
    spacing = float(np.clip(_u(rng, cover_lo, cover_hi) * scale / count, 2.2, 4.8))
    fov = _u(rng, *_FOV_MM[plane]) * scale
    ds, dr, dc = _vec(rng, 5.0)
    return SliceSpec(count, spacing, fov, (_CENTRE_MM[plane] * scale + ds, dr, dc))


def _contrast(rng: np.random.Generator) -> PlaneContrast:
    gains = rng.uniform(0.85, 1.15, NUM_TISSUES)
    b0, b1, b2, b3, b4, b5 = (float(b) for b in rng.normal(0.0, 0.08, 6))
    return PlaneContrast(
        tissue_gain=tuple(float(g) for g in gains),
        window=_u(rng, 0.88, 1.05),
        noise=_u(rng, 0.015, 0.045),
        blur_px=_u(rng, 0.35, 0.65),
        bias=(b0, b1, b2, b3, b4, b5),
    )


def _acl_tear(rng: np.random.Generator) -> AclTear:
    length = _u(rng, 0.35, 0.60)
    start = _u(rng, 0.15, 0.85 - length)
    subtle = rng.random() < 0.15
    partial = rng.random() < 0.15
    return AclTear(
        t0=start,
        t1=start + length,
        signal=_u(rng, 0.45, 0.75) if subtle else _u(rng, 0.8, 1.0),
        swelling=_u(rng, 1.6, 2.2),
        partial_offset=_u(rng, -0.3, 0.4) if partial else None,
        partial_angle_rad=_u(rng, 0.0, 2.0 * math.pi),
        femoral_stump=_u(rng, 0.0, 0.35),
        tibial_stump=_u(rng, 0.0, 0.35),
        wave_mm=_u(rng, 0.0, 2.5),
        wave_phase_rad=_u(rng, 0.0, 2.0 * math.pi),
    )


def _degeneration(rng: np.random.Generator) -> AclDegeneration:
    length = _u(rng, 0.3, 0.7)
    start = _u(rng, 0.1, 0.9 - length)
    return AclDegeneration(t0=start, t1=start + length, signal=_u(rng, 0.15, 0.4))


def _meniscus_tear(rng: np.random.Generator) -> MeniscusTear:
    kinds: tuple[TearKind, ...] = ("horizontal", "oblique", "vertical")
    kind = kinds[int(rng.integers(0, 3))]
    return MeniscusTear(
        lateral=bool(rng.random() < 0.2),
        kind=kind,
        position=_u(rng, -1.0, 1.0),
        signal=_u(rng, 0.6, 1.0),
    )


def _bruise(rng: np.random.Generator) -> BoneBruise:
    site = rng.random()
    return BoneBruise(femur=bool(site < 0.7), tibia=bool(site > 0.4), size=_u(rng, 0.7, 1.2))


def sample_case(number: int, plan: CasePlan, seed: int) -> CaseParams:
    """The parameters of case `number`, drawn from the stream (seed, number)."""
    rng = np.random.default_rng([seed, number])
    anatomy, pose = _anatomy(rng), _pose(rng)
    slices = {plane: _slices(rng, plane, pose.scale) for plane in PLANES}
    contrast = {plane: _contrast(rng) for plane in PLANES}
    tear, degeneration = _acl_tear(rng), _degeneration(rng)
    meniscus, bruise = _meniscus_tear(rng), _bruise(rng)
    effusion = _u(rng, 0.3, 1.0)
    return CaseParams(
        number=number,
        anatomy=anatomy,
        pose=pose,
        slices=slices,
        contrast=contrast,
        acl_tear=tear if plan.acl_tear else None,
        acl_degeneration=degeneration if plan.acl_degeneration else None,
        meniscus_tear=meniscus if plan.meniscus_tear else None,
        effusion=effusion if plan.effusion else 0.0,
        bone_bruise=bruise if plan.bone_bruise else None,
        noise_seed=int(rng.integers(0, 2**63 - 1)),
    )
