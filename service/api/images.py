"""PNG answers with an ETag, private caching, and 304 for a matching If-None-Match."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

CACHE_CONTROL = "private, max-age=3600"  # private: API keys may apply

PNG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "image/png": {
                "schema": {"type": "string", "format": "binary", "contentMediaType": "image/png"}
            }
        },
        "description": "the image, with ETag and Cache-Control",
    },
    304: {"description": "Not modified: If-None-Match holds the current ETag"},
}


class PngResponse(Response):
    """A PNG body; as a route's response class it makes the document say image/png."""

    media_type = "image/png"


def _validators(tag: str) -> dict[str, str]:
    return {"ETag": tag, "Cache-Control": CACHE_CONTROL}


def is_fresh(request: Request, tag: str) -> bool:
    """If-None-Match lists this tag (compared weakly, as RFC 9110 says for this header)."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return "*" in candidates or tag in candidates


def not_modified(tag: str) -> Response:
    return Response(status_code=304, headers=_validators(tag))


def png(body: bytes, tag: str) -> Response:
    return PngResponse(body, headers=_validators(tag))
