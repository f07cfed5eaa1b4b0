"""Do the engine and the reference compute the same thing? Differences, and the verdict.

In float32 both paths must give the same logits to float tolerance (the
engine folds the first convolution and packs exams, which changes only the
order of additions). With float16 autocast on CUDA the check is on the exam
probability against a strict float32 reference (TF32 off).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch

from service.domain import PLANES, Plane


class Scored(Protocol):
    """A run's scores by exam index."""

    @property
    def logits(self) -> Mapping[int, Mapping[Plane, float]]: ...

    @property
    def probabilities(self) -> Mapping[int, float]: ...


@contextlib.contextmanager
def strict_float32() -> Iterator[None]:
    """Float32 matrix products and convolutions without TF32 on CUDA, restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _differences(reference: Scored, run: Scored) -> Iterator[tuple[int, float, float, float]]:
    """Per exam both scored: (index, max |logit diff|, max scaled diff, |probability diff|)."""
    for index, probability in run.probabilities.items():
        if index not in reference.probabilities:
            continue
        want, got = reference.logits[index], run.logits[index]
        diffs = [abs(got[p] - want[p]) for p in PLANES]
        scaled = [d / max(1.0, abs(want[p])) for d, p in zip(diffs, PLANES, strict=True)]
        yield index, max(diffs), max(scaled), abs(probability - reference.probabilities[index])


def agreement(
    reference: Scored,
    runs: Sequence[Scored],
    strict: Mapping[int, float] | None,
    tolerance: float,
    float16_tolerance: float,
) -> dict[str, Any]:
    """Largest differences between every run and the reference, and whether they pass."""
    rows = [row for run in runs for row in _differences(reference, run)]
    result: dict[str, Any] = {
        "compared": len(rows),
        "exams": len({row[0] for row in rows}),
        "max_logit_diff": max((row[1] for row in rows), default=None),
        "max_scaled_logit_diff": max((row[2] for row in rows), default=None),
        "max_probability_diff": max((row[3] for row in rows), default=None),
    }
    if strict is None:
        result["criterion"] = f"|logit diff| <= {tolerance:g} * max(1, |logit|), float32"
        result["ok"] = bool(rows) and result["max_scaled_logit_diff"] <= tolerance
        return result
    float16 = [
        abs(p - strict[i]) for run in runs for i, p in run.probabilities.items() if i in strict
    ]
    worst = max(float16, default=None)
    result["float16_vs_float32_max_probability_diff"] = worst
    result["criterion"] = f"|probability diff| <= {float16_tolerance:g}, float16 vs float32"
    result["ok"] = worst is not None and worst <= float16_tolerance
    return result
