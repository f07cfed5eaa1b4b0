"""Builders of DICOM studies with known geometry, for the reader and the API tests.

A volume is given in its plane's view (what the reader must return); the
builder stores it in any storage order (slice axis flipped, rows and columns
flipped or swapped) and writes the ImageOrientationPatient and
ImagePositionPatient that say so, so the reader must undo it.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from service.domain import Plane

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
STUDY_UID = "1.2.826.0.1.3680043.8.498.1"
DESCRIPTIONS: dict[Plane, str] = {"sagittal": "SAG T2 FS", "coronal": "COR T1", "axial": "AX PD FS"}
NUMBERS: dict[Plane, int] = {"sagittal": 3, "coronal": 4, "axial": 5}

# each view's axes (slices, rows, columns) as LPS unit vectors: see service/dicom/geometry.py
VIEW_AXES: dict[Plane, npt.NDArray[np.float64]] = {
    "sagittal": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64),
    "coronal": np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=np.float64),
    "axial": np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]], dtype=np.float64),
}


@dataclass(frozen=True)
class Storage:
    """How a series stores its view volume: a flip per view axis, then rows/columns swapped."""

    flip_slices: bool = False
    flip_rows: bool = False
    flip_columns: bool = False
    transpose: bool = False


ALL_STORAGES = [
    Storage(s, r, c, t)
    for s in (False, True)
    for r in (False, True)
    for c in (False, True)
    for t in (False, True)
]


def view_volume(rng: np.random.Generator, slices: int = 6, size: int = 64) -> npt.NDArray[np.uint8]:
    """A random uint8 view volume that holds 0 and 255 (so min-max gives it back exactly)."""
    volume = rng.integers(1, 255, (slices, size, size), dtype=np.uint8)
    volume[0, 0, 0], volume[-1, -1, -1] = 0, 255
    return volume


def stored(
    volume: npt.NDArray[Any], plane: Plane, storage: Storage, spacing: Sequence[float]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The stored array, its axes' steps (3 x LPS, mm) and the position of its first voxel."""
    steps = VIEW_AXES[plane] * np.asarray(spacing, dtype=np.float64)[:, None]  # (axis, LPS)
    origin = np.array([-40.0, -35.0, 20.0])
    flips = (storage.flip_slices, storage.flip_rows, storage.flip_columns)
    array = volume
    for axis, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis)
            origin = origin + (volume.shape[axis] - 1) * steps[axis]
            steps[axis] = -steps[axis]
    if storage.transpose:
        array = np.swapaxes(array, 1, 2)
        steps = steps[[0, 2, 1]]
    return np.ascontiguousarray(array), steps, origin


def _meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _base(sop_class: str, series_uid: str, description: str, number: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta = _meta(sop_class, ds.SOPInstanceUID)
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = description
    ds.SeriesNumber = number
    ds.Modality = "MR"
    ds.PatientName = "Phantom^Knee"
    ds.PatientID = "0001"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds


def series(
    volume: npt.NDArray[Any],
    plane: Plane,
    *,
    storage: Storage = Storage(),
    description: str | None = None,
    number: int | None = None,
    spacing: Sequence[float] = (3.0, 0.5, 0.5),
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "M"),
    modality: str = "MR",
    monochrome1: bool = False,
    series_uid: str | None = None,
) -> list[Dataset]:
    """One single-frame instance per slice; values stored as 4v + 100 with a slope of 0.5."""
    array, steps, origin = stored(volume, plane, storage, spacing)
    raw = array.astype(np.uint16) * 4 + 100
    if monochrome1:
        raw = (4095 - raw).astype(np.uint16)
    uid = series_uid or generate_uid()
    datasets = []
    for index, pixels in enumerate(raw):
        ds = _base(MR_STORAGE, uid, description or DESCRIPTIONS[plane], number or NUMBERS[plane])
        ds.Modality = modality
        ds.ImageType = list(image_type)
        ds.InstanceNumber = index + 1
        ds.ImageOrientationPatient = _cosines(steps)
        ds.ImagePositionPatient = [round(float(v), 4) for v in origin + index * steps[0]]
        ds.PixelSpacing = [float(np.linalg.norm(steps[1])), float(np.linalg.norm(steps[2]))]
        ds.SliceThickness = float(np.linalg.norm(steps[0]))
        ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 0.5, -50
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
        datasets.append(ds)
    return datasets


