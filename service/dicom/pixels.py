"""Decode a stack's pixels and make it an MRNet volume: uint8, its plane's view, square.

Values: RescaleSlope and RescaleIntercept per frame, MONOCHROME1 inverted, then
the volume min-max rescaled to 0..255 uint8 as MRNet's volumes are. Geometry:
turned to the radiological view of its plane, then resampled in-plane to the
package's size keeping the physical aspect ratio (the short side padded with
zeros, never stretched).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder

from service.dicom.geometry import to_view
from service.dicom.series import Stack
from service.errors import InvalidInstanceError, UnsupportedTransferSyntaxError

Float32Array = npt.NDArray[np.float32]
UInt8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Volume:
    voxels: UInt8Array  # (S, size, size)
    voxel_mm: tuple[float, float, float]  # slice step, row and column spacing before resampling
    notes: list[str]


def _check_decodable(name: str, ds: Dataset) -> None:
    uid = ds.file_meta.get("TransferSyntaxUID")
    if uid is None or not uid.is_compressed:
        return
    try:
        available = get_decoder(uid).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise UnsupportedTransferSyntaxError(name, str(uid), uid.name)


def _decoded(
    name: str, ds: Dataset, cache: dict[int, npt.NDArray[np.generic]]
) -> npt.NDArray[np.generic]:
    """The instance's stored values, (frames, rows, columns), decoded once per instance."""
    key = id(ds)
    if key not in cache:
        _check_decodable(name, ds)
        try:
            pixels = np.asarray(ds.pixel_array)
        except Exception as error:  # decoders signal bad data with many exception types
            text = " ".join(str(error).split())[:200]
            raise InvalidInstanceError(
                name, f"has pixel data that cannot be decoded ({type(error).__name__}: {text})."
            ) from error
        cache[key] = pixels if int(ds.get("NumberOfFrames") or 1) > 1 else pixels[None]
    return cache[key]


def stack_values(stack: Stack) -> Float32Array:
    """The stack's modality values, (S, rows, columns) float32, MONOCHROME1 inverted.

    float32 holds any 16-bit value times a slope exactly enough, at half the
    memory of float64 (a 128-slice 1024x1024 series is 512 MiB as float32).
    """
    cache: dict[int, npt.NDArray[np.generic]] = {}
    values = np.empty((len(stack.frames), stack.rows, stack.columns), dtype=np.float32)
    for index, frame in enumerate(stack.frames):
        frames = _decoded(frame.instance, frame.dataset, cache)
        plane = values[index]
        plane[...] = frames[frame.index or 0]
        plane *= np.float32(frame.slope)
        plane += np.float32(frame.intercept)
        if str(frame.dataset.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
            np.negative(plane, out=plane)  # brightest is lowest; min-max maps it back
    return values


def to_uint8(values: npt.NDArray[np.generic]) -> UInt8Array:
    """Min-max to 0..255 over the whole volume, rounded (a constant volume is all zeros)."""
    exact = values.dtype == np.float32 or (values.dtype.kind in "iu" and values.itemsize <= 2)
    array: npt.NDArray[np.floating[Any]] = np.array(
        values, dtype=np.float32 if exact else np.float64
    )  # float32 is exact enough for 16-bit values and float32 stacks; the rest is float64
    low, high = float(array.min()), float(array.max())
    if not high > low:
        return np.zeros(array.shape, dtype=np.uint8)
    array -= low
    array *= 255.0 / (high - low)
    scaled: UInt8Array = np.rint(array).astype(np.uint8)
    return scaled


def fit(volume: UInt8Array, row_mm: float, column_mm: float, size: int) -> tuple[UInt8Array, bool]:
    """Resample each slice to size x size keeping its physical aspect ratio; pad, centred."""
    _, rows, columns = volume.shape
    height_mm, width_mm = rows * row_mm, columns * column_mm
    scale = size / max(height_mm, width_mm)
    height = min(size, max(1, round(height_mm * scale)))
    width = min(size, max(1, round(width_mm * scale)))
    if (height, width) == (rows, columns) == (size, size):
        return volume, False
    top, left = (size - height) // 2, (size - width) // 2
    out = np.zeros((volume.shape[0], size, size), dtype=np.uint8)
    for index, plane in enumerate(volume):
        image = Image.fromarray(np.ascontiguousarray(plane), mode="L")
        resized = image.resize((width, height), Image.Resampling.BILINEAR)
        out[index, top : top + height, left : left + width] = np.asarray(resized)
    return out, True


def stack_volume(stack: Stack, size: int) -> Volume:
    """The stack as the uint8 (S, size, size) volume of its plane's view."""
    values = stack_values(stack)  # (S, rows, columns) in order along the normal
    row_mm, column_mm = stack.pixel_spacing
    step = stack.slice_spacing or 1.0
    directions = np.column_stack(
        [stack.frame.normal * step, stack.frame.column * row_mm, stack.frame.row * column_mm]
    )
    turned, _, voxel_mm = to_view(values, directions, stack.plane)
    notes = []
    voxels, resampled = fit(to_uint8(turned), voxel_mm[1], voxel_mm[2], size)
    if resampled:
        notes.append(
            f"was resampled from {turned.shape[1]}x{turned.shape[2]} "
            f"({voxel_mm[1]:.2f} x {voxel_mm[2]:.2f} mm pixels) to {size}x{size}, "
            "keeping its aspect ratio"
        )
    return Volume(voxels, voxel_mm, notes)
