"""Read the multipart exam upload: three `.npy` file fields and an optional task."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from service.api.problems import FieldError, ProblemError
from service.domain import PLANES, Plane

TASK_FIELD = "task"
DEFAULT_TASK = "acl"
BYTES_PER_SLICE = 256 * 256  # one slice as MRNet stores them: 256x256 uint8


def expected_slices(request: Request, max_slices: int) -> int:
    """The upload's slice count as its Content-Length suggests (0 without one).

    Only a guess for admission (other sizes and dtypes make it wrong); the
    engine checks the real count when the exam is submitted.
    """
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return 0
    return min(int(length) // BYTES_PER_SLICE, len(PLANES) * max_slices)


def _invalid(errors: list[FieldError]) -> ProblemError:
    detail = " ".join(error.message for error in errors)
    return ProblemError(422, "invalid-upload", "Invalid upload", detail, errors=errors)


def _check_fields(form: FormData) -> list[FieldError]:
    errors = [
        FieldError(
            field=name,
            message=f"The field {name!r} is not expected; send "
            f"{', '.join(PLANES)} and optionally {TASK_FIELD}.",
        )
        for name in sorted(set(form.keys()) - {*PLANES, TASK_FIELD})
    ]
    for plane in PLANES:
        values = form.getlist(plane)
        if not values:
            errors.append(FieldError(field=plane, message=f"The {plane} volume is missing."))
        elif len(values) > 1:
            errors.append(FieldError(field=plane, message=f"The {plane} volume was sent twice."))
        elif not isinstance(values[0], UploadFile):
            errors.append(FieldError(field=plane, message=f"The {plane} field must be a file."))
    tasks = form.getlist(TASK_FIELD)
    if len(tasks) > 1 or (tasks and not isinstance(tasks[0], str)):
        errors.append(FieldError(field=TASK_FIELD, message="The task must be one text field."))
    return errors


async def read_exam_form(request: Request) -> tuple[str, dict[Plane, bytes]]:
    """The task and the raw bytes of each plane; problems name every bad field."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"The upload must be multipart/form-data, not {content_type or 'absent'!r}.",
        )
    form = await request.form(max_files=8, max_fields=8, max_part_size=1024)
    try:
        errors = _check_fields(form)
        if errors:
            raise _invalid(errors)
        files: dict[Plane, bytes] = {}
        for plane in PLANES:
            upload = form[plane]
            assert isinstance(upload, UploadFile)
            files[plane] = await upload.read()
        task = form.get(TASK_FIELD, DEFAULT_TASK)
        return (task if isinstance(task, str) else DEFAULT_TASK).strip(), files
    finally:
        await form.close()
