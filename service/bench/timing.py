"""Latency summaries: percentiles of a list of durations in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 90, 99)


def percentile(values_ms: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), or None for no values."""
    if not values_ms:
        return None
    return round(float(np.percentile(np.asarray(values_ms, dtype=np.float64), q)), 3)


def summarize(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean and the p50, p90 and p99 of durations in milliseconds."""
    summary: dict[str, float | int | None] = {
        "count": len(values_ms),
        "mean": round(float(np.mean(values_ms)), 3) if values_ms else None,
    }
    for q in PERCENTILES:
        summary[f"p{q}"] = percentile(values_ms, q)
    return summary
