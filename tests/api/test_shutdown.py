"""Graceful shutdown: a prediction in flight when the server is told to stop still answers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn

from service.api.app import create_app

from .support import api_settings, exam_volumes, free_port, upload, wait_ready


def test_in_flight_request_finishes_during_shutdown(store: Path) -> None:
    # The worker waits 400 ms for company, so the request is still queued when stopping.
    settings = api_settings(store, max_queue_delay_ms=400)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=20,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    with httpx.Client(base_url=url, timeout=30) as client:
        assert wait_ready(client).status_code == 200

    def post() -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as client:
            return client.post("/v1/predictions", files=upload(exam_volumes(3)))

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post)
        time.sleep(0.15)
        server.should_exit = True
        response = pending.result(timeout=30)
    thread.join(timeout=30)
    assert response.status_code == 200
    assert 0.0 <= response.json()["probability"] <= 1.0
    assert response.json()["timing_ms"]["queue"] >= 100
    assert not thread.is_alive()
