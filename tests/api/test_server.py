"""A real uvicorn server on 127.0.0.1: concurrent uploads over HTTP are batched and exact."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from service.store.loader import ModelPackage

from .stall import stall_worker
from .support import (
    api_settings,
    assert_matches,
    assert_problem,
    chunked_file_upload,
    exam_volumes,
    reference,
    running_server,
    samples,
    upload,
    value,
)

CLIENTS = 8
UPLOAD_CAP = 256 * 1024  # api_settings


@pytest.fixture(scope="module")
def base_url(store: Path) -> Iterator[str]:
    """A uvicorn server in a thread; stopped after the module."""
    with running_server(api_settings(store, max_batch_slices=128)) as url:
        yield url


def _queued_slices(client: httpx.Client) -> float:
    return value(samples(client.get("/metrics").text), "mrnet_queued_slices")


def test_concurrent_requests_are_batched_and_equal_the_reference(
    base_url: str, package: ModelPackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    exams = [exam_volumes(seed, lengths=(1 + seed % 3, 2, 3 - seed % 2)) for seed in range(CLIENTS)]
    waiting = sum(int(v.shape[0]) for exam in exams[1:] for v in exam.values())

    def post(index: int) -> httpx.Response:
        files = upload(exams[index])
        with httpx.Client(base_url=base_url, timeout=60) as client:
            return client.post(
                "/v1/predictions", files=files, headers={"X-Request-ID": f"exam-{index}"}
            )

    # The first exam holds the worker in its batch until the other seven are queued behind
    # it; then they are one batch, however slowly the uploads arrive.
    stall = stall_worker(monkeypatch)
    with ThreadPoolExecutor(CLIENTS) as pool, httpx.Client(base_url=base_url) as client:
        first = pool.submit(post, 0)
        assert stall.entered.wait(30), "the first exam never reached the worker"
        others = [pool.submit(post, index) for index in range(1, CLIENTS)]
        deadline = time.monotonic() + 60
        while _queued_slices(client) < waiting:
            assert time.monotonic() < deadline, "the other exams were not queued"
            time.sleep(0.02)
        stall.released.set()
        responses = [first.result(timeout=60)] + [f.result(timeout=60) for f in others]
    for index, response in enumerate(responses):
        assert response.status_code == 200, response.text
        body = response.json()
        assert response.headers["x-request-id"] == f"exam-{index}" == body["request_id"]
        assert_matches(body, reference(package, exams[index]))

    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = samples(client.get("/metrics").text)
        deadline = time.monotonic() + 10  # the access log counts a request after its answer
        while (
            value(
                page, "mrnet_requests_total", route="/v1/predictions", method="POST", status="200"
            )
            < CLIENTS
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
            page = samples(client.get("/metrics").text)
    batches = value(page, "mrnet_batch_exams_count")
    exams_run = value(page, "mrnet_batch_exams_sum")
    assert exams_run == CLIENTS + 1  # and one warm-up exam
    assert batches == 3  # the warm-up, the first exam, the seven queued behind it
    assert value(page, "mrnet_batch_exams_bucket", le="1.0") == 2


def test_errors_over_real_http_are_problems_with_ids(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/v1/predictions", content=b"{}", headers={"X-Request-ID": "r-1"})
        assert_problem(response, 415)
        assert response.headers["x-request-id"] == "r-1"
        files = upload(exam_volumes(0, lengths=(1, 1, 1)))
        del files["axial"]
        assert_problem(client.post("/v1/predictions", files=files), 422, "axial")
        assert client.get("/health/live").status_code == 200


def test_a_chunked_upload_over_the_cap_is_413_and_serving_goes_on(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/v1/predictions",
            content=chunked_file_upload(4 * UPLOAD_CAP),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert_problem(response, 413, str(UPLOAD_CAP))
        files = upload(exam_volumes(1, lengths=(1, 2, 1)))
        assert client.post("/v1/predictions", files=files).status_code == 200


def _predictions_by_status(client: httpx.Client) -> dict[str, float]:
    page = samples(client.get("/metrics").text)
    return {
        dict(labels)["status"]: count
        for (name, labels), count in page.items()
        if name == "mrnet_requests_total" and dict(labels).get("route") == "/v1/predictions"
    }


def test_a_client_that_hangs_up_mid_upload_is_a_499_not_a_server_error(store: Path) -> None:
    head = (
        b"POST /v1/predictions HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
        b'--b\r\nContent-Disposition: form-data; name="axial"; filename="a.npy"\r\n\r\n'
    )
    with running_server(api_settings(store)) as url, httpx.Client(base_url=url) as client:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + b"x" * 1000)  # then hang up, 99 KB short
        deadline = time.monotonic() + 10
        while "499" not in _predictions_by_status(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _predictions_by_status(client) == {"499": 1.0}  # no 500, nothing else
        assert value(samples(client.get("/metrics").text), "mrnet_queued_slices") == 0
        files = upload(exam_volumes(5, lengths=(2, 2, 2)))
        assert client.post("/v1/predictions", files=files, timeout=60).status_code == 200
