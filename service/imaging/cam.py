"""Class activation maps of a stored volume and their colour overlay on a slice.

The CAM of slice s is MRNet's exact one (`attribution.class_activation_map`):
the classifier weights of the features whose max over slices comes from s,
times those features' last conv maps. It needs the argmax over the whole
volume, so one computation runs the plane's network over every slice of the
prepared volume (the package's `InputSpec`, exactly as inference prepares it)
and keeps every slice's map at feature resolution.

The network saw the prepared input: the slice resized to `spec.size` and, when
the spec crops, centre-cropped. A map is therefore upsampled onto the part of
the displayed slice that the network saw: the whole slice without a crop, or
the crop's region scaled back to the slice's own height and width (outside it
the overlay stays plain gray). Colour and opacity follow the positive CAM over
the volume's largest value, so slices of one volume compare: a slice that
adds little to the logit shows little colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from service.imaging.slices import Pixels
from service.model.attribution import class_activation_map, slice_contributions
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec, prepare_volume

MAX_ALPHA = 0.55  # the strongest activation still lets the anatomy show through


@dataclass(frozen=True)
class CamStack:
    """Every slice's CAM of one volume, at feature resolution, on the CPU."""

    maps: Tensor  # (S, h, w) float32
    peak: float  # the largest value over the whole volume, 0 when none is positive


def compute_cams(
    network: MRNetPlane, spec: InputSpec, volume: npt.NDArray[np.generic], row: int = 0
) -> CamStack:
    """Run the plane's network over the prepared volume and map every slice for head `row`.

    Float32 on every device (the engine autocasts on CUDA): a picture needs no
    speed-up, and float32 keeps the maps' means equal to the slice contributions.
    """
    slices = prepare_volume(volume, spec).slices  # (S, 1, n, n)
    device = next(network.parameters()).device
    with torch.inference_mode():
        maps = network.feature_maps_gray(slices.to(device)).float().cpu()  # (S, 256, h, w)
        weight = network.classifier.weight.detach().float().cpu()[row]  # (256,)
        _, argmax = slice_contributions(maps.mean(dim=(2, 3)), weight)  # (256,)
        size = (int(maps.shape[2]), int(maps.shape[3]))
        cams = torch.stack(
            [class_activation_map(maps[s], argmax, weight, s, size) for s in range(len(maps))]
        )  # (S, h, w)
    return CamStack(cams, max(float(cams.max()), 0.0))


def input_region(spec: InputSpec, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the displayed slice that the network's input covers."""
    if spec.crop is None:
        return 0, 0, height, width
    start = (spec.size - spec.crop) // 2  # centre_crop's offset in the resized slice
    end = start + spec.crop
    return (
        round(start * height / spec.size),
        round(start * width / spec.size),
        round(end * height / spec.size),
        round(end * width / spec.size),
    )


def jet(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The jet colour map: 0 dark blue, 0.5 green, 1 dark red; (...) -> (..., 3) in 0..1."""
    x = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([3.0, 2.0, 1.0])  # red, green, blue peak at 3/4, 1/2, 1/4
    colours: npt.NDArray[np.float64] = np.clip(1.5 - np.abs(4.0 * x - centres), 0.0, 1.0)
    return colours


def strength(stack: CamStack, index: int, shape: tuple[int, int], spec: InputSpec) -> Tensor:
    """Slice `index`'s positive CAM over the volume's peak, 0..1, on the displayed slice."""
    top, left, bottom, right = input_region(spec, *shape)
    placed = torch.zeros(shape)  # (H, W)
    if stack.peak > 0 and bottom > top and right > left:
        cam = stack.maps[index][None, None]  # (1, 1, h, w)
        region = F.interpolate(cam, size=(bottom - top, right - left), mode="bilinear")
        placed[top:bottom, left:right] = (region[0, 0] / stack.peak).clamp(0.0, 1.0)
    return placed


def overlay(gray: Pixels, weight: Tensor) -> Pixels:
    """Blend the jet colour of `weight` (H, W), 0..1, over the gray slice; (H, W, 3) uint8."""
    level = weight.numpy().astype(np.float64)
    alpha = MAX_ALPHA * level[..., None]  # (H, W, 1)
    blended = gray.astype(np.float64)[..., None] * (1.0 - alpha) + 255.0 * jet(level) * alpha
    return np.floor(np.clip(blended, 0.0, 255.0) + 0.5).astype(np.uint8)
