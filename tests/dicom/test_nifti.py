"""NIfTI in a plane field: every storage order comes back as the plane's view."""

from __future__ import annotations

import gzip
import itertools

import nibabel as nib
import numpy as np
import pytest

from service.datasets.npy import VolumeLimits
from service.dicom.nifti import is_nifti, read_nifti
from service.domain import PLANES, Plane
from service.errors import InvalidVolumeError

from dicom_factories import nifti_bytes, view_volume

LIMITS = VolumeLimits(max_slices=64)
MAX_BYTES = 1 << 20


@pytest.mark.parametrize("plane", PLANES)
def test_every_storage_order_gives_the_view_back(plane: Plane, rng: np.random.Generator) -> None:
    volume = view_volume(rng, slices=5, size=64)
    for permutation in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            data = nifti_bytes(volume, plane, permutation, flips)
            result = read_nifti(plane, data, 64, LIMITS, MAX_BYTES)
            assert np.array_equal(result.voxels, volume), (permutation, flips)


def test_gzipped_nifti_reads_the_same(rng: np.random.Generator) -> None:
    volume = view_volume(rng, slices=5)
    data = nifti_bytes(volume, "axial", (2, 0, 1), (True, False, True), gzipped=True)
    assert is_nifti(data)
    result = read_nifti("axial", data, 64, LIMITS, MAX_BYTES)
    assert np.array_equal(result.voxels, volume)
    assert "stored as" in result.notes[0]


def test_a_gzip_bomb_is_refused_while_it_inflates() -> None:
    bomb = gzip.compress(b"\0" * (4 * MAX_BYTES))
    with pytest.raises(InvalidVolumeError, match="inflates to more than"):
        read_nifti("axial", bomb, 64, LIMITS, MAX_BYTES)


def test_a_slice_axis_finer_than_the_pixels_is_a_warning(rng: np.random.Generator) -> None:
    volume = view_volume(rng, slices=5)
    data = nifti_bytes(volume, "coronal", spacing=(0.2, 1.0, 1.0))
    result = read_nifti("coronal", data, 64, LIMITS, MAX_BYTES)
    assert any("acquired in another plane" in note for note in result.notes)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (gzip.compress(b"not nifti" * 100), "neither a .npy array nor a NIfTI"),
        (b"\x1f\x8b broken gzip", "not a readable gzip"),
        (nib.Nifti1Image(np.zeros((4, 4, 4, 2), np.float32), np.eye(4)).to_bytes(), "3-D"),
        (
            nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)).to_bytes()[:400],
            "cannot be read",
        ),
        (nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)).to_bytes(), "finite"),
    ],
)
def test_bad_nifti_is_refused_naming_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidVolumeError, match=problem):
        read_nifti("sagittal", data, 64, LIMITS, MAX_BYTES)
