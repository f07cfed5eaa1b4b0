"""Helpers for the HTTP API tests: settings, readiness, .npy uploads, the reference result."""

from __future__ import annotations

import io
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.config import Settings
from service.domain import PLANES, Plane
from service.inference.predictor import ExamPrediction, predict_exam
from service.store.loader import ModelPackage

READY_TIMEOUT_S = 60.0
TOLERANCE = 1e-4
Volumes = dict[Plane, npt.NDArray[Any]]
Files = dict[str, tuple[str, bytes, str]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]  # name and labels -> value


def api_settings(store: Path, **overrides: Any) -> Settings:
    """Small limits and one torch thread, so every app in the suite is cheap."""
    values: dict[str, Any] = {
        "model_store": store,
        "device": "cpu",
        "torch_threads": 1,
        "max_slices": 16,
        "max_batch_slices": 64,
        "max_queue_slices": 256,
        "max_queue_delay_ms": 0.0,
        "max_upload_bytes": 256 * 1024,
        "admission_wait_ms": 0.0,  # refusals at once, unless a test waits for room
    }
    return Settings(**{**values, **overrides})


def wait_ready(
    client: TestClient | httpx.Client, timeout_s: float = READY_TIMEOUT_S
) -> httpx.Response:
    """Poll /health/ready until it says ready or failed (or the time is up); the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/health/ready")
        done = response.status_code == 200 or response.json().get("status") == "failed"
        if done or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


@contextmanager
def serve(settings: Settings, *, ready: bool = True, **client_kw: Any) -> Iterator[TestClient]:
    """A TestClient running the app's lifespan; by default it waits until the models are ready."""
    with TestClient(create_app(settings), **client_kw) as client:
        if ready:
            answer = wait_ready(client)
            assert answer.status_code == 200, answer.text
        yield client


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """A real uvicorn server in a thread on a free port, ready; stopped on exit."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            assert wait_ready(client).status_code == 200
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    assert not thread.is_alive(), "uvicorn did not stop"


def exam_volumes(seed: int, lengths: tuple[int, int, int] = (3, 4, 5), size: int = 64) -> Volumes:
    """Random uint8 volumes, one per plane in PLANES order, with the given slice counts."""
    rng = np.random.default_rng(seed)
    return {
        plane: rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        for plane, n in zip(PLANES, lengths, strict=True)
    }


def npy_bytes(array: npt.NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_file(data: bytes, plane: str = "volume") -> tuple[str, bytes, str]:
    return f"{plane}.npy", data, "application/octet-stream"


def chunked_file_upload(size: int, boundary: str = "b") -> Iterator[bytes]:
    """A well-formed multipart body with one `axial` file of `size` bytes, in 8 KiB chunks.

    Sent as a generator, httpx gives it no Content-Length (Transfer-Encoding: chunked).
    """
    yield (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="axial"; filename="axial.npy"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for start in range(0, size, 8192):
        yield b"\0" * min(8192, size - start)
    yield f"\r\n--{boundary}--\r\n".encode()


def upload(volumes: Volumes) -> Files:
    return {plane: npy_file(npy_bytes(volume), plane) for plane, volume in volumes.items()}


def assert_matches(body: dict[str, Any], reference: ExamPrediction) -> None:
    """A prediction body equals the unbatched reference to float tolerance."""
    assert abs(body["probability"] - reference.probability) <= TOLERANCE
    assert body["positive"] == reference.positive
    for plane in PLANES:
        got, want = body["planes"][plane], reference.planes[plane]
        assert got["num_slices"] == want.num_slices
        assert abs(got["probability"] - want.probability) <= TOLERANCE
        assert abs(got["logit"] - want.logit) <= TOLERANCE
        np.testing.assert_allclose(got["attention"], want.attribution.attention, atol=TOLERANCE)


def reference(package: ModelPackage, volumes: Volumes) -> ExamPrediction:
    return predict_exam(package, volumes)


def assert_valid_plane(result: dict[str, Any], slices: int) -> None:
    """num_slices, attention (sums to 1 or is all zeros) and top slices agree with each other."""
    attention = result["attention"]
    assert result["num_slices"] == slices == len(attention)
    assert all(math.isfinite(v) and v >= 0 for v in attention)
    assert math.isclose(sum(attention), 1.0, abs_tol=1e-6) or not any(attention)
    assert math.isfinite(result["logit"])
    assert 0.0 <= result["probability"] <= 1.0
    top = result["top_slices"]
    assert len(top) <= 3 and all(attention[s] > 0 for s in top)
    assert [attention[s] for s in top] == sorted((attention[s] for s in top), reverse=True)


def assert_problem(
    response: httpx.Response, status: int, *names: str, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem with this status whose detail names every one of `names`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    assert body["detail"].endswith(".")
    for name in names:
        assert name.lower() in body["detail"].lower(), (name, body["detail"])
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    assert body.get("request_id") == response.headers["x-request-id"]
    return body


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text page, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(page: Samples, name: str, **labels: str) -> float:
    return page[(name, frozenset(labels.items()))]
