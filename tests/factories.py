"""Builders shared by the tests: random-weight packages."""

from __future__ import annotations

import torch

from service.datasets.layout import PLANES, Plane
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.store.manifest import PackageDraft, Threshold, Training


def random_states(seed: int) -> dict[Plane, dict[str, torch.Tensor]]:
    """Plane state dicts with random weights, reproducible for a seed."""
    torch.manual_seed(seed)
    return {plane: MRNetPlane().state_dict() for plane in PLANES}


def draft(task: str = "acl") -> PackageDraft:
    return PackageDraft(
        task=task,
        fusion=Fusion(coefficients={"axial": 0.5, "coronal": 0.8, "sagittal": 1.2}, intercept=-0.3),
        threshold=Threshold(value=0.5, method="fixed for tests"),
        training=Training(source="test", command="pytest"),
        intended_use="Random weights for tests; not a model.",
    )
