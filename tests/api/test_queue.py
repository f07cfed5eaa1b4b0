"""Back-pressure: a full queue answers 503 at once, a passed deadline 504; serving goes on."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.state import ServiceState
from service.config import Settings
from service.inference.engine import Engine

from .stall import job, stalled_worker
from .support import api_settings, assert_problem, exam_volumes, serve, upload

MAX_SLICES = 8


def three_exam_queue(store: Path, **overrides: Any) -> Settings:
    """Settings whose queue holds three exams of MAX_SLICES slices, batches of one exam."""
    return api_settings(
        store,
        max_slices=MAX_SLICES,
        max_batch_slices=MAX_SLICES,
        max_queue_slices=3 * MAX_SLICES,
        **overrides,
    )


def engine_of(client: TestClient) -> Engine:
    state: ServiceState = client.app.state.service  # type: ignore[attr-defined]
    assert state.runtime is not None
    return state.runtime.engine


def small_exam() -> dict[str, tuple[str, bytes, str]]:
    return upload(exam_volumes(0, lengths=(1, 2, 1)))


def test_a_full_queue_answers_503_at_once(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = three_exam_queue(store, request_timeout_s=10)
    with serve(settings) as client:
        engine = engine_of(client)
        with stalled_worker(monkeypatch, engine):
            filler = engine.submit(job(slices=MAX_SLICES))  # 3 planes: the whole queue
            assert engine.queued_slices == 3 * MAX_SLICES
            # the worker is held: a queued request could only end in a 504 at its deadline
            response = client.post("/v1/predictions", files=small_exam())
            assert_problem(response, 503, "queue is full")
            assert int(response.headers["retry-after"]) > 0
            # refused before the body is read: even a body that is not multipart gets 503
            not_read = client.post("/v1/predictions", content=b"x" * 1000)
            assert_problem(not_read, 503, "queue is full")
            metrics = client.get("/metrics").text
            assert f"mrnet_queued_slices {3 * MAX_SLICES:.1f}" in metrics
            assert "mrnet_pending_requests 0.0" in metrics
        filler.result(timeout=30)
        assert engine.queued_slices == 0
        assert client.post("/v1/predictions", files=small_exam()).status_code == 200


def test_a_passed_deadline_answers_504(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(api_settings(store, request_timeout_s=1.0)) as client:
        engine = engine_of(client)
        with stalled_worker(monkeypatch, engine):
            started = time.monotonic()
            response = client.post("/v1/predictions", files=small_exam())
            waited = time.monotonic() - started
            assert_problem(response, 504, "deadline")  # the worker is held until the block ends
            assert waited >= 0.9  # not before the deadline (1 s)
            assert "mrnet_pending_requests 0.0" in client.get("/metrics").text
        # the expired job is dropped by the worker, and new work is served
        assert client.post("/v1/predictions", files=small_exam()).status_code == 200
        assert engine.queued_slices == 0 and engine.queued_exams == 0


def test_a_tiny_deadline_answers_504_and_the_service_stays_ready(store: Path) -> None:
    with serve(api_settings(store, request_timeout_s=0.001)) as client:
        for _ in range(3):
            assert_problem(client.post("/v1/predictions", files=small_exam()), 504, "deadline")
        assert client.get("/health/ready").status_code == 200
        assert client.get("/v1/models").status_code == 200


def test_an_upload_too_big_for_the_room_left_is_refused_before_it_is_read(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = three_exam_queue(store, max_upload_bytes=4 * 1024 * 1024)
    with serve(settings) as client:
        engine = engine_of(client)
        with stalled_worker(monkeypatch, engine):
            filler = engine.submit(job(slices=1))  # 3 of 24 slices taken
            # Content-Length says about 24 slices of 256x256 uint8: more than the 21 left
            big = client.post("/v1/predictions", content=b"x" * (24 * 256 * 256))
            assert_problem(big, 503, "queue is full")
            # a small body fits, is read, and gets the answer its content deserves
            small = client.post("/v1/predictions", content=b"x" * 1000)
            assert small.status_code == 415
            assert engine.queued_slices == 3
        filler.result(timeout=30)


def test_a_full_queue_makes_a_prediction_wait_for_room_not_refuse(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = three_exam_queue(store, admission_wait_ms=20_000, max_waiting_exams=1)
    with serve(settings) as client:
        engine = engine_of(client)
        with stalled_worker(monkeypatch, engine):
            holder = engine.reserve(3 * MAX_SLICES)  # all the room, as an upload being read
            answers: list[int] = []
            waiter = threading.Thread(
                target=lambda: answers.append(
                    client.post("/v1/predictions", files=small_exam()).status_code
                )
            )
            waiter.start()
            deadline = time.monotonic() + 10
            while "mrnet_waiting_exams 1.0" not in client.get("/metrics").text:
                assert time.monotonic() < deadline, "the prediction is not waiting for room"
                time.sleep(0.02)
            # the waiting room holds one: the next is refused at once, with a Retry-After
            refused = client.post("/v1/predictions", files=small_exam())
            assert_problem(refused, 503, "waiting for room")
            assert int(refused.headers["retry-after"]) >= 1
            assert answers == []
            holder.release()  # room comes free: the waiter is admitted and queued
            deadline = time.monotonic() + 10
            while engine.queued_exams == 0:
                assert time.monotonic() < deadline, "the waiter was not admitted"
                time.sleep(0.02)
        waiter.join(timeout=30)
        assert answers == [200]
        assert "mrnet_waiting_exams 0.0" in client.get("/metrics").text
