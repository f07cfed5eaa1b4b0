"""The in-browser viewer: GET / is the page, GET /viewer/{asset} its scripts and styles.

The page needs no API key (it holds no data); the data it shows comes from /v1, which does.
Assets carry no version in their names, so browsers revalidate them (ETag, 304) on every load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from service.api.problems import ProblemError

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static" / "viewer"
_PAGE_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

router = APIRouter(include_in_schema=False)
_files = StaticFiles(directory=STATIC_DIR, check_dir=False)


def _served(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/")
async def viewer_page(request: Request) -> Response:
    response = _served(await _files.get_response("index.html", request.scope))
    response.headers["Content-Security-Policy"] = _PAGE_POLICY
    return response


@router.get("/viewer/{asset}")
async def viewer_asset(asset: str, request: Request) -> Response:
    try:
        return _served(await _files.get_response(asset, request.scope))
    except HTTPException as error:
        if error.status_code != 404:
            raise
        detail = f"The viewer has no file named {asset!r}."
        raise ProblemError(404, "not-found", "Not found", detail) from error
