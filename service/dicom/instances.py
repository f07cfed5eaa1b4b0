"""Read uploaded instances with pydicom: the headers that say what and where each frame is.

Reading never touches the network or the file system: ``dcmread`` on the bytes,
``force=False`` (a file without the ``DICM`` preamble is not DICOM), large
values deferred. Pixels are decoded later, and only for the series chosen.
Any failure of pydicom on hostile bytes becomes an `InvalidInstanceError`
naming the part or archive member.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from service.dicom.caps import Part, StudyCaps
from service.errors import InvalidInstanceError, StudyTooLargeError

DEFER_BYTES = 64 * 1024
UNDEFINED_LENGTH = 0xFFFFFFFF
DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR)
NOT_DICOM = "is not a DICOM file (no 'DICM' preamble)."
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class SeriesInfo:
    uid: str
    number: int | None
    description: str
    modality: str
    image_type: tuple[str, ...]


@dataclass(frozen=True)
class Frame:
    """One slice: its instance, its place in the patient and how to turn its values."""

    instance: str  # the part's name, for messages
    dataset: Dataset
    index: int | None  # frame number in a multi-frame instance, None for a single frame
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (6)
    position: tuple[float, ...] | None  # ImagePositionPatient (3), mm
    spacing: tuple[float, ...] | None  # PixelSpacing: between rows, between columns (mm)
    slope: float
    intercept: float
    instance_number: int


@dataclass(frozen=True)
class Instance:
    name: str
    series: SeriesInfo
    frames: list[Frame]
    rows: int
    columns: int
    samples: int
    has_pixels: bool
    transfer_syntax: UID


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    numbers = tuple(float(v) for v in value)
    return numbers if len(numbers) == count else None


def _first(sequence: Any) -> Dataset | None:
    return sequence[0] if sequence else None


def _group_value(groups: list[Dataset | None], sequence: str, keyword: str) -> Any:
    """A value from the first functional group (per-frame, then shared) that has it."""
    for group in groups:
        item = _first(group.get(sequence)) if group is not None else None
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _multi_frames(name: str, ds: Dataset, count: int) -> list[Frame]:
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    frames = []
    for index in range(count):
        groups = [per_frame[index] if index < len(per_frame) else None, shared]
        value = _group_value(groups, "PixelValueTransformationSequence", "RescaleSlope")
        offset = _group_value(groups, "PixelValueTransformationSequence", "RescaleIntercept")
        orientation = _group_value(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
        frames.append(
            Frame(
                instance=name,
                dataset=ds,
                index=index,
                orientation=_numbers(orientation, 6),
                position=_numbers(
                    _group_value(groups, "PlanePositionSequence", "ImagePositionPatient"), 3
                ),
                spacing=_numbers(_group_value(groups, "PixelMeasuresSequence", "PixelSpacing"), 2),
                slope=float(value) if value is not None else 1.0,
                intercept=float(offset) if offset is not None else 0.0,
                instance_number=int(ds.get("InstanceNumber") or 0) * 10_000 + index,
            )
        )
    return frames


def _frames(name: str, ds: Dataset) -> list[Frame]:
    count = int(ds.get("NumberOfFrames") or 1)
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        return _multi_frames(name, ds, count)
    single = Frame(
        instance=name,
        dataset=ds,
        index=None if count == 1 else 0,
        orientation=_numbers(ds.get("ImageOrientationPatient"), 6),
        position=_numbers(ds.get("ImagePositionPatient"), 3),
        spacing=_numbers(ds.get("PixelSpacing"), 2),
        slope=float(ds.get("RescaleSlope", 1.0)),
        intercept=float(ds.get("RescaleIntercept", 0.0)),
        instance_number=int(ds.get("InstanceNumber") or 0),
    )
    # a multi-frame instance without per-frame geometry cannot be placed frame by frame
    return [single] if count == 1 else [replace(single, position=None)]


def _series(ds: Dataset) -> SeriesInfo:
    number = ds.get("SeriesNumber")
    return SeriesInfo(
        uid=str(ds.get("SeriesInstanceUID") or "(no SeriesInstanceUID)"),
        number=int(number) if number not in (None, "") else None,
        description=str(ds.get("SeriesDescription") or "").strip(),
        modality=str(ds.get("Modality") or "").strip(),
        image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or [])),
    )


def _cut_short(ds: Dataset, size: int) -> str | None:
    """The first element whose declared length runs past the end of the bytes.

    pydicom reads such a file without an error (it warns, and keeps the short
    value), so a wrong length or a truncated upload is caught here.
    """
    for tag in ds.keys():  # noqa: SIM118 (iterating a Dataset converts every element)
        element = ds.get_item(tag)
        if not isinstance(element, RawDataElement) or element.length == UNDEFINED_LENGTH:
            continue
        if element.value_tell + element.length > size:
            return (
                f"is cut short or has a wrong length: element {element.tag} declares "
                f"{element.length} bytes, past the end of its {size} bytes."
            )
    return None


def _instance(part: Part, ds: Dataset, caps: StudyCaps) -> Instance:
    problem = _cut_short(ds, len(part.data))
    if problem is not None:
        raise InvalidInstanceError(part.name, problem)
    if not ds.get("SOPInstanceUID"):
        raise InvalidInstanceError(
            part.name, "has no SOPInstanceUID, which every instance has (is it cut short?)."
        )
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    if rows * columns > caps.max_frame_pixels:
        raise StudyTooLargeError(
            f"The instance {part.name} has {rows} x {columns} pixels per frame; at most "
            f"{caps.max_frame_pixels} are accepted (MRNET_MAX_FRAME_PIXELS)."
        )
    return Instance(
        name=part.name,
        series=_series(ds),
        frames=_frames(part.name, ds),
        rows=rows,
        columns=columns,
        samples=int(ds.get("SamplesPerPixel") or 1),
        has_pixels=any(keyword in ds for keyword in PIXEL_KEYWORDS),
        transfer_syntax=UID(str(ds.file_meta.get("TransferSyntaxUID", ""))),
    )


def read_instance(part: Part, caps: StudyCaps) -> Instance | None:
    """The instance's header; None for a DICOMDIR (an index of files, not an image)."""
    try:
        ds = dcmread(io.BytesIO(part.data), force=False, defer_size=DEFER_BYTES)
        if str(ds.file_meta.get("MediaStorageSOPClassUID", "")) == DIRECTORY_SOP_CLASS:
            return None
        return _instance(part, ds, caps)
    except InvalidDicomError as error:
        raise InvalidInstanceError(
            part.name, "is not a DICOM file (no 'DICM' preamble)."
        ) from error
    except StudyTooLargeError:
        raise
    except Exception as error:  # pydicom signals malformed data with many exception types
        raise InvalidInstanceError(
            part.name, f"is not readable DICOM ({_reason(error)})."
        ) from error


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
