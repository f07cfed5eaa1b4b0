"""RFC 9457 problem details: the one place domain errors become HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from service.errors import (
    DatasetError,
    DeadlineExceededError,
    InvalidExamError,
    InvalidInstanceError,
    InvalidQueryError,
    InvalidVolumeError,
    MissingPlaneError,
    MRNetError,
    NotReadyError,
    PackageError,
    QueueFullError,
    StudyError,
    StudyTooLargeError,
    UnknownTaskError,
    UnsupportedTransferSyntaxError,
)

CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client gone before the answer
PROBLEM_TYPE_BASE = "https://mrnet.example/problems/"
MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("mrnet.api")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "invalid-volume"])
    title: str = Field(examples=["Invalid volume"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The axial volume has shape (2, 256); a volume is 3-D."])
    instance: str | None = Field(None, description="the request path")
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from routes and middleware to answer with a problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors, self.headers = errors, headers or {}


def problem_response(request: Request | None, error: ProblemError) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + error.slug,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=request.url.path if request is not None else None,
        request_id=request.scope.get("state", {}).get("request_id") if request else None,
        errors=error.errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=error.status,
        headers=error.headers,
        media_type=MEDIA_TYPE,
    )


def internal_error() -> ProblemError:
    """The answer to an unexpected exception: it says nothing about the cause."""
    return ProblemError(
        500, "internal", "Internal error", "The server could not answer this request."
    )


def _from_study(error: StudyError) -> ProblemError:
    detail = str(error)
    if isinstance(error, UnsupportedTransferSyntaxError):
        field = [FieldError(field=error.instance, message=detail)]
        title = "Unsupported transfer syntax"
        return ProblemError(415, "unsupported-transfer-syntax", title, detail, errors=field)
    if isinstance(error, StudyTooLargeError):
        return ProblemError(413, "study-too-large", "Study too large", detail)
    if isinstance(error, MissingPlaneError):
        fields = [FieldError(field=plane, message=detail) for plane in error.planes]
        return ProblemError(422, "missing-plane", "Missing plane", detail, errors=fields)
    if isinstance(error, InvalidInstanceError):
        field = [FieldError(field=error.instance, message=detail)]
        return ProblemError(422, "invalid-instance", "Invalid instance", detail, errors=field)
    return ProblemError(422, "invalid-study", "Invalid study", detail)


def from_domain(error: MRNetError) -> ProblemError:
    """Map the domain's errors to statuses; the message is already a full sentence."""
    detail = str(error)
    if isinstance(error, StudyError):
        return _from_study(error)
    if isinstance(error, InvalidVolumeError):
        field = [FieldError(field=error.plane, message=detail)]
        return ProblemError(422, "invalid-volume", "Invalid volume", detail, errors=field)
    if isinstance(error, InvalidExamError):
        fields = [FieldError(field=v.plane, message=str(v)) for v in error.volumes]
        return ProblemError(422, "invalid-volume", "Invalid volume", detail, errors=fields)
    if isinstance(error, InvalidQueryError):
        field = [FieldError(field=error.field, message=detail)]
        return ProblemError(422, "invalid-query", "Invalid query", detail, errors=field)
    if isinstance(error, UnknownTaskError):
        field = [FieldError(field=error.field, message=detail)]
        return ProblemError(422, "unknown-task", "Unknown task", detail, errors=field)
    if isinstance(error, QueueFullError):
        retry = {"Retry-After": str(error.retry_after_s)}
        return ProblemError(503, "queue-full", "Queue full", detail, headers=retry)
    if isinstance(error, NotReadyError | PackageError):
        return ProblemError(503, "not-ready", "Not ready", detail, headers={"Retry-After": "5"})
    if isinstance(error, DeadlineExceededError):
        return ProblemError(504, "deadline-exceeded", "Deadline exceeded", detail)
    if isinstance(error, DatasetError):
        return ProblemError(404, "not-found", "Not found", detail)
    return internal_error()


_NO_SUCH_NAME = {"literal_error", "enum", "string_pattern_mismatch"}


def _names_nothing(error: Any) -> bool:
    """A path part outside its enum or pattern: a well-formed path to nothing."""
    return bool(error["loc"][:1] == ("path",) and error["type"] in _NO_SUCH_NAME)


def _message(error: Any) -> str:
    """pydantic's message, with the value it refused where that is a short scalar."""
    value = error.get("input")
    if isinstance(value, str | int | float) and len(str(value)) <= 64:
        return f"{error['msg']} (got {value!r})"
    return str(error["msg"])


def _validation(request: Request, error: RequestValidationError) -> ProblemError:
    errors = [
        FieldError(field=".".join(str(p) for p in e["loc"] if p != "body"), message=_message(e))
        for e in error.errors()
    ]
    names = ", ".join(e.field for e in errors) or "the request"
    if errors and all(_names_nothing(e) for e in error.errors()):
        # a path that names no data set, split, case or plane is a resource that is not there
        detail = f"Nothing is at {request.url.path!r}: check {names}."
        return ProblemError(404, "not-found", "Not found", detail, errors=errors)
    return ProblemError(
        422,
        "invalid-request",
        "Invalid request",
        "The request is not valid: " + "; ".join(f"{e.field}: {e.message}" for e in errors) + ".",
        errors=errors,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return problem_response(request, error)

    async def on_domain(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, MRNetError)
        return problem_response(request, from_domain(error))

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problem_response(request, _validation(request, error))

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        title = _TITLES.get(error.status_code, "Error")
        detail = error.detail if isinstance(error.detail, str) else title
        headers = dict(error.headers or {})
        slug = title.lower().replace(" ", "-")
        return problem_response(
            request,
            ProblemError(error.status_code, slug, title, _sentence(detail), headers=headers),
        )

    async def on_disconnect(request: Request, error: Exception) -> Response:
        # a hung-up upload is the client's choice, not a server error; no one reads this
        logger.info("the client closed the connection before its upload was read")
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, internal_error())

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(MRNetError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(Exception, on_crash)


_TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
}


def _sentence(text: str) -> str:
    text = text.strip() or "The request failed."
    return text if text.endswith(".") else text + "."


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses."""
    described = {
        400: "A malformed body: the multipart parts could not be parsed, or a file part came "
        "without a filename (a text field: at most 8, 1 KiB each)",
        401: "Missing or wrong API key",
        404: "Not found: unknown data set, split, case, plane or slice",
        408: "The upload stalled, was too slow, or passed its deadline (the connection closes)",
        413: "Upload over the size cap, or a study over its caps (instances, bytes, pixels)",
        415: "Not multipart/form-data or STOW-RS, or a DICOM transfer syntax not decodable",
        422: "Invalid volumes (one error per plane) or DICOM instance, missing plane, unknown "
        "task or malformed query",
        429: "Too many predictions in progress from this client address (see Retry-After)",
        503: "Queue full or models not ready (see Retry-After)",
        504: "Deadline passed",
    }
    return {
        status: {
            "model": Problem,
            "description": described.get(status, "Error"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
