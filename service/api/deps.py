"""Shared route dependencies as `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from service.api.problems import ProblemError
from service.api.state import ServiceState
from service.inference.runtime import Runtime


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_runtime(state: StateDep) -> Runtime:
    return state.ready_runtime()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key")


def require_api_key(request: Request, state: StateDep) -> None:
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
