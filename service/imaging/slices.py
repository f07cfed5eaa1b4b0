"""One stored slice as 8-bit gray pixels, optionally windowed, and PNG encoding.

uint8 volumes (MRNet's) are shown as stored. Other dtypes are scaled min-max
over the whole volume to 0..255, so every slice of a volume shares one scale.
A window maps [center - width/2, center + width/2] of the stored values (not
of the 0..255 display values: the window is in the data's own units, as in
radiology viewers) linearly to 0..255, clipping outside and rounding half up.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from service.errors import InvalidQueryError

Pixels = npt.NDArray[np.uint8]
PNG_COMPRESS_LEVEL = 3  # lossless either way; fast beats a few per cent smaller


@dataclass(frozen=True)
class Window:
    center: float
    width: float

    @classmethod
    def parse(cls, text: str) -> Window:
        """`center,width`: two finite numbers, the width above 0."""
        parts = text.split(",")
        try:
            center, width = (float(part) for part in parts)
        except ValueError:
            center = width = math.nan
        if not (math.isfinite(center) and math.isfinite(width) and width > 0):
            raise InvalidQueryError(
                "window",
                f"The window {text!r} is not 'center,width': two numbers, the width above 0.",
            )
        return cls(center, width)

    def apply(self, values: npt.NDArray[np.generic]) -> Pixels:
        low = self.center - self.width / 2
        scaled = (values.astype(np.float64) - low) * 255.0 / self.width
        return _round(np.clip(scaled, 0.0, 255.0))

    def describe(self) -> str:
        return f"{self.center!r},{self.width!r}"


def _round(values: npt.NDArray[np.float64]) -> Pixels:
    """Round half up (numpy's rint rounds half to even) to uint8; values are in 0..255."""
    return np.floor(values + 0.5).astype(np.uint8)


def display_slice(volume: npt.NDArray[np.generic], index: int) -> Pixels:
    """Slice `index` of an (S, H, W) volume as the 0..255 pixels it is shown with."""
    if volume.dtype == np.uint8:
        return np.ascontiguousarray(volume[index], dtype=np.uint8)
    low, high = float(volume.min()), float(volume.max())  # over the volume
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("contains NaN or infinite values")
    if high <= low:
        return np.zeros(volume.shape[1:], dtype=np.uint8)
    scaled = (volume[index].astype(np.float64) - low) * 255.0 / (high - low)
    return _round(np.clip(scaled, 0.0, 255.0))


def slice_pixels(volume: npt.NDArray[np.generic], index: int, window: Window | None) -> Pixels:
    if window is None:
        return display_slice(volume, index)
    return window.apply(volume[index])


def encode_png(pixels: Pixels) -> bytes:
    """Lossless PNG: (H, W) as 8-bit gray ("L"), (H, W, 3) as RGB."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL
    )
    return buffer.getvalue()
