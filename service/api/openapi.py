"""The OpenAPI document as client generators need it.

FastAPI documents every response with a model as `application/json` and adds its
own `HTTPValidationError` for 422; the service answers every error with an RFC
9457 problem, so error responses are rewritten here to say `application/problem+json`
(and only that), with the one `Problem` schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.problems import MEDIA_TYPE

PROBLEM_REF = "#/components/schemas/Problem"
_FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")


def _is_problem(response: dict[str, Any]) -> bool:
    refs = {
        str(media.get("schema", {}).get("$ref", ""))
        for media in response.get("content", {}).values()
    }
    return any(ref.rsplit("/", 1)[-1] in ("Problem", *_FASTAPI_DEFAULTS) for ref in refs)


def _problems_only(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                if _is_problem(response):
                    response["content"] = {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_DEFAULTS:
        schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serve the rewritten document at the app's openapi_url (built once, then cached)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = _problems_only(built)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
