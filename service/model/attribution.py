"""Exact per-slice attribution for max-over-slices models.

With a max over slices every one of the 256 volume features comes from one
slice, so the logit splits exactly into per-slice parts:

    logit = b + sum_s sum_{f: argmax(f) = s} w_f * h[s, f]

The contribution of slice s is its inner sum. Attention is the positive
contributions normalised to sum to 1 (all zeros when none is positive). The
class activation map of slice s spreads its contribution over the last feature
maps: sum_{f: argmax(f) = s} w_f * A_f(x, y), whose spatial mean is exactly the
contribution of s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

TOP_SLICES = 3


@dataclass(frozen=True)
class SliceAttribution:
    """One volume's logit and how each slice adds to it."""

    logit: float
    bias: float
    contributions: list[float]  # one per slice; bias + sum == logit
    attention: list[float]  # positive contributions normalised to sum 1, or all 0
    top_slices: list[int]  # slices by attention, highest first, ties by index


def slice_contributions(embeddings: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Per-slice contributions (S,) and the argmax slice of each feature (256,).

    `embeddings` is one volume's per-slice features (S, 256), `weight` the
    classifier's (256,) weights.
    """
    values, argmax = embeddings.max(dim=0)  # (256,), (256,)
    parts = weight * values  # (256,)
    contributions = torch.zeros(embeddings.shape[0], dtype=parts.dtype, device=parts.device)
    contributions.scatter_add_(0, argmax, parts)  # (S,)
    return contributions, argmax


def attention_from(contributions: Tensor) -> Tensor:
    """Positive parts normalised to 1; zeros where nothing is positive."""
    positive = contributions.clamp(min=0)  # (S,)
    total = positive.sum()
    return positive / total if total > 0 else positive


def top_slices(attention: Tensor, k: int = TOP_SLICES) -> list[int]:
    """Up to k slices with positive attention, highest first, lower index on ties."""
    values = attention.tolist()
    order = sorted(range(len(values)), key=lambda s: (-values[s], s))
    return [s for s in order[:k] if values[s] > 0]


def attribute(embeddings: Tensor, weight: Tensor, bias: Tensor) -> SliceAttribution:
    """The full attribution of one volume from its per-slice features (S, 256)."""
    return attribute_heads(embeddings, weight.reshape(1, -1), bias.reshape(1))[0]


def attribute_heads(embeddings: Tensor, weights: Tensor, biases: Tensor) -> list[SliceAttribution]:
    """One attribution per head from the same per-slice features (S, 256).

    `weights` (K, 256) and `biases` (K,) are K rows of a plane's classifier:
    the max over slices is taken once, and each head splits its own logit.
    """
    values, argmax = embeddings.double().max(dim=0)  # (256,), (256,)
    weights64, biases64 = weights.double(), biases.reshape(-1).double()  # (K, 256), (K,)
    parts = weights64 * values  # (K, 256)
    contributions = torch.zeros(
        (parts.shape[0], embeddings.shape[0]), dtype=parts.dtype, device=parts.device
    )
    contributions.scatter_add_(1, argmax.expand_as(parts), parts)  # (K, S)
    results = []
    for row, bias in zip(contributions, biases64, strict=True):  # (S,), ()
        attention = attention_from(row)
        results.append(
            SliceAttribution(
                logit=float(bias + row.sum()),
                bias=float(bias),
                contributions=row.tolist(),
                attention=attention.tolist(),
                top_slices=top_slices(attention),
            )
        )
    return results


def class_activation_map(
    maps: Tensor, argmax: Tensor, weight: Tensor, index: int, size: tuple[int, int]
) -> Tensor:
    """The CAM of slice `index`, upsampled bilinearly to `size` (H, W).

    `maps` are the slice's last feature maps (256, h, w), `argmax` the slice of
    each feature in its volume (256,), `weight` the classifier weights (256,).
    The map's mean before upsampling equals the slice's contribution.
    """
    owned = (argmax == index).to(maps.dtype) * weight.reshape(-1).to(maps.dtype)  # (256,)
    cam = torch.einsum("f,fhw->hw", owned, maps)  # (h, w)
    upsampled = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)
    return upsampled[0, 0]  # (H, W)
