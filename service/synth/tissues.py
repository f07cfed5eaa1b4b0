"""Tissue labels of the phantom: one uint8 code per kind of tissue."""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class Tissue(IntEnum):
    AIR = 0
    SKIN = 1
    FAT = 2
    MUSCLE = 3
    VESSEL = 4
    FLUID = 5
    TENDON = 6
    LIGAMENT = 7
    MENISCUS = 8
    MENISCUS_TEAR = 9
    CARTILAGE = 10
    CORTEX = 11
    MARROW = 12
    EDEMA = 13
    ACL = 14
    ACL_DEGENERATION = 15
    ACL_TEAR = 16
    ACL_STUMP = 17


NUM_TISSUES: Final = len(Tissue)

# Every label that belongs to the anterior cruciate ligament, intact or torn.
ACL_REGION: Final[tuple[Tissue, ...]] = (
    Tissue.ACL,
    Tissue.ACL_DEGENERATION,
    Tissue.ACL_TEAR,
    Tissue.ACL_STUMP,
)
# The labels that exist only where the ligament is torn: the fluid gap and the stumps in it.
TEAR_REGION: Final[tuple[Tissue, ...]] = (Tissue.ACL_TEAR, Tissue.ACL_STUMP)
# The menisci, intact or torn: their slices give the meniscus task its hard negatives.
MENISCUS_REGION: Final[tuple[Tissue, ...]] = (Tissue.MENISCUS, Tissue.MENISCUS_TEAR)
MENISCUS_TEAR_REGION: Final[tuple[Tissue, ...]] = (Tissue.MENISCUS_TEAR,)
# A bone bruise is marrow edema.
BRUISE_REGION: Final[tuple[Tissue, ...]] = (Tissue.EDEMA,)
