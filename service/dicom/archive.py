"""Unpack zipped studies in memory, within the caps, counting bytes as they inflate.

Member names are only labels for messages and reports: nothing is written to
disk, so no name is ever a path. An archive inside an archive is refused.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from service.dicom.caps import Part, StudyCaps
from service.errors import InvalidInstanceError, StudyTooLargeError

CHUNK_BYTES = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"
DICOM_MAGIC_OFFSET = 128
DICOM_MAGIC = b"DICM"
END_RECORD, ZIP64_LOCATOR, ZIP64_END_RECORD = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
END_SEARCH_BYTES = 22 + 0xFFFF  # the end record, and the longest comment it may carry
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError)


@dataclass
class ByteBudget:
    """The bytes all instances of a study may take after unzipping, counted as they come."""

    limit: int
    used: int = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise StudyTooLargeError(
                f"The study is over {self.limit} bytes once unpacked; "
                f"at most {self.limit} are accepted (MRNET_MAX_STUDY_BYTES)."
            )


@dataclass
class Unpacked:
    """The instances found, and what was left out (not DICOM), as sentences."""

    parts: list[Part] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def is_dicom(data: bytes) -> bool:
    """A DICOM Part 10 file: a 128-byte preamble, then ``DICM``."""
    return data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == DICOM_MAGIC


def member_label(archive: str, name: str) -> str:
    shown = name if len(name) <= 120 else name[:117] + "..."
    return f"{archive} member {shown!r}"


def declared_members(data: bytes) -> int | None:
    """The member count the archive's end record declares, read before zipfile parses it all.

    Parsing a central directory costs time per entry (a 100,000-entry one takes
    seconds), so an archive that declares too many is refused from its last
    bytes. None when there is no end record (zipfile then says what is wrong).
    """
    end = data.rfind(END_RECORD, max(0, len(data) - END_SEARCH_BYTES))
    if end < 0 or end + 12 > len(data):
        return None
    (entries,) = struct.unpack_from("<H", data, end + 10)
    locator = end - 20  # a zip64 archive puts its counts in a zip64 end record
    if entries != 0xFFFF or locator < 0 or data[locator : locator + 4] != ZIP64_LOCATOR:
        return int(entries)
    (offset,) = struct.unpack_from("<Q", data, locator + 8)
    if data[offset : offset + 4] != ZIP64_END_RECORD or offset + 40 > len(data):
        return None
    (total,) = struct.unpack_from("<Q", data, offset + 32)
    return int(total)


def _too_many(part: Part, count: int, caps: StudyCaps) -> StudyTooLargeError:
    return StudyTooLargeError(
        f"The archive {part.name} holds {count} files; at most "
        f"{caps.max_instances} are accepted (MRNET_MAX_STUDY_INSTANCES)."
    )


def _members(archive: zipfile.ZipFile, part: Part, caps: StudyCaps) -> list[zipfile.ZipInfo]:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > caps.max_instances:
        raise _too_many(part, len(members), caps)
    return members


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with archive.open(info) as member:
        while chunk := member.read(CHUNK_BYTES):
            yield chunk


def _inflate(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, budget: ByteBudget
) -> bytes:
    if info.flag_bits & 0x1:
        raise InvalidInstanceError(label, "is encrypted; send the study unencrypted.")
    if info.file_size > budget.limit - budget.used:
        budget.take(info.file_size)  # its declared size alone is over: refused before inflating
    data = bytearray()
    for chunk in _chunks(archive, info):
        budget.take(len(chunk))
        if not data and chunk.startswith(ZIP_MAGIC):
            raise InvalidInstanceError(
                label, "is itself a zip archive; archives inside archives are not accepted."
            )
        data += chunk
    return bytes(data)


def unpack(part: Part, caps: StudyCaps, budget: ByteBudget) -> Unpacked:
    """The DICOM files of one zip part; other files are reported as skipped."""
    found = Unpacked()
    declared = declared_members(part.data)
    if declared is not None and declared > caps.max_instances:
        raise _too_many(part, declared, caps)
    try:
        with zipfile.ZipFile(io.BytesIO(part.data)) as archive:
            for info in _members(archive, part, caps):
                label = member_label(part.name, info.filename)
                data = _inflate(archive, info, label, budget)
                if is_dicom(data):
                    found.parts.append(Part(label, data))
                else:
                    found.skipped.append(f"The {label} is not a DICOM file; it was skipped.")
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        NotImplementedError,
        EOFError,
    ) as error:
        raise InvalidInstanceError(
            part.name, f"is not a readable zip archive ({error})."
        ) from error
    return found
