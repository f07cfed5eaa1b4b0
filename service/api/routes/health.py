"""Liveness and readiness; open even when API keys are configured."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.deps import StateDep
from service.api.schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "/live",
    operation_id="getLiveness",
    response_model=Health,
    summary="200 while the process serves",
)
async def live() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    operation_id="getReadiness",
    response_model=Health,
    summary="200 once every served model is loaded and warm; 503 before, with the reason",
    responses={503: {"model": Health, "description": "loading, or a package failed to load"}},
)
async def ready(state: StateDep) -> Health | JSONResponse:
    if state.runtime is not None:
        return Health(status="ready")
    status, detail = (
        ("loading", "The models are loading.")
        if state.failure is None
        else ("failed", f"The models could not be loaded: {state.failure}")
    )
    body = Health(status=status, detail=detail).model_dump()
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
