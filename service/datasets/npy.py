"""Read `.npy` volumes safely: the header is checked before any array memory exists.

numpy's own format reader parses the header (its size capped); only 3-D
integer or floating arrays of either byte order, C or Fortran order, pass.
Nothing is unpickled: object dtypes are refused before any data is read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt
from numpy.lib import format as npy_format

MAX_HEADER_BYTES = 4096


class NpyFormatError(ValueError):
    """The bytes are not an acceptable volume; the message says why, as a phrase."""


@dataclass(frozen=True)
class VolumeLimits:
    max_slices: int = 128  # MRNet-v1.0 has 17 to 61; the service's MRNET_MAX_SLICES
    min_side: int = 32
    max_side: int = 1024


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    fortran_order: bool
    data_offset: int

    @property
    def order(self) -> Literal["C", "F"]:
        return "F" if self.fortran_order else "C"

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def read_header(handle: BinaryIO) -> NpyHeader:
    """Parse and check the header; the handle is left at the start of the data."""
    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            header = npy_format.read_array_header_1_0(handle, max_header_size=MAX_HEADER_BYTES)
        elif version in {(2, 0), (3, 0)}:
            header = npy_format.read_array_header_2_0(handle, max_header_size=MAX_HEADER_BYTES)
        else:
            raise NpyFormatError(f"uses .npy format version {version}, which is not supported")
    except NpyFormatError:
        raise
    except (ValueError, OSError, SyntaxError, TypeError) as error:
        raise NpyFormatError(f"is not a readable .npy file ({error})") from error
    shape, fortran_order, dtype = header
    _check_dtype(dtype)
    return NpyHeader(tuple(int(n) for n in shape), dtype, bool(fortran_order), handle.tell())


def _check_dtype(dtype: np.dtype[np.generic]) -> None:
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise NpyFormatError(f"has dtype {dtype.str!r}; only plain numbers are accepted")
    if dtype.kind not in "iuf":
        raise NpyFormatError(
            f"has dtype {dtype.name} ({dtype.str}); only integer or floating dtypes are accepted"
        )


def check_shape(shape: tuple[int, ...], limits: VolumeLimits) -> None:
    """A volume is (slices, height, width) within the limits."""
    if len(shape) != 3:
        raise NpyFormatError(f"has shape {shape}; a volume is 3-D (slices, height, width)")
    slices, height, width = shape
    if not 1 <= slices <= limits.max_slices:
        raise NpyFormatError(f"has {slices} slices; 1 to {limits.max_slices} are accepted")
    for name, side in (("height", height), ("width", width)):
        if not limits.min_side <= side <= limits.max_side:
            raise NpyFormatError(
                f"has slice {name} {side}; {limits.min_side} to {limits.max_side} are accepted"
            )


def _array(header: NpyHeader, data: bytes | bytearray | memoryview) -> npt.NDArray[np.generic]:
    flat = np.frombuffer(data, dtype=header.dtype, count=header.nbytes // header.dtype.itemsize)
    return flat.reshape(header.shape, order=header.order)


def _finite(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise NpyFormatError("contains NaN or infinite values")
    return array


def parse_volume(data: bytes, limits: VolumeLimits) -> npt.NDArray[np.generic]:
    """A checked volume from the bytes of a whole .npy file (read-only view of them)."""
    handle = io.BytesIO(data)
    header = read_header(handle)
    check_shape(header.shape, limits)
    available = len(data) - header.data_offset
    if available != header.nbytes:
        raise NpyFormatError(
            f"holds {available} data bytes, but its header {header.shape} "
            f"{header.dtype.str} needs {header.nbytes}"
        )
    return _finite(_array(header, memoryview(data)[header.data_offset :]))


def read_volume_header(path: Path, limits: VolumeLimits) -> NpyHeader:
    """The checked header of a volume file, and a check that the data is all there."""
    with path.open("rb") as handle:
        header = read_header(handle)
    check_shape(header.shape, limits)
    size = path.stat().st_size
    if size - header.data_offset != header.nbytes:
        raise NpyFormatError(f"is {size} bytes, which does not match its header {header.shape}")
    return header


def load_volume(path: Path, limits: VolumeLimits) -> npt.NDArray[np.generic]:
    """Read a whole volume file after checking its header."""
    header = read_volume_header(path, limits)
    with path.open("rb") as handle:
        handle.seek(header.data_offset)
        data = handle.read(header.nbytes)
    return _finite(_array(header, data))


def map_volume(path: Path, limits: VolumeLimits) -> npt.NDArray[np.generic]:
    """A read-only memory map of a volume file: one slice reads one slice from disk."""
    header = read_volume_header(path, limits)
    mapped: npt.NDArray[np.generic] = np.memmap(
        path, dtype=header.dtype, mode="r", offset=header.data_offset,
        shape=header.shape, order=header.order,
    )  # fmt: skip
    return mapped
