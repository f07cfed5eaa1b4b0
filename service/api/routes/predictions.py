"""POST /v1/predictions: an exam in, a triage score with exact per-slice attention out."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from service.api.deps import ApiKey, RuntimeDep, StateDep
from service.api.problems import responses
from service.api.schemas import PredictionResponse
from service.api.scoring import answer, score
from service.api.uploads import expected_slices, read_exam_form

router = APIRouter(prefix="/v1", tags=["predictions"], dependencies=[ApiKey])

_VOLUME = {
    "type": "string",
    "format": "binary",
    "description": "a .npy array (slices, height, width), integer or float",
}
UPLOAD_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["axial", "coronal", "sagittal"],
                    "properties": {
                        "axial": _VOLUME,
                        "coronal": _VOLUME,
                        "sagittal": _VOLUME,
                        "task": {"type": "string", "default": "acl"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/predictions",
    response_model=PredictionResponse,
    openapi_extra=UPLOAD_SCHEMA,
    responses=responses(401, 413, 415, 422, 503, 504),
    summary="Score one exam: three .npy volumes (axial, coronal, sagittal) as multipart",
)
async def create_prediction(
    request: Request, state: StateDep, runtime: RuntimeDep
) -> PredictionResponse:
    started = time.perf_counter()
    with runtime.admit(expected_slices(request, state.settings.max_slices)) as reservation:
        task, files = await read_exam_form(request, state.settings.max_study_instances)
        package = runtime.package(task)
        outcome, study = await score(state, runtime, task, files, reservation)
    return answer(request, outcome, package, started, study)
