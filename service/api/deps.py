"""Shared route dependencies as `Annotated` aliases.

All are `async def`: none blocks, and FastAPI would run a plain `def` in a worker
thread, a hop per dependency that even a refused request would pay.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request

from service.api.problems import ProblemError
from service.api.state import ServiceState
from service.datasets.catalog import CaseEntry, Catalog, PlaneRef, SplitIndex
from service.domain import Plane
from service.imaging.renderer import SliceRenderer
from service.imaging.slices import Window
from service.inference.runtime import Runtime


async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_runtime(state: StateDep) -> Runtime:
    return state.ready_runtime()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key")


async def require_api_key(request: Request, state: StateDep) -> None:
    """With keys configured, the request must present one (compared in constant time)."""
    keys = state.settings.api_keys
    if not keys:
        return
    presented = (_presented_key(request) or "").encode()
    matched = False
    for key in keys:  # every key is compared, so timing does not tell which one matched
        matched |= hmac.compare_digest(presented, key.get_secret_value().encode())
    if not matched:
        detail = (
            "The API key is wrong."
            if presented
            else "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'."
        )
        raise ProblemError(
            401,
            "unauthorized",
            "Unauthorized",
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="mrnet"'},
        )


ApiKey = Depends(require_api_key)


async def hold_upload_slot(request: Request, state: StateDep) -> AsyncIterator[None]:
    """One of the client address's slots for predictions in progress (429 when none is free)."""
    address = request.client.host if request.client is not None else "unknown"
    with state.upload_slots.hold(address):
        yield


UploadSlot = Depends(hold_upload_slot)


async def get_catalog(state: StateDep) -> Catalog:
    return state.ready_catalog()


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


DatasetName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a configured data set")
]
SplitName = Annotated[Literal["train", "valid"], Path(description="the MRNet split")]
CaseId = Annotated[str, Path(pattern=r"^[0-9]{4,8}$", description="an MRNet case id")]
PlaneName = Annotated[Plane, Path(description="the exam's plane")]


async def get_split(dataset: DatasetName, split: SplitName, catalog: CatalogDep) -> SplitIndex:
    """The split named in the path, looked up in the index (404 when it is not there)."""
    return catalog.split(dataset, split)


SplitDep = Annotated[SplitIndex, Depends(get_split)]


async def get_case(case_id: CaseId, split: SplitDep) -> CaseEntry:
    return split.case(case_id)


CaseDep = Annotated[CaseEntry, Depends(get_case)]


async def get_plane(case_id: CaseId, plane: PlaneName, split: SplitDep) -> PlaneRef:
    return split.plane(case_id, plane)


PlaneDep = Annotated[PlaneRef, Depends(get_plane)]


async def get_renderer(state: StateDep) -> SliceRenderer:
    return state.renderer


RendererDep = Annotated[SliceRenderer, Depends(get_renderer)]


async def get_window(
    window: Annotated[
        str | None,
        Query(description="center,width: maps [c - w/2, c + w/2] of the stored values to 0..255"),
    ] = None,
) -> Window | None:
    return Window.parse(window) if window is not None else None


WindowDep = Annotated[Window | None, Depends(get_window)]

LabelQuery = Annotated[int | None, Query(ge=0, le=1, description="only cases with this label")]


async def get_label_filters(
    abnormal: LabelQuery = None, acl: LabelQuery = None, meniscus: LabelQuery = None
) -> dict[str, int]:
    given = {"abnormal": abnormal, "acl": acl, "meniscus": meniscus}
    return {task: value for task, value in given.items() if value is not None}


LabelFiltersDep = Annotated[dict[str, int], Depends(get_label_filters)]
