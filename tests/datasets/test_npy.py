from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from service.datasets.npy import (
    NpyFormatError,
    VolumeLimits,
    load_volume,
    map_volume,
    parse_volume,
)

LIMITS = VolumeLimits(max_slices=61)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", ["u1", "<i2", ">i2", "<u2", "<f4", ">f8", "<i8"])
def test_numeric_dtypes_of_either_byte_order_load(dtype: str) -> None:
    array = np.arange(2 * 32 * 40).reshape(2, 32, 40).astype(dtype)
    volume = parse_volume(npy_bytes(array), LIMITS)
    assert np.array_equal(volume, array)
    assert volume.dtype == np.dtype(dtype)


def test_fortran_order_loads_with_the_same_values() -> None:
    array = np.asfortranarray(np.arange(3 * 32 * 32, dtype=np.uint8).reshape(3, 32, 32))
    assert np.array_equal(parse_volume(npy_bytes(array), LIMITS), array)


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.zeros((2, 32, 32), dtype=bool), "integer or floating"),
        (np.zeros((2, 32, 32), dtype=np.complex64), "integer or floating"),
        (np.zeros((2, 32, 32), dtype=[("a", "u1")]), "plain numbers"),
        (np.zeros((32, 32), dtype=np.uint8), "3-D"),
        (np.zeros((62, 32, 32), dtype=np.uint8), "62 slices"),
        (np.zeros((2, 16, 32), dtype=np.uint8), "height 16"),
        (np.zeros((2, 32, 2000), dtype=np.uint8), "width 2000"),
    ],
)
def test_bad_volumes_are_refused_with_the_reason(array: np.ndarray, problem: str) -> None:
    with pytest.raises(NpyFormatError, match=problem):
        parse_volume(npy_bytes(array), LIMITS)


def test_object_arrays_are_refused_without_unpickling() -> None:
    data = npy_bytes(np.zeros((2, 32, 32), np.uint8)).replace(b"'|u1'", b"'|O' ")
    with pytest.raises(NpyFormatError, match="plain numbers"):
        parse_volume(data, LIMITS)


def test_truncated_and_padded_data_are_refused() -> None:
    data = npy_bytes(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(NpyFormatError, match="needs 2048"):
        parse_volume(data[:-1], LIMITS)
    with pytest.raises(NpyFormatError, match="needs 2048"):
        parse_volume(data + b"\0", LIMITS)


def test_a_header_claiming_a_huge_array_allocates_nothing() -> None:
    data = npy_bytes(np.zeros((2, 32, 32), np.uint8)).replace(b"(2, 32, 32)", b"(2, 32, 99)")
    with pytest.raises(NpyFormatError, match="needs"):
        parse_volume(data, VolumeLimits(max_side=10**6))


def test_nan_and_infinity_are_refused() -> None:
    array = np.zeros((2, 32, 32), np.float32)
    array[1, 3, 4] = np.nan
    with pytest.raises(NpyFormatError, match="NaN"):
        parse_volume(npy_bytes(array), LIMITS)


def test_garbage_and_oversized_headers_are_refused() -> None:
    with pytest.raises(NpyFormatError, match="not a readable"):
        parse_volume(b"PK\x03\x04 this is a zip", LIMITS)
    header = b"\x93NUMPY\x02\x00" + (100_000).to_bytes(4, "little") + b" " * 100_000
    with pytest.raises(NpyFormatError, match="not a readable"):
        parse_volume(header, LIMITS)


def test_files_load_whole_or_mapped(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (4, 32, 48), dtype=np.uint8)
    path = tmp_path / "0000.npy"
    np.save(path, array)
    assert np.array_equal(load_volume(path, LIMITS), array)
    mapped = map_volume(path, LIMITS)
    assert isinstance(mapped, np.memmap)
    assert np.array_equal(mapped[2], array[2])
