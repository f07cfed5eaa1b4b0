"""Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    runtime = state.runtime
    if runtime is not None:
        state.metrics.queued_slices.set(runtime.engine.queued_slices)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
