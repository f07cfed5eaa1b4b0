"""Everything that decides one synthetic case, as plain frozen data.

A case is rendered from a `CaseParams` alone, so the same parameters give the
same bytes, and a test can render one knee twice, with and without a finding
(`dataclasses.replace(params, acl_tear=None)`). Lengths are millimetres in the
canonical knee frame (x lateral, y anterior, z superior, origin at the joint
line between the condyles), angles are degrees unless a name says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from service.domain import Plane

TearKind = Literal["horizontal", "oblique", "vertical"]
Finding = Literal["acl_tear", "meniscus_tear", "effusion", "bone_bruise", "acl_degeneration"]
FINDINGS: Final[tuple[Finding, ...]] = (
    "acl_tear",
    "meniscus_tear",
    "effusion",
    "bone_bruise",
    "acl_degeneration",
)


@dataclass(frozen=True)
class Pose:
    """Canonical knee to scanner: world = shift + R @ (scale * M @ p).

    R turns by rotation (about z), varus (y) and flexion (x); M mirrors x for a
    right knee, whose lateral side is the patient's right.
    """

    flexion_deg: float
    varus_deg: float
    rotation_deg: float
    shift_mm: tuple[float, float, float]
    scale: float
    left_knee: bool


@dataclass(frozen=True)
class Anatomy:
    """Per-case sizes of the canonical knee."""

    condyle_scale: float
    notch_half_width_mm: float
    acl_radius_mm: float
    acl_femoral_mm: tuple[float, float, float]
    acl_tibial_mm: tuple[float, float, float]
    pcl_radius_mm: float
    cartilage_mm: float
    cortex_mm: float
    fat_mm: float
    meniscus_height_mm: float
    patella_height_mm: float
    tibial_slope_deg: float


@dataclass(frozen=True)
class SliceSpec:
    """One series: how many slices, how far apart, and the square field of view."""

    num_slices: int
    spacing_mm: float
    fov_mm: float
    offset_mm: tuple[float, float, float]  # along (slice, row, column) from the knee centre


@dataclass(frozen=True)
class PlaneContrast:
    """Per-case variation of one series' appearance."""

    tissue_gain: tuple[float, ...]  # one multiplier per Tissue
    window: float
    noise: float
    blur_px: float  # in-plane partial-volume blur, in pixels of the 128 label grid
    bias: tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class AclTear:
    """A local tear: over fractions t0..t1 of the ligament (femur 0, tibia 1) it is a gap."""

    t0: float
    t1: float
    signal: float  # 0: ligament signal, 1: full fluid signal in the gap
    swelling: float  # gap radius / ligament radius
    partial_offset: float | None  # None: full thickness; else the cut plane, in radii from the axis
    partial_angle_rad: float
    femoral_stump: float  # stump lengths as fractions of the gap
    tibial_stump: float
    wave_mm: float
    wave_phase_rad: float


@dataclass(frozen=True)
class AclDegeneration:
    """Mucoid degeneration: raised signal inside a continuous ligament (not a tear)."""

    t0: float
    t1: float
    signal: float


@dataclass(frozen=True)
class MeniscusTear:
    lateral: bool  # most tears are in the posterior horn of the medial meniscus
    kind: TearKind
    position: float  # -1..1, where across the horn the cleft runs
    signal: float


@dataclass(frozen=True)
class BoneBruise:
    femur: bool  # lateral femoral condyle
    tibia: bool  # posterolateral tibial plateau
    size: float


@dataclass(frozen=True)
class CaseParams:
    number: int
    anatomy: Anatomy
    pose: Pose
    slices: Mapping[Plane, SliceSpec]
    contrast: Mapping[Plane, PlaneContrast]
    acl_tear: AclTear | None
    acl_degeneration: AclDegeneration | None
    meniscus_tear: MeniscusTear | None
    effusion: float  # 0: a thin normal film of joint fluid; up to 1: a large effusion
    bone_bruise: BoneBruise | None
    noise_seed: int

    @property
    def findings(self) -> list[Finding]:
        present = {
            "acl_tear": self.acl_tear is not None,
            "meniscus_tear": self.meniscus_tear is not None,
            "effusion": self.effusion > 0.0,
            "bone_bruise": self.bone_bruise is not None,
            "acl_degeneration": self.acl_degeneration is not None,
        }
        return [name for name in FINDINGS if present[name]]

    @property
    def labels(self) -> dict[str, int]:
        """MRNet's three tasks. ACL degeneration alone is not abnormal: it is a confounder."""
        acl = self.acl_tear is not None
        meniscus = self.meniscus_tear is not None
        other = self.effusion > 0.0 or self.bone_bruise is not None
        return {
            "abnormal": int(acl or meniscus or other),
            "acl": int(acl),
            "meniscus": int(meniscus),
        }
