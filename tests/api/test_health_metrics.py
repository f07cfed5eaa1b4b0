"""Liveness, readiness (loading, failed, ready), the model list and the Prometheus metrics."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import service.api.app as app_module
from service.inference.runtime import Runtime
from service.store.loader import ModelPackage

from .support import (
    api_settings,
    assert_problem,
    exam_volumes,
    samples,
    serve,
    upload,
    value,
    wait_ready,
)


def test_live_answers_at_once(client: TestClient) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_is_503_while_loading_then_200(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = app_module.start_runtime

    def gated(*args: Any, **kwargs: Any) -> Runtime:
        if not gate.wait(30):
            raise OSError("the test never opened the gate")
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "start_runtime", gated)
    with serve(api_settings(store), ready=False) as client:
        try:
            response = client.get("/health/ready")
            assert response.status_code == 503
            assert response.json()["status"] == "loading"
            assert int(response.headers["retry-after"]) > 0
            assert client.get("/health/live").status_code == 200
            files = upload(exam_volumes(0, lengths=(1, 1, 1)))
            predicted = client.post("/v1/predictions", files=files)
            assert_problem(predicted, 503, "loading")
            assert int(predicted.headers["retry-after"]) > 0
            assert_problem(client.get("/v1/models"), 503)
            assert value(samples(client.get("/metrics").text), "mrnet_ready") == 0
        finally:
            gate.set()
        ready = wait_ready(client)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert "retry-after" not in ready.headers
        assert value(samples(client.get("/metrics").text), "mrnet_ready") == 1


def test_a_tampered_package_keeps_the_service_unready(
    make_package: Callable[..., Path],
) -> None:
    folder = make_package()
    weights = folder / "sagittal.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with serve(api_settings(folder.parent.parent), ready=False) as client:
        response = wait_ready(client)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "failed"
        assert "sagittal.safetensors" in body["detail"] and "sha256" in body["detail"]
        assert int(response.headers["retry-after"]) > 0
        files = upload(exam_volumes(0, lengths=(1, 1, 1)))
        predicted = client.post("/v1/predictions", files=files)
        assert_problem(predicted, 503, "sagittal.safetensors")
        assert int(predicted.headers["retry-after"]) > 0
        assert client.get("/health/live").status_code == 200
        page = samples(client.get("/metrics").text)
        assert value(page, "mrnet_ready") == 0
        assert not any(name == "mrnet_model_info" for name, _ in page)


def test_models_lists_the_served_package(
    client: TestClient, package: ModelPackage, store: Path
) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    (model,) = response.json()["models"]
    digest = hashlib.sha256((store / "acl" / "1" / "manifest.json").read_bytes()).hexdigest()
    assert model["task"] == "acl" and model["version"] == "1"
    assert model["architecture"] == package.manifest.architecture
    assert model["sha256"] == digest
    assert model["device"] == "cpu"
    assert model["precision"] == "float32"
    assert model["convolutions"] == "winograd-f4x4"
    assert model["threshold"]["value"] == 0.5
    assert model["metrics"] == package.manifest.tasks[0].metrics.model_dump()
    assert model["intended_use"] == "Random weights for tests; not a model."
    assert model["input"]["size"] == 64


def test_metrics_count_requests_batches_and_models(store: Path, package: ModelPackage) -> None:
    with serve(api_settings(store)) as client:
        files = upload(exam_volumes(0, lengths=(3, 4, 5)))
        assert client.post("/v1/predictions", files=files).status_code == 200
        assert client.get("/v1/no-such-route-123").status_code == 404
        assert client.post("/v1/predictions", json={}).status_code == 415
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    page = samples(response.text)
    requests = "mrnet_requests_total"
    assert value(page, requests, route="/v1/predictions", method="POST", status="200") == 1
    assert value(page, requests, route="/v1/predictions", method="POST", status="415") == 1
    assert value(page, requests, route="unmatched", method="GET", status="404") == 1
    assert not any("no-such-route" in str(labels) for _, labels in page)  # bounded labels
    duration = "mrnet_request_duration_seconds_count"
    assert value(page, duration, route="/v1/predictions") == 2
    assert value(page, "mrnet_queue_duration_seconds_count") == 1
    # the warm-up exam (3 slices per plane) and the posted one (3 + 4 + 5 slices)
    assert value(page, "mrnet_compute_duration_seconds_count") == 2
    assert value(page, "mrnet_batch_slices_count") == 2
    assert value(page, "mrnet_batch_slices_sum") == 9 + 12
    assert value(page, "mrnet_batch_exams_count") == 2
    assert value(page, "mrnet_batch_exams_sum") == 2
    assert value(page, "mrnet_pending_requests") == 0
    assert value(page, "mrnet_queued_slices") == 0
    info = {
        "task": "acl",
        "version": "1",
        "device": "cpu",
        "precision": "float32",
        "sha256": package.digest,
    }
    assert value(page, "mrnet_model_info", **info) == 1
    assert value(page, "mrnet_ready") == 1


def test_direct_convolutions_can_be_chosen_and_score_the_same(store: Path) -> None:
    files = upload(exam_volumes(2, lengths=(3, 4, 5)))
    bodies: dict[str, dict[str, Any]] = {}
    for winograd in (True, False):
        with serve(api_settings(store, cpu_winograd=winograd)) as client:
            (model,) = client.get("/v1/models").json()["models"]
            bodies[model["convolutions"]] = client.post("/v1/predictions", files=files).json()
    fast, direct = bodies["winograd-f4x4"], bodies["direct"]
    assert fast["probability"] == pytest.approx(direct["probability"], abs=1e-5)
    for plane, result in direct["planes"].items():
        assert fast["planes"][plane]["logit"] == pytest.approx(result["logit"], abs=1e-4)
        assert fast["planes"][plane]["attention"] == pytest.approx(result["attention"], abs=1e-4)
