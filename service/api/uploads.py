"""Read the exam upload: three volume file fields (.npy or NIfTI), or a DICOM study.

A study comes as a STOW-RS multipart/related body or as a form's `study` zip or
`dicom` files (see `service.api.studies`); either way with an optional task.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from service.api.problems import FieldError, ProblemError
from service.api.studies import form_parts, has_study, is_stow, read_stow
from service.dicom.caps import Part
from service.domain import PLANES, PRIMARY_TASK, Plane

ExamFiles = dict[Plane, bytes] | list[Part]  # three volume files, or a study's parts

TASK_FIELD = "task"
DEFAULT_TASK = PRIMARY_TASK
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


def _task(form: FormData) -> str:
    task = form.get(TASK_FIELD, DEFAULT_TASK)
    return (task if isinstance(task, str) else DEFAULT_TASK).strip()


async def read_exam_form(request: Request, max_instances: int) -> tuple[str, ExamFiles]:
    """The task and the raw bytes of each plane or study part; problems name every bad field."""
    content_type = request.headers.get("content-type", "")
    if is_stow(content_type):
        return request.query_params.get(TASK_FIELD, DEFAULT_TASK), await read_stow(
            request, max_instances
        )
    if not content_type.lower().startswith("multipart/form-data"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "The upload must be multipart/form-data or a STOW-RS multipart/related body, "
            f"not {content_type or 'absent'!r}.",
        )
    form = await request.form(max_files=max_instances, max_fields=8, max_part_size=1024)
    try:
        if has_study(form):
            return _task(form), await form_parts(form, {TASK_FIELD})
        errors = _check_fields(form)
        if errors:
            raise _invalid(errors)
        files: dict[Plane, bytes] = {}
        for plane in PLANES:
            upload = form[plane]
            assert isinstance(upload, UploadFile)
            files[plane] = await upload.read()
        return _task(form), files
    finally:
        await form.close()
