"""Pure ASGI middleware: request ids, the upload cap and pace, the access log and metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.metrics import ServiceMetrics
from service.api.pace import BodyPace, PaceLimits
from service.api.problems import ProblemError, internal_error, problem_response

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("mrnet.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "content-too-large",
        "Content too large",
        f"The request body is over the upload cap of {limit} bytes.",
    )


def route_label(scope: Scope, received: Scope) -> str:
    """The route template that served the request ("unmatched" when none did).

    FastAPI's own routes set `scope["route"]`; plain Starlette routes (/openapi.json)
    and mounts (the documentation's assets) do not, so they are matched again here,
    against the scope as it came in (`received`: routing rewrites a mount's paths).
    """
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    app = scope.get("app")
    routes: list[BaseRoute] = list(getattr(app, "routes", []))
    for candidate in routes:
        match, _ = candidate.matches(received)
        if match is Match.FULL:
            path = str(getattr(candidate, "path", "unmatched"))
            return path + "/{asset}" if isinstance(candidate, Mount) else path
    return "unmatched"


class RequestContextMiddleware:
    """Every response gets X-Request-ID; bodies are held to the cap and pace as they stream."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, pace: PaceLimits, metrics: ServiceMetrics
    ) -> None:
        self.app, self.limit, self.pace, self.metrics = app, max_body_bytes, pace, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client_id = _header(scope, b"x-request-id")
        request_id = client_id if client_id and _CLIENT_ID.match(client_id) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        record: dict[str, Any] = {"status": 500, "request_bytes": 0, "response_bytes": 0}
        received = dict(scope)  # routing rewrites the scope; the route label matches this
        started = time.perf_counter()
        send = self._send_wrapper(send, request_id, record)
        try:
            await self._handle(scope, receive, send, record)
        except Exception:
            # The app's crash handler answers from outside this middleware, without the
            # request id; answer here first (it still logs the error, and sends nothing twice).
            if "started" not in record:
                await problem_response(Request(scope), internal_error())(scope, receive, send)
            raise
        finally:
            self._log(scope, received, record, request_id, time.perf_counter() - started)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, record: dict[str, Any]
    ) -> None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await problem_response(Request(scope), _too_large(self.limit))(scope, receive, send)
            return

        pace: BodyPace | None = None
        complete = False

        async def counted() -> Message:
            nonlocal pace, complete
            if complete:  # the body is in; a later read waits for the disconnect, unpaced
                return await receive()
            now = time.monotonic()
            pace = pace or BodyPace(self.pace, now)
            try:
                async with asyncio.timeout(max(pace.cutoff() - now, 0.0)):
                    message = await receive()
            except TimeoutError:
                raise pace.problem(time.monotonic()) from None
            if message["type"] != "http.request":
                complete = True
                return message
            size = len(message.get("body", b""))
            record["request_bytes"] += size
            pace.record(size, time.monotonic())
            complete = not message.get("more_body", False)
            if record["request_bytes"] > self.limit:
                raise _too_large(self.limit)
            return message

        await self.app(scope, counted, send)

    @staticmethod
    def _send_wrapper(send: Send, request_id: str, record: dict[str, Any]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"], record["started"] = message["status"], True
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                record["response_bytes"] += len(message.get("body", b""))
            await send(message)

        return wrapped

    def _log(
        self,
        scope: Scope,
        received: Scope,
        record: dict[str, Any],
        request_id: str,
        seconds: float,
    ) -> None:
        route = route_label(scope, received)
        self.metrics.requests.labels(route, scope["method"], str(record["status"])).inc()
        self.metrics.request_seconds.labels(route).observe(seconds)
        timings = scope.get("state", {}).get("timing_ms")
        line = {
            "event": "request",
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": record["status"],
            "request_bytes": record["request_bytes"],
            "response_bytes": record["response_bytes"],
            "duration_ms": round(seconds * 1000, 2),
        }
        if timings:
            line["timing_ms"] = timings
        access_log.info("request", extra={"fields": line})
