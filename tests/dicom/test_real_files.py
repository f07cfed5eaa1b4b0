"""Real DICOM that nobody here wrote: the files pydicom ships, each with the right answer.

MR_small (a 64x64 MR slice from a real scanner) comes in six transfer
syntaxes; made into a three-plane study (only the headers that place the
slices are edited, the encoded pixel data is kept) it must decode the same in
each. The DICOMDIR test set holds a real MR study (a localizer, a three-plane
pilot, a rotational angiography projection), CT series and CR images: all of
them are refused for the right reason.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from service.dicom.caps import Part, StudyCaps
from service.dicom.pixels import to_uint8
from service.dicom.rules import DEFAULT_RULES
from service.dicom.study import Study, read_study
from service.domain import PLANES
from service.errors import InvalidInstanceError, MissingPlaneError, UnsupportedTransferSyntaxError

from dicom_factories import DESCRIPTIONS, VIEW_AXES, encode

FILES = Path(os.path.dirname(pydicom.data.__file__)) / "test_files"
MR_SMALL = {
    "explicit little endian": "MR_small.dcm",
    "implicit little endian": "MR_small_implicit.dcm",
    "explicit big endian": "MR_small_bigendian.dcm",
    "RLE lossless": "MR_small_RLE.dcm",
    "JPEG 2000 lossless": "MR_small_jp2klossless.dcm",
    "JPEG-LS lossless": "MR_small_jpeg_ls_lossless.dcm",
}
SLICES = 5


def _as_series(name: str, plane: str, edit: dict[str, object] | None = None) -> list[bytes]:
    """MR_small-like slices of one series lying in `plane`, positions 4 mm apart."""
    uid = generate_uid()
    axes = VIEW_AXES[plane]  # type: ignore[index]
    files = []
    for index in range(SLICES):
        ds: Dataset = dcmread(FILES / name)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]  # MR_small says DERIVED/SECONDARY
        ds.SeriesDescription = DESCRIPTIONS[plane]  # type: ignore[index]
        ds.ImageOrientationPatient = [float(v) for v in (*axes[2], *axes[1])]
        ds.ImagePositionPatient = [float(v) for v in 4.0 * index * axes[0]]
        ds.InstanceNumber = index + 1
        for key, value in (edit or {}).items():
            setattr(ds, key, value)
        files.append(encode(ds))
    return files


def _read(files: list[bytes], size: int = 64) -> Study:
    parts = [Part(f"part {n}", data) for n, data in enumerate(files, start=1)]
    return read_study(parts, DEFAULT_RULES, StudyCaps(), size)


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    """The uncompressed file's pixels, min-max to uint8, as each slice of every series."""
    pixels = dcmread(FILES / "MR_small.dcm").pixel_array
    return np.repeat(to_uint8(pixels)[None], SLICES, axis=0)


@pytest.mark.parametrize("syntax", sorted(MR_SMALL))
def test_mr_small_decodes_the_same_in_every_transfer_syntax(
    syntax: str, expected: np.ndarray
) -> None:
    files = [f for plane in PLANES for f in _as_series(MR_SMALL[syntax], plane)]
    result = _read(files)
    for plane in PLANES:
        assert result.used[plane].slices == SLICES
        assert result.used[plane].slice_spacing_mm == pytest.approx(4.0)
        assert result.used[plane].pixel_spacing_mm == (0.3125, 0.3125)
    assert np.array_equal(result.volumes["axial"], expected)  # stored as axial is viewed
    assert np.array_equal(result.volumes["sagittal"], expected)


def test_mr_small_as_it_is_is_refused_as_derived() -> None:
    with pytest.raises(MissingPlaneError, match="DERIVED/SECONDARY"):
        _read([(FILES / "MR_small.dcm").read_bytes()])


def test_a_transfer_syntax_without_a_decoder_is_named() -> None:
    files = [f for plane in ("axial", "coronal") for f in _as_series("MR_small_RLE.dcm", plane)]
    mpeg2 = _as_series("MR_small_RLE.dcm", "sagittal")
    for number, data in enumerate(mpeg2):
        ds = dcmread(io.BytesIO(data))
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video: no decoder
        mpeg2[number] = encode(ds)
    with pytest.raises(
        UnsupportedTransferSyntaxError, match=r"MPEG2 .*\(1\.2\.840\.10008\.1\.2\.4\.100\)"
    ):
        _read(files + mpeg2)


def test_a_truncated_real_file_is_named() -> None:
    files = [f for plane in ("axial", "coronal") for f in _as_series("MR_small.dcm", plane)]
    truncated = _as_series("MR_truncated.dcm", "sagittal")  # its pixel data is cut short
    with pytest.raises(
        InvalidInstanceError, match=r"part 1[1-5] has pixel data that cannot be decoded"
    ):
        _read(files + truncated)


def _zip_folder(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def test_the_dicomdir_test_set_is_refused_with_a_reason_per_series() -> None:
    archive = Part("study archive", _zip_folder(FILES / "dicomdirtests"), kind="zip")
    with pytest.raises(MissingPlaneError) as caught:
        read_study([archive], DEFAULT_RULES, StudyCaps(), 64)
    message = str(caught.value)
    assert "no usable axial, coronal or sagittal series" in message
    assert "'ANGIO Projected from   C': Its ImageType is DERIVED/SECONDARY" in message
    assert "'T/S/C RF FAST PILOT': In orientation 1 of 3, it has 1 slice" in message
    assert "'FAST LOCALIZER': It has 1 slice" in message
    assert "'Routine Brain': Its modality is CT, not MR" in message
    assert "'Cervical LAT': Its modality is CR, not MR" in message


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "rtdose.dcm", "liver_1frame.dcm", "JPEG-lossy.dcm", "image_dfl.dcm"]
)
def test_other_real_objects_are_screened_not_crashed_on(name: str) -> None:
    with pytest.raises(MissingPlaneError, match="modality is"):
        _read([(FILES / name).read_bytes()])


def test_a_file_without_the_dicom_preamble_is_named() -> None:
    with pytest.raises(InvalidInstanceError, match="part 1 is not a DICOM file"):
        _read([(FILES / "no_meta.dcm").read_bytes()])


def test_a_value_that_breaks_its_vr_is_named() -> None:
    with pytest.raises(InvalidInstanceError, match=r"part 1 is not readable DICOM.*'1A'"):
        _read([(FILES / "badVR.dcm").read_bytes()])  # NumberOfFrames (IS) is "1A"


def test_the_real_truncated_file_is_named_as_cut_short() -> None:
    with pytest.raises(InvalidInstanceError, match=r"part 1 is cut short .*\(7FE0,0010\)"):
        _read([(FILES / "MR_truncated.dcm").read_bytes()])