def _cosines(steps: npt.NDArray[np.float64]) -> list[float]:
    row = steps[2] / np.linalg.norm(steps[2])  # along a row: the column index grows
    column = steps[1] / np.linalg.norm(steps[1])
    return [round(float(v), 6) + 0.0 for v in (*row, *column)]


def enhanced(
    volume: npt.NDArray[Any],
    plane: Plane,
    *,
    storage: Storage = Storage(),
    spacing: Sequence[float] = (3.0, 0.5, 0.5),
    frame_order: Sequence[int] | None = None,
) -> Dataset:
    """One enhanced MR instance holding every slice as a frame, geometry per frame."""
    array, steps, origin = stored(volume, plane, storage, spacing)
    order = list(frame_order) if frame_order is not None else list(range(array.shape[0]))
    ds = _base(ENHANCED_MR_STORAGE, generate_uid(), DESCRIPTIONS[plane], NUMBERS[plane])
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.InstanceNumber = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = len(order)
    ds.Rows, ds.Columns = array.shape[1:]
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [float(np.linalg.norm(steps[1])), float(np.linalg.norm(steps[2]))]
    measures.SliceThickness = float(np.linalg.norm(steps[0]))
    orientation = Dataset()
    orientation.ImageOrientationPatient = _cosines(steps)
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept = 2, 10
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for index in order:
        item, position = Dataset(), Dataset()
        position.ImagePositionPatient = [round(float(v), 4) for v in origin + index * steps[0]]
        item.PlanePositionSequence = DicomSequence([position])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = array[order].astype(np.uint16).tobytes()
    return ds


def encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def study(
    volumes: dict[Plane, npt.NDArray[Any]], storages: dict[Plane, Storage] | None = None
) -> list[bytes]:
    """A three-series study (MRNet's protocol descriptions), one file per slice, shuffled."""
    files = [
        encode(ds)
        for plane, volume in volumes.items()
        for ds in series(volume, plane, storage=(storages or {}).get(plane, Storage()))
    ]
    order = np.random.default_rng(0).permutation(len(files))
    return [files[i] for i in order]


def zipped(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def many_files_zip(count: int) -> bytes:
    """A zip whose directory lists `count` empty files (zip64 end records past 65,535).

    Written by hand because zipfile takes seconds for 100,000 members: every
    directory entry points at the one local header (as overlapping zip bombs do).
    """
    name = b"IM0"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0)
    entry = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 45, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
    )
    directory = (entry + name) * count
    start = len(local) + len(name)
    end64 = len(local) + len(name) + len(directory)
    record64 = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), start
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end64, 1)
    small = min(count, 0xFFFF)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, small, small, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + name + directory + record64 + locator + end


LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def nifti_bytes(
    volume: npt.NDArray[Any],
    plane: Plane,
    permutation: Sequence[int] = (0, 1, 2),
    flips: Sequence[bool] = (False, False, False),
    spacing: Sequence[float] = (3.0, 0.5, 0.5),
    gzipped: bool = False,
) -> bytes:
    """A NIfTI-1 file storing a view volume flipped (per view axis) then permuted.

    Stored axis k is view axis ``permutation[k]``; the affine says where each
    stored axis points (RAS), so a reader that follows it gets the view back.
    """
    import gzip

    import nibabel as nib

    steps = VIEW_AXES[plane] * np.asarray(spacing, dtype=np.float64)[:, None]  # (axis, LPS)
    origin = np.array([-40.0, -35.0, 20.0])
    array = volume
    for axis, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis)
            origin = origin + (volume.shape[axis] - 1) * steps[axis]
            steps[axis] = -steps[axis]
    array = np.transpose(array, permutation)
    affine = np.eye(4)
    affine[:3, :3] = LPS_TO_RAS @ steps[list(permutation)].T
    affine[:3, 3] = LPS_TO_RAS @ origin
    data: bytes = nib.Nifti1Image(np.ascontiguousarray(array), affine).to_bytes()
    return gzip.compress(data, mtime=0) if gzipped else data
