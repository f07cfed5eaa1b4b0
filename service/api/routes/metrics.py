"""Prometheus text exposition."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep) -> Response:
    runtime = state.runtime
    if runtime is not None:
        state.metrics.queued_slices.set(runtime.engine.queued_slices)
        state.metrics.waiting_exams.set(runtime.waiting_room.waiting)
    state.metrics.loop_cpu_seconds.set(time.thread_time())  # this handler runs on the loop
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
