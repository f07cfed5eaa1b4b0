"""POST /v1/predictions: an exam in, a triage score with exact per-slice attention out."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import ApiKey, RuntimeDep, StateDep, UploadSlot
from service.api.problems import responses
from service.api.schemas import PredictionResponse
from service.api.scoring import answer, score
from service.api.tasks import TASK_FIELD, TASKS_FIELD
from service.api.uploads import expected_slices, read_exam_form
from service.domain import PLANES, TASKS

router = APIRouter(prefix="/v1", tags=["predictions"], dependencies=[ApiKey, UploadSlot])

VOLUME_MEDIA = "application/octet-stream"  # .npy and NIfTI have no registered media type
_TASKS: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*[a-z][a-z0-9_-]*\s*(,\s*[a-z][a-z0-9_-]*\s*)*$",
    "description": "comma-separated tasks to score, e.g. 'acl,meniscus' (default: every "
    "served task; GET /v1/models lists them). An unknown task is a 422 that names the "
    "served ones.",
    "examples": ["abnormal,acl,meniscus", "acl"],
}
_TASK: dict[str, Any] = {
    "type": "string",
    "enum": list(TASKS),
    "deprecated": True,
    "description": f"one task: a synonym of {TASKS_FIELD} for one-task clients (send one of "
    "the two)",
}
_TASK_FIELDS = {TASKS_FIELD: _TASKS, TASK_FIELD: _TASK}


def _file(media: str, description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "binary",
        "contentMediaType": media,
        "description": description,
    }


def _volume(plane: str) -> dict[str, Any]:
    return _file(
        VOLUME_MEDIA,
        f"the {plane} series: a .npy array (slices, height, width), integer or float, or a "
        "NIfTI volume (.nii, .nii.gz) oriented by its affine",
    )


def form_variant(title: str, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One way to fill the form: these file parts (all required), optional tasks, no others."""
    return {
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": list(files),
        "properties": {**files, **_TASK_FIELDS},
    }


_VOLUMES = form_variant("Three volumes", {plane: _volume(plane) for plane in PLANES})
_STUDY_ZIP = form_variant(
    "A DICOM study as a zip",
    {
        "study": _file(
            "application/zip", "a .zip of the study's DICOM files (folders and other files allowed)"
        )
    },
)
_DICOM_FILES = form_variant(
    "A DICOM study as files",
    {
        "dicom": {
            "type": "array",
            "items": _file("application/dicom", "one DICOM instance"),
            "description": "one DICOM instance per field, as a folder picker sends them",
        }
    },
)
# Every part's media, by name, across the three variants.
FORM_ENCODING: dict[str, dict[str, str]] = {
    **{plane: {"contentType": VOLUME_MEDIA} for plane in PLANES},
    "study": {"contentType": "application/zip"},
    "dicom": {"contentType": "application/dicom"},
    TASKS_FIELD: {"contentType": "text/plain"},
    TASK_FIELD: {"contentType": "text/plain"},
}
UPLOAD_SCHEMA: dict[str, Any] = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": f"{name}, for a STOW-RS body (a form carries it as a field)",
        }
        for name, schema in _TASK_FIELDS.items()
    ],
    "requestBody": {
        "required": True,
        "description": "Three volumes, or a DICOM study: the service picks one series per "
        "plane and reports it in the answer's `input` (see docs/dicom.md).",
        "content": {
            "multipart/form-data": {
                "schema": {"oneOf": [_VOLUMES, _STUDY_ZIP, _DICOM_FILES]},
                "encoding": FORM_ENCODING,
            },
            'multipart/related; type="application/dicom"': {
                "schema": {
                    "type": "array",
                    "items": {"type": "string", "format": "binary"},
                    "description": "DICOMweb STOW-RS: one application/dicom part per instance",
                }
            },
        },
    },
}
UPLOAD_RESPONSES = responses(400, 401, 408, 413, 415, 422, 429, 503, 504)


@router.post(
    "/predictions",
    operation_id="createPrediction",
    response_model=PredictionResponse,
    openapi_extra=UPLOAD_SCHEMA,
    responses=UPLOAD_RESPONSES,
    summary="Score one exam for every served task (or those in `tasks`): three volumes (.npy "
    "or NIfTI) or a DICOM study (STOW-RS or zip)",
)
async def create_prediction(
    request: Request, state: StateDep, runtime: RuntimeDep
) -> PredictionResponse:
    started = time.perf_counter()
    with await runtime.admit(expected_slices(request, state.settings.max_slices)) as reservation:
        asked, files = await read_exam_form(request, state.settings.max_study_instances)
        tasks = runtime.select(asked.names, asked.field)
        outcome, study = await score(state, runtime, tasks, files, reservation)
    return answer(request, outcome, runtime.models(tasks), started, study)


# A DICOMweb client (dicomweb-client, a router's STOW-RS destination) posts to <base>/studies.
# The answer is the same prediction; its media type is not DICOM JSON's, so such a client
# does not try to read it as a Store Instances Response (dicomweb-client returns an empty
# dataset; read the body in a response callback, see docs/dicom.md).
STOW_MEDIA_TYPE = "application/json; charset=utf-8"


@router.post(
    "/predictions/studies",
    operation_id="createStudyPrediction",
    response_model=PredictionResponse,
    openapi_extra={
        "parameters": UPLOAD_SCHEMA["parameters"],
        "requestBody": UPLOAD_SCHEMA["requestBody"],
    },
    responses=UPLOAD_RESPONSES,
    summary="The same, at the path DICOMweb clients post STOW-RS to (<base>/studies)",
)
async def create_prediction_stow(
    request: Request, state: StateDep, runtime: RuntimeDep
) -> JSONResponse:
    body = await create_prediction(request, state, runtime)
    return JSONResponse(body.model_dump(mode="json"), media_type=STOW_MEDIA_TYPE)
