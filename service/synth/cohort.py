"""Which cases of a split get which findings, at MRNet-v1.0's prevalences.

Tear counts are exact (`round(prevalence * n)` positives, shuffled), so a small
split still has the intended balance. Effusion and bone bruise are more common
with an ACL tear but also occur without one, so neither gives the ACL label
away. `abnormal` is a tear, an effusion or a bone bruise; cases that are
abnormal without a tear get at least one of the latter two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np


@dataclass(frozen=True)
class Prevalence:
    acl: float
    meniscus: float
    abnormal: float


# MRNet-v1.0: train 1130 exams (acl 18%, meniscus 36%, abnormal 81%); valid 120 (45%, 43%, 79%).
PREVALENCE: Final[dict[str, Prevalence]] = {
    "train": Prevalence(acl=0.18, meniscus=0.33, abnormal=0.80),
    "valid": Prevalence(acl=0.45, meniscus=0.43, abnormal=0.80),
}

# Probability of effusion / bone bruise given the case's tears.
_EFFUSION: Final = {"acl": 0.65, "meniscus": 0.40, "other": 0.70}
_BRUISE: Final = {"acl": 0.50, "meniscus": 0.15, "other": 0.40}
_DEGENERATION: Final = 0.15  # of intact ACLs, in any case
_MENISCUS_WITH_ACL: Final = 2.5  # relative odds of a meniscal tear when the ACL is torn


@dataclass(frozen=True)
class CasePlan:
    acl_tear: bool
    meniscus_tear: bool
    effusion: bool
    bone_bruise: bool
    acl_degeneration: bool


def _exact(rng: np.random.Generator, n: int, share: float, weights: np.ndarray) -> np.ndarray:
    """A boolean mask with exactly round(share * n) True, drawn with the given weights."""
    chosen = np.zeros(n, dtype=bool)  # (n,)
    count = min(round(share * n), int(np.count_nonzero(weights)))
    if count > 0:
        picked = rng.choice(n, size=count, replace=False, p=weights / weights.sum())
        chosen[picked] = True
    return chosen


def _others(rng: np.random.Generator, tears: np.ndarray, abnormal: float) -> np.ndarray:
    """Cases without a tear that are abnormal for other reasons, to reach the abnormal share."""
    n = len(tears)
    wanted = max(0, round(abnormal * n) - int(tears.sum()))
    return _exact(rng, n, wanted / n if n else 0.0, (~tears).astype(float))


def sample_plans(n: int, prevalence: Prevalence, rng: np.random.Generator) -> list[CasePlan]:
    """The findings of n cases of one split, in case order."""
    if n == 0:
        return []
    acl = _exact(rng, n, prevalence.acl, np.ones(n))
    meniscus = _exact(rng, n, prevalence.meniscus, np.where(acl, _MENISCUS_WITH_ACL, 1.0))
    other = _others(rng, acl | meniscus, prevalence.abnormal)
    group = np.where(acl, "acl", np.where(meniscus, "meniscus", "other"))  # (n,)
    draws = rng.random((4, n))  # (4, n): effusion, bruise, which one for "other", degeneration
    effusion = draws[0] < np.array([_EFFUSION[g] for g in group])
    bruise = draws[1] < np.array([_BRUISE[g] for g in group])
    effusion &= acl | meniscus | other
    bruise &= acl | meniscus | other
    neither = other & ~effusion & ~bruise
    effusion |= neither & (draws[2] < 0.6)
    bruise |= neither & (draws[2] >= 0.6)
    degeneration = ~acl & (draws[3] < _DEGENERATION)
    return [
        CasePlan(bool(a), bool(m), bool(e), bool(b), bool(d))
        for a, m, e, b, d in zip(acl, meniscus, effusion, bruise, degeneration, strict=True)
    ]
