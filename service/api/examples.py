"""The example prediction body of the OpenAPI document: three tasks whose numbers add up.

Each plane's logit is its bias plus its contributions, its attention the positive
contributions normalised, so a client author can check their reading on it.
"""

from __future__ import annotations

import math
from typing import Any


def _example_plane(bias: float, contributions: list[float]) -> dict[str, Any]:
    """A consistent plane of the example body: logit = bias + sum(contributions)."""
    logit = round(bias + sum(contributions), 4)
    positive = [max(c, 0.0) for c in contributions]
    total = sum(positive)
    attention = [round(v / total, 4) if total > 0 else 0.0 for v in positive]
    order = sorted(range(len(attention)), key=lambda s: (-attention[s], s))
    return {
        "probability": round(1 / (1 + math.exp(-logit)), 4),
        "logit": logit,
        "num_slices": len(contributions),
        "attention": attention,
        "top_slices": [s for s in order[:3] if attention[s] > 0],
        "contributions": contributions,
        "bias": bias,
    }


def _example_task(task: str, probability: float, threshold: float) -> dict[str, Any]:
    planes = {
        "sagittal": _example_plane(-0.2, [0.0, 0.3, 1.2, 0.5, -0.1]),
        "coronal": _example_plane(-0.1, [0.1, 0.6, -0.2, 0.0]),
        "axial": _example_plane(0.1, [-0.3, 0.0, -0.3]),
    }
    model = {"name": "triage", "task": task, "version": "1", "architecture": "mrnet-alexnet",
             "sha256": "5d2c" + "0" * 60}  # fmt: skip
    return {"probability": probability, "positive": probability >= threshold,
            "threshold": threshold, "planes": planes, "model": model}  # fmt: skip


def prediction_example() -> dict[str, Any]:
    tasks = {
        "abnormal": _example_task("abnormal", 0.97, 0.4),
        "acl": _example_task("acl", 0.91, 0.5),
        "meniscus": _example_task("meniscus", 0.12, 0.35),
    }
    acl = tasks["acl"]
    planes = {
        plane: {key: value for key, value in result.items() if key not in ("contributions", "bias")}
        for plane, result in acl["planes"].items()
    }
    return {
        "request_id": "3f1e2b7c9a0d4e51",
        "task": "acl",
        "probability": acl["probability"],
        "positive": acl["positive"],
        "threshold": acl["threshold"],
        "planes": planes,
        "tasks": tasks,
        "model": acl["model"],
        "timing_ms": {"queue": 0.4, "inference": 820.0, "total": 861.0},
        "warnings": [],
    }
