"""X-Request-ID: echoed when the client sends a valid one, generated otherwise, on every answer."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .support import assert_problem, exam_volumes, npy_file, upload

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize("sent", ["abc", "client-42_retry.1:x", "A" * 128])
def test_a_valid_request_id_is_echoed(client: TestClient, sent: str) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": sent})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == sent


def test_a_prediction_carries_the_sent_id_in_header_and_body(client: TestClient) -> None:
    files = upload(exam_volumes(0, lengths=(1, 2, 1)))
    response = client.post("/v1/predictions", files=files, headers={"X-Request-ID": "exam-7"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "exam-7" == response.json()["request_id"]


def test_an_id_is_generated_when_none_is_sent(client: TestClient) -> None:
    first = client.get("/health/live").headers["x-request-id"]
    second = client.get("/health/live").headers["x-request-id"]
    assert GENERATED.match(first) and GENERATED.match(second)
    assert first != second


@pytest.mark.parametrize("sent", ["A" * 129, "x" * 500, "has space", "semi;colon", "new\tline", ""])
def test_an_invalid_id_is_replaced(client: TestClient, sent: str) -> None:
    response = client.get("/health/live", headers={"X-Request-ID": sent})
    assert GENERATED.match(response.headers["x-request-id"])


def test_errors_carry_the_id_in_header_and_body(client: TestClient) -> None:
    headers = {"X-Request-ID": "err-1"}
    for response in (
        client.get("/nowhere", headers=headers),
        client.post("/v1/predictions", json={}, headers=headers),
        client.post("/v1/predictions", files={"axial": npy_file(b"x")}, headers=headers),
        client.post("/v1/predictions", files={"axial": npy_file(b"\0" * 300_000)}, headers=headers),
    ):
        body = assert_problem(response, response.status_code)
        assert response.status_code in {404, 413, 415, 422}
        assert response.headers["x-request-id"] == "err-1" == body["request_id"]
    generated = client.get("/nowhere")
    assert GENERATED.match(assert_problem(generated, 404)["request_id"])
