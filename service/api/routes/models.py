"""The served model packages."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ApiKey, RuntimeDep
from service.api.problems import responses
from service.api.schemas import ModelList, model_list

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[ApiKey])


@router.get(
    "/models",
    operation_id="listModels",
    response_model=ModelList,
    responses=responses(401, 503),
    summary="Served model packages, the tasks each serves, and per task its threshold and metrics",
)
async def list_models(runtime: RuntimeDep) -> ModelList:
    return model_list(runtime.describe(), runtime.serving)
