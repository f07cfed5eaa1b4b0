"""What both prediction routes share: counting the pending work, and the answer's body."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence

from fastapi import Request

from service.api.schemas import PredictionResponse, prediction_response
from service.api.state import ServiceState
from service.api.uploads import ExamFiles
from service.dicom.study import Study
from service.inference.engine import ExamOutcome, Reservation
from service.inference.runtime import Runtime
from service.store.loader import ModelPackage


async def queued(state: ServiceState, work: Awaitable[ExamOutcome]) -> ExamOutcome:
    """Await an exam through the engine, counted in the pending and queue-time metrics."""
    state.metrics.pending.inc()
    try:
        outcome = await work
    finally:
        state.metrics.pending.dec()
    state.metrics.queue_seconds.observe(outcome.queue_ms / 1000)
    return outcome


async def score(
    state: ServiceState,
    runtime: Runtime,
    tasks: Sequence[str],
    files: ExamFiles,
    reservation: Reservation,
) -> tuple[ExamOutcome, Study | None]:
    """Score three volume files, or a study (then also say which series it used), for `tasks`."""
    if isinstance(files, list):
        jobs, study = await runtime.prepare_study(tasks, files)
        return await queued(state, runtime.submit(jobs, reservation)), study
    return await queued(state, runtime.predict(tasks, files, reservation)), None


def answer(
    request: Request,
    outcome: ExamOutcome,
    packages: Mapping[str, ModelPackage],
    started: float,
    study: Study | None = None,
) -> PredictionResponse:
    """The prediction body; the timings also go to the access log."""
    total_ms = (time.perf_counter() - started) * 1000
    request.scope["state"]["timing_ms"] = {
        "queue": round(outcome.queue_ms, 2),
        "inference": round(outcome.inference_ms, 2),
    }
    request_id = request.scope["state"]["request_id"]
    return prediction_response(outcome, packages, request_id, total_ms, study)
