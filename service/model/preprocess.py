"""Input preprocessing as data: a package's `InputSpec` says what its weights expect.

Packages trained here: resize to 256x256 when needed, min-max to 0..255, then
`(x - 58.09) / 49.73` (the published MRNet constants). Imported packages keep
the preprocessing their weights were trained with (crop, raw intensities ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

MRNET_MEAN = 58.09
MRNET_STD = 49.73


class InputSpec(BaseModel):
    """How a volume becomes the network's input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(256, ge=32, le=1024, description="square slice size the weights expect")
    crop: int | None = Field(None, ge=32, description="centre crop after resizing, if any")
    intensity: Literal["minmax", "raw"] = Field(
        "minmax", description="'minmax': rescale each volume to 0..scale_max; 'raw': as stored"
    )
    scale_max: float = Field(255.0, gt=0)
    mean: float = MRNET_MEAN
    std: float = Field(MRNET_STD, gt=0)
    channels: Literal[3] = Field(3, description="the gray slice is repeated to 3 channels")

    @model_validator(mode="after")
    def _crop_fits(self) -> InputSpec:
        if self.crop is not None and self.crop > self.size:
            raise ValueError(f"crop {self.crop} is larger than the slice size {self.size}")
        return self

    @property
    def network_size(self) -> int:
        return self.crop if self.crop is not None else self.size


@dataclass
class PreparedVolume:
    """A volume ready for the network, and what was done to it that a user should know."""

    slices: Tensor  # (S, 1, h, w) float32, gray; the network repeats to 3 channels
    original_shape: tuple[int, int, int]
    warnings: list[str] = field(default_factory=list)


def _resize(volume: Tensor, size: int) -> Tensor:
    stack = volume[:, None]  # (S, 1, H, W)
    if volume.shape[1:] == (size, size):
        return stack
    return F.interpolate(stack, size=(size, size), mode="bilinear", antialias=True)


def centre_crop(stack: Tensor, crop: int) -> Tensor:
    height, width = stack.shape[-2:]
    top, left = (height - crop) // 2, (width - crop) // 2
    return stack[..., top : top + crop, left : left + crop]


def _intensity(stack: Tensor, spec: InputSpec, warnings: list[str]) -> Tensor:
    if spec.intensity == "minmax":
        low, high = stack.min(), stack.max()
        if high > low:
            stack = (stack - low) / (high - low) * spec.scale_max
        else:
            warnings.append("is constant, so it carries no image information")
            stack = torch.zeros_like(stack)
    return (stack - spec.mean) / spec.std


def prepare_volume(volume: npt.NDArray[np.generic] | Tensor, spec: InputSpec) -> PreparedVolume:
    """Resize, crop, rescale and normalise one (S, H, W) volume as `spec` says.

    Warnings are phrases about the volume ("was resized ..."), for the caller to
    prefix with the plane's name.
    """
    if isinstance(volume, Tensor):
        stack = volume.to(torch.float32)
    else:  # any byte order or memory order becomes native, C-ordered float32
        stack = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))
    if stack.ndim != 3:
        raise ValueError(f"a volume is (slices, height, width), not shape {tuple(stack.shape)}")
    if not torch.isfinite(stack).all():
        raise ValueError("contains NaN or infinite values")
    shape = (int(stack.shape[0]), int(stack.shape[1]), int(stack.shape[2]))
    warnings: list[str] = []
    if shape[1:] != (spec.size, spec.size):
        warnings.append(
            f"had {shape[1]}x{shape[2]} slices and was resized to {spec.size}x{spec.size}"
        )
    stack = _resize(stack, spec.size)  # (S, 1, size, size)
    if spec.crop is not None:
        stack = centre_crop(stack, spec.crop)  # (S, 1, crop, crop)
    stack = _intensity(stack, spec, warnings)
    return PreparedVolume(stack.contiguous(), shape, warnings)


def three_channels(stack: Tensor) -> Tensor:
    """(S, 1, h, w) -> (S, 3, h, w), as the published code feeds AlexNet."""
    return stack.expand(-1, 3, -1, -1)
