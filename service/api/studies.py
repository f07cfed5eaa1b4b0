"""Read study uploads: a DICOMweb STOW-RS body, or a form's `study` zip or `dicom` files.

Only the parts' bytes are collected here, each with a name for messages
("part 3"); reading them as DICOM happens off the event loop in
`service.dicom`. The body itself is counted against the upload cap by the
middleware as it streams; here the parts are counted against the instance cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from service.api.problems import FieldError, ProblemError
from service.dicom.caps import Part

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

STOW_MEDIA_TYPE = "multipart/related"
DICOM_MEDIA_TYPE = "application/dicom"
STUDY_FIELD = "study"
DICOM_FIELD = "dicom"


def _unsupported(detail: str) -> ProblemError:
    return ProblemError(415, "unsupported-media-type", "Unsupported media type", detail)


def _too_many(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "too-many-instances",
        "Too many instances",
        f"The study has more than {limit} instances; at most {limit} are accepted.",
    )


@dataclass
class _Parts:
    """The state of a streaming multipart/related parse: finished parts and the current one."""

    limit: int
    parts: list[Part] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    headers: dict[str, str] = field(default_factory=dict)
    name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)

    def begin(self) -> None:
        if len(self.parts) >= self.limit:
            raise _too_many(self.limit)
        self.data, self.headers = bytearray(), {}

    def header_end(self) -> None:
        self.headers[self.name.decode("latin-1").strip().lower()] = self.value.decode("latin-1")
        self.name, self.value = bytearray(), bytearray()

    def end(self) -> None:
        number = len(self.parts) + 1
        media = self.headers.get("content-type", DICOM_MEDIA_TYPE).split(";")[0].strip().lower()
        if media != DICOM_MEDIA_TYPE:
            raise _unsupported(
                f"Part {number} is {media!r}; a STOW-RS study is sent as {DICOM_MEDIA_TYPE} parts."
            )
        self.parts.append(Part(f"part {number}", bytes(self.data)))

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.begin,
            "on_part_data": lambda data, start, end: self.data.extend(data[start:end]),
            "on_part_end": self.end,
            "on_header_field": lambda data, start, end: self.name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.value.extend(data[start:end]),
            "on_header_end": self.header_end,
        }


def is_stow(content_type: str) -> bool:
    return content_type.lower().startswith(STOW_MEDIA_TYPE)


async def read_stow(request: Request, max_instances: int) -> list[Part]:
    """The DICOM instances of a STOW-RS body, one per part, streamed as they arrive."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    kind = options.get(b"type", DICOM_MEDIA_TYPE.encode()).decode("latin-1").lower()
    if kind != DICOM_MEDIA_TYPE:
        raise _unsupported(
            f"A multipart/related study must have type={DICOM_MEDIA_TYPE!r}, not {kind!r}."
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise ProblemError(
            400, "bad-request", "Bad request", "The multipart/related body names no boundary."
        )
    state = _Parts(max_instances)
    parser = MultipartParser(boundary, state.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        raise ProblemError(
            400, "bad-request", "Bad request", f"The multipart/related body is malformed ({error})."
        ) from error
    if not state.parts:
        raise ProblemError(422, "invalid-upload", "Invalid upload", "The study has no instances.")
    return state.parts


def has_study(form: FormData) -> bool:
    return STUDY_FIELD in form or DICOM_FIELD in form


def _invalid(field_name: str, message: str) -> ProblemError:
    errors = [FieldError(field=field_name, message=message)]
    return ProblemError(422, "invalid-upload", "Invalid upload", message, errors=errors)


async def form_parts(form: FormData, extra: set[str]) -> list[Part]:
    """The `study` zip or the `dicom` files of a form; `extra` are other fields it may carry."""
    unexpected = sorted(set(form.keys()) - {STUDY_FIELD, DICOM_FIELD, *extra})
    if unexpected:
        message = (
            f"The field {unexpected[0]!r} is not expected with a study; send one "
            f"{STUDY_FIELD!r} zip or {DICOM_FIELD!r} files."
        )
        raise _invalid(unexpected[0], message)
    studies, files = form.getlist(STUDY_FIELD), form.getlist(DICOM_FIELD)
    if studies and files:
        raise _invalid(
            STUDY_FIELD, f"Send a {STUDY_FIELD!r} zip or {DICOM_FIELD!r} files, not both."
        )
    if len(studies) > 1:
        raise _invalid(STUDY_FIELD, "Send one study zip; it was sent more than once.")
    uploads = studies or files
    if not all(isinstance(item, UploadFile) for item in uploads):
        name = STUDY_FIELD if studies else DICOM_FIELD
        raise _invalid(name, f"The {name} field must be a file.")
    parts = []
    for number, item in enumerate(uploads, start=1):
        assert isinstance(item, UploadFile)
        data = await item.read()
        if studies:
            parts.append(Part("study archive", data, kind="zip"))
        else:
            parts.append(Part(f"dicom file {number} ({(item.filename or '')[:120]!r})", data))
    return parts
