"""POST /v1/predictions: the body of a good answer, equal to the unbatched reference."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from service.domain import PLANES
from service.store.loader import ModelPackage

from .support import (
    Volumes,
    assert_matches,
    assert_valid_plane,
    exam_volumes,
    npy_bytes,
    reference,
    upload,
)

RESPONSE_PLANES = {"sagittal", "coronal", "axial"}


def test_prediction_body_follows_the_contract(
    client: TestClient, package: ModelPackage, store: Path
) -> None:
    volumes = exam_volumes(seed=1, lengths=(3, 4, 5))
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["task"] == "acl"
    assert 0.0 <= body["probability"] <= 1.0
    assert body["threshold"] == package.manifest.tasks[0].threshold.value == 0.5
    assert body["positive"] == (body["probability"] >= body["threshold"])
    assert set(body["planes"]) == RESPONSE_PLANES
    for plane, volume in volumes.items():
        assert_valid_plane(body["planes"][plane], slices=volume.shape[0])
    manifest = store / "acl" / "1" / "manifest.json"
    assert body["model"] == {
        "name": "acl",
        "task": "acl",
        "version": "1",
        "architecture": package.manifest.architecture,
        "sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
    }
    timing = body["timing_ms"]
    assert set(timing) == {"queue", "inference", "total"}
    assert all(timing[k] >= 0 for k in timing)
    assert timing["total"] >= timing["inference"] > 0
    assert body["warnings"] == []
    assert_matches(body, reference(package, volumes))


def test_explicit_task_field_is_accepted(client: TestClient, package: ModelPackage) -> None:
    volumes = exam_volumes(seed=2, lengths=(2, 2, 3))
    response = client.post("/v1/predictions", files=upload(volumes), data={"task": "acl"})
    assert response.status_code == 200, response.text
    assert_matches(response.json(), reference(package, volumes))


def _as(dtype: str) -> Callable[[npt.NDArray[Any]], npt.NDArray[Any]]:
    return lambda volume: volume.astype(dtype)


@pytest.mark.parametrize(
    ("convert", "header"),
    [
        (_as("<i2"), "'descr': '<i2'"),
        (_as("<u2"), "'descr': '<u2'"),
        (_as(">f4"), "'descr': '>f4'"),
        (_as(">f8"), "'descr': '>f8'"),
        (lambda v: np.asfortranarray(v.astype("<f4")), "'fortran_order': True"),
    ],
    ids=["int16", "uint16", "float32-big-endian", "float64-big-endian", "fortran-order"],
)
def test_other_dtypes_and_orders_give_the_reference_answer(
    client: TestClient,
    package: ModelPackage,
    convert: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
    header: str,
) -> None:
    volumes: Volumes = {p: convert(v) for p, v in exam_volumes(seed=3, lengths=(2, 3, 2)).items()}
    assert header in npy_bytes(volumes["axial"])[:128].decode("latin-1")  # the test sends it
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["warnings"] == []
    assert_matches(body, reference(package, volumes))
    # the same values in uint8 score the same: each volume is rescaled to 0..255 first
    uint8 = {p: v.astype(np.uint8) for p, v in volumes.items()}
    assert abs(body["probability"] - reference(package, uint8).probability) <= 1e-4


def test_other_slice_sizes_are_resized_with_a_warning(
    client: TestClient, package: ModelPackage
) -> None:
    volumes = exam_volumes(seed=4, lengths=(2, 3, 2))
    volumes["coronal"] = np.random.default_rng(5).integers(0, 256, (3, 80, 96), dtype=np.uint8)
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["warnings"]) == 1
    warning = body["warnings"][0]
    assert "coronal" in warning and "80x96" in warning and "resized" in warning
    assert "64x64" in warning
    assert body["planes"]["coronal"]["num_slices"] == 3
    assert_matches(body, reference(package, volumes))


def test_a_constant_volume_scores_without_nan_and_warns(
    client: TestClient, package: ModelPackage
) -> None:
    volumes = exam_volumes(seed=6, lengths=(3, 2, 2))
    volumes["axial"] = np.full((3, 64, 64), 7, dtype=np.uint8)
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert any("axial" in w and "constant" in w for w in body["warnings"]), body["warnings"]
    assert not any("coronal" in w or "sagittal" in w for w in body["warnings"])
    assert math.isfinite(body["probability"])
    for plane in PLANES:
        assert_valid_plane(body["planes"][plane], slices=volumes[plane].shape[0])
    assert_matches(body, reference(package, volumes))


def test_one_slice_volumes_score(client: TestClient, package: ModelPackage) -> None:
    volumes = exam_volumes(seed=8, lengths=(1, 1, 1))
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    for plane in PLANES:
        assert_valid_plane(body["planes"][plane], slices=1)
    assert_matches(body, reference(package, volumes))
