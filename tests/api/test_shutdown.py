"""Graceful shutdown: a prediction in flight when the server is told to stop still answers."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from service.api.app import create_app

from .stall import stall_worker
from .support import api_settings, exam_volumes, free_port, upload, wait_ready


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_in_flight_request_finishes_during_shutdown(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = uvicorn.Config(
        create_app(api_settings(store)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=30,
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
    stall = stall_worker(monkeypatch)  # the prediction's batch waits for the test's word

    def post() -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            return client.post("/v1/predictions", files=upload(exam_volumes(3)))

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post)
        assert stall.entered.wait(30), "the prediction never reached the worker"
        server.should_exit = True
        deadline = time.monotonic() + 30  # shutdown has begun once the port refuses
        while not _refuses_connections(port):
            assert time.monotonic() < deadline, "the server did not begin to shut down"
            time.sleep(0.02)
        assert not pending.done()  # still in flight while the server shuts down
        stall.released.set()
        response = pending.result(timeout=60)
    thread.join(timeout=60)
    assert response.status_code == 200
    assert 0.0 <= response.json()["probability"] <= 1.0
    assert not thread.is_alive()
