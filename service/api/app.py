"""The app factory: middleware, error handlers, routes, and the lifespan that loads models.

Loading runs in the background so the process answers /health/live at once and
/health/ready says 503 until every package is verified, on its device and warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

import service
from service.api import openapi, problems
from service.api.metrics import ServiceMetrics
from service.api.middleware import RequestContextMiddleware
from service.api.pace import PaceLimits
from service.api.routes import datasets, health, metrics, models, predictions, viewer
from service.api.state import ServiceState
from service.config import Settings, get_settings
from service.datasets.index import build_catalog
from service.errors import MRNetError
from service.inference.runtime import start_runtime

logger = logging.getLogger("mrnet.app")
DOCS_ASSETS = "/docs/assets"


def pace_limits(settings: Settings) -> PaceLimits:
    return PaceLimits(
        timeout_s=settings.upload_timeout_s,
        min_bytes_per_s=settings.upload_min_bytes_per_s,
        grace_s=settings.upload_grace_s,
        stall_s=settings.upload_stall_s,
    )


async def _load(state: ServiceState) -> None:
    config = state.settings.runtime_config()
    try:
        runtime = await asyncio.to_thread(start_runtime, config, state.metrics.observe_batch)
    except (MRNetError, OSError) as error:
        state.failure = str(error)
        logger.error("models not loaded, the service stays unready: %s", error)
    else:
        state.runtime = runtime
        state.metrics.ready.set(1)
        for info in runtime.describe():
            for task in info["serves"]:
                state.metrics.model_info.labels(
                    task, info["version"], info["device"], info["precision"], info["sha256"]
                ).set(1)
        versions = {name: p.manifest.version for name, p in runtime.packages.items()}
        served = (f"{t} by {name}/{versions[name]}" for t, name in runtime.serving.items())
        logger.info("ready: %s", ", ".join(served))
    finally:
        state.loading = False


async def _index(state: ServiceState) -> None:
    try:
        roots, limits = state.settings.datasets, state.volume_limits
        state.catalog = await asyncio.to_thread(build_catalog, roots, limits)
    except Exception as error:  # the index is tolerant; this is a bug, not bad data
        state.catalog_failure = str(error)
        logger.exception("the data set index could not be built")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.service
    if not state.settings.api_keys:
        logger.warning("MRNET_API_KEYS is not set: the API is open to anyone who can reach it")
    indexing = asyncio.create_task(_index(state))
    loading = asyncio.create_task(_load(state))
    yield
    with contextlib.suppress(Exception):
        await indexing
    # A load in progress runs in a thread that cannot be cancelled: let it finish (it is
    # bounded by reading the packages), so the engine it starts is stopped below.
    with contextlib.suppress(Exception):
        await loading
    if state.runtime is not None:
        await asyncio.to_thread(state.runtime.stop)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # /docs and /redoc from the assets fastapi-offline ships: no CDN, for offline networks
    app = FastAPIOffline(
        title="MRNet triage service",
        version=service.__version__,
        summary="Knee MRI triage (abnormal, ACL tear, meniscal tear) with exact per-slice "
        "attention (MRNet).",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # Swagger's default is an online validator
    )
    state = ServiceState(settings=settings, metrics=ServiceMetrics())
    app.state.service = state
    problems.install(app)
    openapi.install(app)
    for router in (health.router, metrics.router, models.router, predictions.router):
        app.include_router(router)
    app.include_router(datasets.router)
    app.include_router(viewer.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes,
        pace=pace_limits(settings),
        metrics=state.metrics,
    )
    return app
