"""Write a synthetic study as DICOM files: one MR Image Storage instance per image.

Files are built with pydicom (Explicit VR Little Endian, uncompressed 16-bit
words holding 12-bit values). Every UID comes from `pydicom.uid.generate_uid`
with the data set's seed, the case and the instance as its entropy, and no
attribute holds a clock time or a host name, so one seed gives the same bytes.
The geometry convention is described in `service.synth.study`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from service.synth.study import Series, Stack

STUDY_DATE: Final = "20260101"  # fixed: the output depends on the seed only
_DIAGNOSTIC_TYPE: Final = ["ORIGINAL", "PRIMARY"]
_LOCALIZER_TYPE: Final = ["ORIGINAL", "PRIMARY", "LOCALIZER"]


@dataclass(frozen=True)
class StudyIdentity:
    """Who and what the study is; `uid_source` seeds every UID of it."""

    case_id: str
    left_knee: bool
    uid_source: tuple[str, ...]  # e.g. (generator, seed, case id)

    def uid(self, *parts: str) -> UID:
        return generate_uid(entropy_srcs=[*self.uid_source, *parts])


def _ds(value: float) -> str:
    """A decimal string of at most 16 characters, never '-0'."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _common(identity: StudyIdentity) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.StudyInstanceUID = identity.uid("study")
    ds.FrameOfReferenceUID = identity.uid("frame")
    ds.PatientName = f"SYNTH^{identity.case_id}"
    ds.PatientID = f"SYNTH-{identity.case_id}"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = "080000"
    ds.AccessionNumber = identity.case_id
    ds.StudyID = identity.case_id
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "MR KNEE WO CONTRAST"
    ds.Modality = "MR"
    ds.Manufacturer = "mrnet-synth"
    ds.ManufacturerModelName = "knee phantom"
    ds.MagneticFieldStrength = "3"
    ds.BodyPartExamined = "KNEE"
    ds.PatientPosition = "FFS"  # feet first, supine: how a knee goes into the coil
    ds.Laterality = "L" if identity.left_knee else "R"
    ds.PositionReferenceIndicator = ""
    return ds


def _series_attributes(ds: Dataset, series: Series, identity: StudyIdentity) -> None:
    seq = series.sequence
    ds.SeriesInstanceUID = identity.uid("series", str(series.number))
    ds.SeriesNumber = series.number
    ds.SeriesDescription = seq.description
    ds.ProtocolName = seq.description
    ds.SeriesTime = f"08{series.number:02d}00"
    ds.ImageType = _LOCALIZER_TYPE if series.localizer else _DIAGNOSTIC_TYPE
    ds.ScanningSequence = "GR" if series.localizer else "SE"
    ds.SequenceVariant = "SP" if series.localizer else "SK"
    ds.ScanOptions = "FS" if seq.fat_suppressed else ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = _ds(seq.repetition_ms)
    ds.EchoTime = _ds(seq.echo_ms)
    ds.SliceThickness = _ds(series.slice_thickness_mm)
    if not series.localizer:
        ds.SpacingBetweenSlices = _ds(series.slice_spacing_mm)
    ds.AcquisitionNumber = 1
    if series.rescale is not None:
        ds.RescaleSlope = _ds(series.rescale.slope)
        ds.RescaleIntercept = _ds(series.rescale.intercept)
        ds.RescaleType = "US"  # unspecified: MR has no standard unit


def _window(series: Series) -> tuple[str, str]:
    """WindowCenter and WindowWidth that span the series' values after the rescale."""
    low = float(min(stack.pixels.min() for stack in series.images))
    high = float(max(stack.pixels.max() for stack in series.images))
    if series.rescale is not None:
        low, high = (series.rescale.slope * v + series.rescale.intercept for v in (low, high))
    return _ds((low + high) / 2.0), _ds(max(high - low, 1.0))


def _image_attributes(ds: Dataset, stack: Stack, k: int) -> None:
    position = stack.position(k)
    orientation = stack.orientation
    normal = np.cross(orientation[:3], orientation[3:])
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.ImageOrientationPatient = [_ds(v) for v in orientation]
    ds.SliceLocation = _ds(float(position @ normal))
    ds.PixelSpacing = [_ds(v) for v in stack.pixel_spacing]
    pixels = stack.pixels[k]  # (h, w)
    ds.set_pixel_data(np.ascontiguousarray(pixels), "MONOCHROME2", 12, generate_instance_uid=False)


def _instances(series: Series, identity: StudyIdentity) -> Iterator[Dataset]:
    number = 0
    center, width = _window(series)
    for stack in series.images:
        for k in range(stack.pixels.shape[0]):
            number += 1
            ds = _common(identity)
            _series_attributes(ds, series, identity)
            ds.InstanceNumber = number
            ds.SOPInstanceUID = identity.uid("instance", str(series.number), str(number))
            ds.file_meta = _file_meta(ds)
            _image_attributes(ds, stack, k)
            ds.WindowCenter, ds.WindowWidth = center, width
            yield ds


def _file_meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def write_study(
    directory: Path, series: list[Series], identity: StudyIdentity, rng: np.random.Generator
) -> list[Path]:
    """Write every instance as `IM00001.dcm`...; half the studies number files out of order."""
    datasets = [ds for one in series for ds in _instances(one, identity)]
    names = np.arange(1, len(datasets) + 1)
    if rng.random() < 0.5:
        names = rng.permutation(names)  # file order says nothing about slice order
    directory.mkdir(parents=True, exist_ok=False)
    paths = []
    for ds, name in zip(datasets, names, strict=True):
        ds.preamble = b"\0" * 128
        path = directory / f"IM{int(name):05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
