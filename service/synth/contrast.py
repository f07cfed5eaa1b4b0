"""Turn a tissue label volume into an MR-like uint8 series.

The three MRNet series differ in contrast: sagittal T2-weighted fat-suppressed
(fluid bright, fat and marrow dark), coronal T1-weighted (fat and marrow
bright, fluid dark grey), axial proton-density fat-suppressed (fluid bright,
cartilage brighter than muscle). Steps: tissue intensity with texture,
in-plane partial-volume blur, 2x upsampling, a smooth multiplicative bias field,
Rician noise, fixed-window scaling to 0..255. Nothing mixes slices and nothing
depends on the image's own statistics, so a change in one slice's labels
changes that slice only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from service.domain import Plane
from service.synth.canvas import Labels
from service.synth.params import PlaneContrast
from service.synth.tissues import NUM_TISSUES, Tissue

Image = npt.NDArray[np.float32]
OUTPUT_SIZE: Final = 256

T = Tissue
# Mean intensity (0..1) per tissue; the lesions of LESIONS are mixed per case.
_MEAN: Final[dict[str, dict[Tissue, float]]] = {
    "sagittal": {  # T2 fat-suppressed
        T.SKIN: 0.30, T.FAT: 0.17, T.MUSCLE: 0.32, T.VESSEL: 0.45, T.FLUID: 0.92,
        T.TENDON: 0.03, T.LIGAMENT: 0.04, T.MENISCUS: 0.04, T.CARTILAGE: 0.48,
        T.CORTEX: 0.03, T.MARROW: 0.17, T.EDEMA: 0.62, T.ACL: 0.07, T.ACL_STUMP: 0.13,
    },
    "coronal": {  # T1
        T.SKIN: 0.40, T.FAT: 0.74, T.MUSCLE: 0.32, T.VESSEL: 0.10, T.FLUID: 0.21,
        T.TENDON: 0.04, T.LIGAMENT: 0.06, T.MENISCUS: 0.05, T.CARTILAGE: 0.37,
        T.CORTEX: 0.03, T.MARROW: 0.68, T.EDEMA: 0.27, T.ACL: 0.12, T.ACL_STUMP: 0.16,
    },
    "axial": {  # proton density fat-suppressed
        T.SKIN: 0.35, T.FAT: 0.15, T.MUSCLE: 0.36, T.VESSEL: 0.50, T.FLUID: 0.88,
        T.TENDON: 0.03, T.LIGAMENT: 0.04, T.MENISCUS: 0.04, T.CARTILAGE: 0.58,
        T.CORTEX: 0.03, T.MARROW: 0.17, T.EDEMA: 0.65, T.ACL: 0.06, T.ACL_STUMP: 0.14,
    },
}  # fmt: skip
# Relative texture amplitude per tissue (trabecular marrow, muscle fibres, fat septa).
_TEXTURE: Final[dict[Tissue, float]] = {
    T.SKIN: 0.10, T.FAT: 0.12, T.MUSCLE: 0.15, T.VESSEL: 0.05, T.FLUID: 0.03, T.TENDON: 0.10,
    T.LIGAMENT: 0.12, T.MENISCUS: 0.10, T.CARTILAGE: 0.08, T.CORTEX: 0.10,
    T.MARROW: 0.28, T.EDEMA: 0.30, T.ACL: 0.25, T.ACL_DEGENERATION: 0.25, T.ACL_TEAR: 0.15,
    T.ACL_STUMP: 0.30,
}  # fmt: skip
# White noise blurred by a unit Gaussian has standard deviation 1 / (2 sqrt(pi)) in 2-D.
_TEXTURE_GAIN: Final = 2.0 * math.sqrt(math.pi)

# Lesion signal lies between a normal tissue's and the lesion signal of the series, by a
# per-case fraction.
LESIONS: Final[dict[Tissue, Tissue]] = {
    T.ACL_TEAR: T.ACL,
    T.ACL_DEGENERATION: T.ACL,
    T.MENISCUS_TEAR: T.MENISCUS,
}
# Where a lesion's signal goes: fluid's on the fluid-sensitive series. On T1 a tear shows
# intermediate signal (oedema, haemorrhage and synovial fluid in the defect), brighter than
# T1's dark-grey joint fluid: in generator version 2 a coronal meniscal tear reached fluid's
# 0.21 over the meniscus' 0.05, at most about 30 grey levels, fainter than the noise.
_LESION_SIGNAL: Final[dict[str, float | None]] = {"sagittal": None, "coronal": 0.36, "axial": None}


def tissue_table(plane: Plane, contrast: PlaneContrast, lesions: Mapping[Tissue, float]) -> Image:
    """Per-case mean intensity of each tissue code, (NUM_TISSUES,).

    `lesions` gives, for the tissues of LESIONS, how far (0..1) their signal goes
    from the normal tissue's towards the series' lesion signal (fluid's, or on T1
    an intermediate one).
    """
    mean = np.zeros(NUM_TISSUES, dtype=np.float32)
    for tissue, value in _MEAN[plane].items():
        mean[tissue] = value
    signal = _LESION_SIGNAL[plane]
    target = mean[T.FLUID] if signal is None else signal
    for lesion, normal in LESIONS.items():
        share = lesions.get(lesion, 0.0)
        mean[lesion] = mean[normal] + share * (target - mean[normal])
    mean *= np.asarray(contrast.tissue_gain, dtype=np.float32)
    mean[T.AIR] = 0.0
    return mean


def _texture_table() -> Image:
    amplitude = np.zeros(NUM_TISSUES, dtype=np.float32)
    for tissue, value in _TEXTURE.items():
        amplitude[tissue] = value
    return amplitude


def _texture(shape: tuple[int, int, int], rng: np.random.Generator) -> Image:
    """Smooth unit-variance noise, in-plane only, (S, h, w)."""
    smooth: Image = ndimage.gaussian_filter(_gaussian_noise(shape, rng), sigma=(0.0, 1.0, 1.0))
    smooth *= _TEXTURE_GAIN
    return smooth


def _bias(shape: tuple[int, int, int], coefficients: tuple[float, ...]) -> Image:
    """A smooth multiplicative field, quadratic in-plane, linear through the slices, (S, h, w)."""
    s, h, w = shape
    u = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]  # (h, 1)
    v = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]  # (1, w)
    a, b, c, d, e, f = coefficients
    plane = np.exp(a * u + b * v + c * u**2 + d * v**2 + e * u * v)  # (h, w)
    through = np.exp(f * np.linspace(-1.0, 1.0, s, dtype=np.float32))  # (S,)
    return np.asarray(through[:, None, None] * plane[None], dtype=np.float32)


def _upsample_rows(image: Image) -> Image:
    """Double axis 1 by linear interpolation between pixel centres, edges repeated."""
    s, n, w = image.shape
    out = np.empty((s, 2 * n, w), dtype=np.float32)  # (S, 2n, w)
    even, odd = out[:, 0::2], out[:, 1::2]
    np.multiply(image, 0.75, out=even)
    odd[...] = even
    even[:, 1:] += 0.25 * image[:, :-1]
    even[:, 0] += 0.25 * image[:, 0]
    odd[:, :-1] += 0.25 * image[:, 1:]
    odd[:, -1] += 0.25 * image[:, -1]
    return out


def upsample2(image: Image) -> Image:
    """Bilinear 2x in-plane upsampling with pixel centres kept, (S, h, w) -> (S, 2h, 2w)."""
    tall = _upsample_rows(image)  # (S, 2h, w)
    return np.ascontiguousarray(_upsample_rows(tall.transpose(0, 2, 1)).transpose(0, 2, 1))


def _gaussian_noise(shape: tuple[int, int, int], rng: np.random.Generator) -> Image:
    """Unit Gaussian noise (S, H, W): random windows into one pool, 10x cheaper than fresh draws."""
    s, h, w = shape
    pool = rng.standard_normal(4 * h * w, dtype=np.float32)
    starts = rng.integers(0, pool.size - h * w, size=s)
    noise = np.empty(shape, dtype=np.float32)
    for k, start in enumerate(starts):
        noise[k] = pool[start : start + h * w].reshape(h, w)
    return noise


def _rician(image: Image, sigma: float, rng: np.random.Generator) -> Image:
    """The magnitude of the image plus complex Gaussian noise, (S, H, W); works in place."""
    real = _gaussian_noise(image.shape, rng)
    real *= sigma
    real += image
    imaginary = _gaussian_noise(image.shape, rng)
    imaginary *= sigma
    real *= real
    imaginary *= imaginary
    real += imaginary
    return np.sqrt(real, out=real)


def render_series(
    labels: Labels,
    plane: Plane,
    contrast: PlaneContrast,
    lesions: Mapping[Tissue, float],
    rng: np.random.Generator,
) -> npt.NDArray[np.uint8]:
    """The uint8 series (S, 256, 256) of labels (S, 128, 128); `rng` draws texture and noise."""
    mean = tissue_table(plane, contrast, lesions)[labels]  # (S, h, w)
    amplitude = _texture_table()[labels]  # (S, h, w)
    image = mean * (1.0 + amplitude * _texture(labels.shape, rng))  # (S, h, w)
    image = ndimage.gaussian_filter(image, sigma=(0.0, contrast.blur_px, contrast.blur_px))
    image = upsample2(image)  # (S, 256, 256)
    image *= _bias(image.shape, contrast.bias)
    image = _rician(image, contrast.noise, rng)
    image *= 255.0 * contrast.window
    np.clip(image, 0.0, 255.0, out=image)
    return np.rint(image).astype(np.uint8)
