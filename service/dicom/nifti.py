"""NIfTI volumes (.nii, .nii.gz) in a plane field: read with nibabel, turned by the affine.

The bytes are recognised by content, never by a file name: a gzip stream is
inflated with a running count against the cap, then a NIfTI-1 or NIfTI-2
header is required. The volume is turned to the plane's radiological view by
its affine (NIfTI's RAS, turned to DICOM's LPS, then `geometry.to_view`),
rescaled to uint8 and fitted to the package's size like a DICOM series.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import numpy.typing as npt

from service.datasets.npy import VolumeLimits
from service.dicom.geometry import to_view
from service.dicom.pixels import UInt8Array, fit, to_uint8
from service.domain import Plane
from service.errors import InvalidVolumeError

GZIP_MAGIC = b"\x1f\x8b"
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])
HEADER_SIZES = {348: nib.Nifti1Image, 540: nib.Nifti2Image}  # sizeof_hdr of each version


@dataclass(frozen=True)
class NiftiVolume:
    voxels: UInt8Array  # (S, size, size) in the plane's view
    notes: list[str]  # phrases about the volume, for the caller to prefix with the plane


def _looks_nifti(data: bytes) -> bool:
    sizes = {int.from_bytes(data[:4], "little"), int.from_bytes(data[:4], "big")}
    return bool(sizes & set(HEADER_SIZES)) and len(data) >= 348


def is_nifti(data: bytes) -> bool:
    """Gzipped bytes (only NIfTI is accepted gzipped) or a NIfTI-1/2 header."""
    return data.startswith(GZIP_MAGIC) or _looks_nifti(data)


def _inflate(plane: Plane, data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip framing
    out = bytearray()
    try:
        chunk = inflater.decompress(data, max_bytes + 1)
        out += chunk
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise InvalidVolumeError(plane, f"inflates to more than {max_bytes} bytes.")
    except zlib.error as error:
        raise InvalidVolumeError(plane, f"is not a readable gzip file ({error}).") from error
    return bytes(out)


def _image(plane: Plane, raw: bytes) -> nib.Nifti1Image:
    sizes = [int.from_bytes(raw[:4], order) for order in ("little", "big")]
    kind = next((HEADER_SIZES[s] for s in sizes if s in HEADER_SIZES), None)
    if kind is None or len(raw) < 348:
        raise InvalidVolumeError(plane, "is neither a .npy array nor a NIfTI volume.")
    try:
        image: nib.Nifti1Image = kind.from_bytes(raw)
    except Exception as error:  # nibabel signals malformed headers with many exception types
        text = " ".join(str(error).split())[:200]
        raise InvalidVolumeError(plane, f"is not a readable NIfTI volume ({text}).") from error
    return image


def _array(plane: Plane, image: nib.Nifti1Image, limits: VolumeLimits) -> npt.NDArray[np.generic]:
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise InvalidVolumeError(plane, f"is NIfTI of shape {shape}; a volume is 3-D.")
    if max(shape) > max(limits.max_slices, limits.max_side) or min(shape) < 1:
        raise InvalidVolumeError(plane, f"is NIfTI of shape {shape}, over the size limits.")
    try:
        array = np.asanyarray(image.dataobj).reshape(shape)
    except Exception as error:  # short data, bad dtype: nibabel raises many types
        text = " ".join(str(error).split())[:200]
        raise InvalidVolumeError(plane, f"has NIfTI data that cannot be read ({text}).") from error
    if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise InvalidVolumeError(plane, "has NIfTI data that is not finite real numbers.")
    return array


def read_nifti(
    plane: Plane, data: bytes, size: int, limits: VolumeLimits, max_bytes: int
) -> NiftiVolume:
    """The NIfTI volume in `plane`'s view, uint8 (S, size, size)."""
    raw = _inflate(plane, data, max_bytes) if data.startswith(GZIP_MAGIC) else data
    image = _image(plane, raw)
    array = _array(plane, image, limits)
    directions = RAS_TO_LPS @ np.asarray(image.affine, dtype=np.float64)[:3, :3]
    if not np.isfinite(directions).all() or abs(np.linalg.det(directions)) < 1e-9:
        raise InvalidVolumeError(plane, "has a NIfTI affine that places no volume.")
    turned, _, (slice_mm, row_mm, column_mm) = to_view(array, directions, plane)
    codes = "".join(nib.aff2axcodes(image.affine))  # type: ignore[no-untyped-call]
    notes = [f"is NIfTI stored as {codes}; it was turned to the {plane} view by its affine"]
    if slice_mm < 0.9 * min(row_mm, column_mm):
        notes.append(
            f"has {slice_mm:.2f} mm between {plane} slices but {row_mm:.2f} x {column_mm:.2f} mm "
            f"pixels; was it acquired in another plane?"
        )
    voxels, resampled = fit(to_uint8(turned), row_mm, column_mm, size)
    if resampled:
        notes.append(
            f"was resampled from {turned.shape[1]}x{turned.shape[2]} to {size}x{size}, "
            "keeping its aspect ratio"
        )
    return NiftiVolume(voxels, notes)
