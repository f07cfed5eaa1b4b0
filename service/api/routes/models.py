"""The served model packages."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ApiKey, RuntimeDep
from service.api.problems import responses
from service.api.schemas import ModelInfo, ModelList

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[ApiKey])


@router.get(
    "/models",
    operation_id="listModels",
    response_model=ModelList,
    responses=responses(401, 503),
    summary="Served model packages: identity, device, threshold, metrics, intended use",
)
async def list_models(runtime: RuntimeDep) -> ModelList:
    return ModelList(models=[ModelInfo(**info) for info in runtime.describe()])
