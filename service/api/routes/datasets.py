"""Browse the configured data sets: cases, slices as PNG, CAM overlays, stored predictions.

Every path part is looked up in the data set index by the dependencies; nothing
from the URL becomes part of a file path.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from service.api.deps import (
    ApiKey,
    CaseDep,
    CatalogDep,
    LabelFiltersDep,
    PlaneDep,
    RendererDep,
    RuntimeDep,
    SplitDep,
    StateDep,
    WindowDep,
)
from service.api.images import PNG_RESPONSES, PngResponse, is_fresh, not_modified, png
from service.api.problems import responses
from service.api.schemas import (
    CaseInfo,
    CasePage,
    DatasetList,
    PredictionResponse,
    case_info,
    case_page,
    dataset_info,
)
from service.api.scoring import answer, queued
from service.api.tasks import TaskRequest, task_request
from service.domain import Task as TaskName
from service.inference.engine import ExamOutcome

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], dependencies=[ApiKey])

CASE = "/{dataset}/{split}/cases/{case_id}"
CamTask = Annotated[
    TaskName | None,
    Query(description="the task whose map is drawn (default: acl, or the first served task)"),
]
TasksQuery = Annotated[
    str | None,
    Query(description="comma-separated tasks to score (default: every served task)"),
]
TaskQuery = Annotated[
    TaskName | None, Query(description="one task: a synonym of tasks", deprecated=True)
]
SliceIndex = Annotated[int, Path(description="the slice, from 0")]


@router.get(
    "",
    operation_id="listDatasets",
    response_model=DatasetList,
    responses=responses(401, 503),
    summary="Configured data sets: availability, splits, case counts and label tasks",
)
async def list_datasets(catalog: CatalogDep) -> DatasetList:
    return DatasetList(datasets=[dataset_info(d) for d in catalog.datasets.values()])


@router.get(
    "/{dataset}/{split}/cases",
    operation_id="listCases",
    response_model=CasePage,
    responses=responses(401, 404, 422, 503),
    summary="Cases of a split in case_id order, paged, optionally filtered by labels",
)
async def list_cases(
    split: SplitDep,
    filters: LabelFiltersDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasePage:
    return case_page(split, split.select(filters), offset, limit)


@router.get(
    CASE,
    operation_id="getCase",
    response_model=CaseInfo,
    responses=responses(401, 404, 503),
    summary="One case: labels, slice counts per plane, ground truth where there is some",
)
async def get_case(case: CaseDep) -> CaseInfo:
    return case_info(case)


@router.get(
    CASE + "/{plane}/slices/{index}.png",
    operation_id="getSlicePng",
    response_class=PngResponse,
    responses={**PNG_RESPONSES, **responses(401, 404, 422, 503)},
    summary="One slice as a lossless 8-bit gray PNG, optionally windowed",
)
async def slice_png(
    request: Request, ref: PlaneDep, index: SliceIndex, window: WindowDep, renderer: RendererDep
) -> Response:
    index = ref.check_slice(index)
    tag = await renderer.slice_tag(ref, index, window)
    if is_fresh(request, tag):
        return not_modified(tag)
    return png(await renderer.slice_png(ref, index, window), tag)


@router.get(
    CASE + "/{plane}/slices/{index}/cam.png",
    operation_id="getCamPng",
    response_class=PngResponse,
    responses={**PNG_RESPONSES, **responses(401, 404, 422, 503)},
    summary="One slice in gray with the model's class activation map blended over it (RGB)",
)
async def cam_png(
    request: Request,
    ref: PlaneDep,
    index: SliceIndex,
    runtime: RuntimeDep,
    renderer: RendererDep,
    task: CamTask = None,
) -> Response:
    index = ref.check_slice(index)
    chosen = runtime.default_task if task is None else task
    package = runtime.package(chosen)
    tag = await renderer.cam_tag(ref, index, package, chosen)
    if is_fresh(request, tag):
        return not_modified(tag)
    return png(await renderer.cam_png(ref, index, package, chosen), tag)


@router.get(
    CASE + "/prediction",
    operation_id="getCasePrediction",
    response_model=PredictionResponse,
    responses=responses(401, 404, 422, 503, 504),
    summary="The prediction for a stored case, every served task by default: the same body "
    "as POST /v1/predictions",
)
async def case_prediction(
    request: Request,
    state: StateDep,
    runtime: RuntimeDep,
    split: SplitDep,
    case: CaseDep,
    tasks: TasksQuery = None,
    task: TaskQuery = None,
) -> PredictionResponse:
    started = time.perf_counter()
    asked: TaskRequest = task_request(tasks, task)
    chosen = runtime.select(asked.names, asked.field)
    models = runtime.models(chosen)
    paths = split.volume_paths(case.case_id)

    async def predict() -> ExamOutcome:
        with await runtime.admit(case.slices) as reservation:
            return await queued(state, runtime.predict_stored(chosen, paths, reservation))

    digests = tuple(f"{t}:{models[t].digest}" for t in chosen)
    key = (split.dataset, split.name, case.case_id, *digests)
    outcome, cached = await state.stored_predictions.get(key, predict)
    if cached:  # nothing waited or ran for this request
        outcome = dataclasses.replace(outcome, queue_ms=0.0, inference_ms=0.0)
    return answer(request, outcome, models, started)
