"""Logistic-regression fusion of the three plane logits into one probability."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, model_validator

from service.domain import PLANES, Plane


def sigmoid(x: float) -> float:
    """A logistic function that does not overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class Fusion(BaseModel):
    """p = sigmoid(intercept + sum_plane coefficients[plane] * logit[plane])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coefficients: dict[Plane, float]
    intercept: float

    @model_validator(mode="after")
    def _all_planes(self) -> Fusion:
        missing = [plane for plane in PLANES if plane not in self.coefficients]
        if missing:
            raise ValueError(f"fusion has no coefficient for {', '.join(missing)}")
        return self

    def logit(self, plane_logits: Mapping[str, float]) -> float:
        return self.intercept + sum(
            self.coefficients[plane] * plane_logits[plane] for plane in PLANES
        )

    def probability(self, plane_logits: Mapping[str, float]) -> float:
        return sigmoid(self.logit(plane_logits))
