"""API keys: with keys configured the v1 API needs one; health and metrics stay open."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from .support import api_settings, assert_problem, exam_volumes, serve, upload

KEYS = ["first-key-0123", "second-key-4567"]


@pytest.fixture(scope="module")
def keyed(store: Path) -> Iterator[TestClient]:
    with serve(api_settings(store, api_keys=KEYS)) as client:
        yield client


def _unauthorized(response: httpx.Response, says: str) -> None:
    body = assert_problem(response, 401, says)
    assert body["title"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEYS[0]}"},
        {"Authorization": f"bearer {KEYS[1]}"},
        {"X-API-Key": KEYS[1]},
    ],
    ids=["bearer", "bearer-lowercase", "x-api-key"],
)
def test_a_configured_key_opens_the_api(keyed: TestClient, headers: dict[str, str]) -> None:
    assert keyed.get("/v1/models", headers=headers).status_code == 200
    files = upload(exam_volumes(0, lengths=(1, 1, 2)))
    assert keyed.post("/v1/predictions", files=files, headers=headers).status_code == 200


def test_a_missing_key_is_401(keyed: TestClient) -> None:
    _unauthorized(keyed.get("/v1/models"), "API key is required")
    files = upload(exam_volumes(0, lengths=(1, 1, 1)))
    _unauthorized(keyed.post("/v1/predictions", files=files), "API key is required")


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"Authorization": "Bearer wrong-key"}, "wrong"),
        ({"Authorization": f"Bearer {KEYS[0]}x"}, "wrong"),
        ({"X-API-Key": KEYS[0][:-1]}, "wrong"),
        ({"Authorization": f"Basic {KEYS[0]}"}, "required"),
    ],
    ids=["wrong", "longer", "prefix", "basic-scheme"],
)
def test_a_wrong_key_is_401(keyed: TestClient, headers: dict[str, str], says: str) -> None:
    response = keyed.get("/v1/models", headers=headers)
    _unauthorized(response, says)
    assert "first-key" not in response.text and "second-key" not in response.text
    _unauthorized(keyed.post("/v1/predictions", headers=headers), says)


def test_health_and_metrics_need_no_key(keyed: TestClient) -> None:
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert keyed.get(path).status_code == 200, path


def test_an_open_api_is_warned_about_at_startup(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mrnet.app"), serve(api_settings(store)):
        pass
    warnings = [r for r in caplog.records if r.name == "mrnet.app" and r.levelno == logging.WARNING]
    assert any("MRNET_API_KEYS" in r.getMessage() for r in warnings)
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="mrnet.app"),
        serve(api_settings(store, api_keys=KEYS)) as client,
    ):
        assert client.get("/v1/models").status_code == 401
    assert not any("MRNET_API_KEYS" in r.getMessage() for r in caplog.records)
