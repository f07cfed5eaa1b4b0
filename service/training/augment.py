"""Augmentation as the published MRNet code does it: one random rotation,
translation and horizontal flip applied to every slice of a volume alike."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from service.training.config import Augmentation


def random_affine(count: int, aug: Augmentation, generator: torch.Generator) -> Tensor:
    """`count` random 2x3 affine matrices in normalised coordinates."""
    uniform = torch.rand(count, 4, generator=generator) * 2 - 1  # (count, 4) in -1..1
    angle = uniform[:, 0] * math.radians(aug.max_rotation_deg)
    shift = uniform[:, 1:3] * aug.max_shift * 2  # normalised coordinates span 2
    flip = torch.where(uniform[:, 3] < aug.flip_probability * 2 - 1, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos * flip, -sin, shift[:, 0]
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sin * flip, cos, shift[:, 1]
    return theta  # (count, 2, 3)


def warp(stack: Tensor, theta: Tensor) -> Tensor:
    """Resample slices (N, 1, H, W) by one matrix each (N, 2, 3); the outside is the minimum."""
    fill = stack.amin(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    grid = F.affine_grid(theta.to(stack), list(stack.shape), align_corners=False)
    return F.grid_sample(stack - fill, grid, align_corners=False) + fill


def augment_volume(stack: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    """The same random transform for every slice of one volume (S, 1, H, W)."""
    theta = random_affine(1, aug, generator).expand(stack.shape[0], 2, 3)
    return warp(stack, theta)


def augment_slices(stack: Tensor, aug: Augmentation, generator: torch.Generator) -> Tensor:
    """An independent random transform per slice, for slice-level training."""
    return warp(stack, random_affine(stack.shape[0], aug, generator))
