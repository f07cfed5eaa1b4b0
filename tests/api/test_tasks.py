"""Every served task in one request: the `tasks` field, the body, stored cases, CAMs, models."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.domain import PLANES
from service.inference.predictor import predict_exam
from service.store.loader import ModelPackage, load_package
from service.store.writer import write_package

from .support import api_settings, assert_problem, assert_valid_plane, exam_volumes, serve, upload
from dicom_factories import study, view_volume, zipped
from factories import draft, random_states, write_tiny_dataset

TASKS3 = ["abnormal", "acl", "meniscus"]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """triage/1 (abnormal, acl, meniscus on one backbone) and an older one-task acl/1."""
    root = tmp_path_factory.mktemp("tasks-store")
    acl = write_package(root, draft(), random_states(3))
    manifest = acl / "manifest.json"
    data = json.loads(manifest.read_text())
    data["created_at"] = "2020-01-01T00:00:00+00:00"
    manifest.write_text(json.dumps(data))
    write_package(root, draft(tasks=tuple(TASKS3), name="triage"), random_states(4, 3))
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tasks-data") / "tiny", n_train=2, n_valid=3)


@pytest.fixture(scope="module")
def client(store: Path, data_root: Path) -> Iterator[TestClient]:
    with serve(api_settings(store, datasets={"tiny": data_root})) as client:
        yield client


@pytest.fixture(scope="module")
def triage(store: Path) -> ModelPackage:
    return load_package(store, "triage")


def _check_task(body: dict[str, Any], task: str, package: ModelPackage, volumes: Any) -> None:
    """One task of a body equals the unbatched reference, and its logits decompose exactly."""
    got, want = body["tasks"][task], predict_exam(package, volumes, task)
    assert abs(got["probability"] - want.probability) <= TOLERANCE
    assert got["positive"] == want.positive and got["threshold"] == want.threshold
    assert got["model"]["name"] == package.manifest.name and got["model"]["task"] == task
    assert set(got["planes"]) == set(PLANES)
    for plane in PLANES:
        result, reference = got["planes"][plane], want.planes[plane]
        assert_valid_plane(result, slices=volumes[plane].shape[0])
        assert abs(result["logit"] - reference.logit) <= TOLERANCE
        assert len(result["contributions"]) == result["num_slices"]
        assert result["bias"] + sum(result["contributions"]) == pytest.approx(
            result["logit"], abs=1e-9
        )
        np.testing.assert_allclose(
            result["contributions"], reference.attribution.contributions, atol=TOLERANCE
        )


def test_one_post_answers_every_served_task(client: TestClient, triage: ModelPackage) -> None:
    volumes = exam_volumes(seed=21, lengths=(3, 5, 4))
    response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["tasks"]) == TASKS3
    for task in TASKS3:
        _check_task(body, task, triage, volumes)
    acl = body["tasks"]["acl"]  # the top level stays the ACL answer
    assert body["task"] == "acl" and body["probability"] == acl["probability"]
    assert body["model"] == acl["model"]
    for plane in PLANES:
        assert body["planes"][plane]["logit"] == acl["planes"][plane]["logit"]
        assert "contributions" not in body["planes"][plane]
    probabilities = {body["tasks"][t]["probability"] for t in TASKS3}
    assert len(probabilities) == 3  # three heads, not one answer copied


def test_the_tasks_field_selects(client: TestClient, triage: ModelPackage) -> None:
    volumes = exam_volumes(seed=22)
    response = client.post("/v1/predictions", files=upload(volumes), data={"tasks": "meniscus"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["tasks"]) == ["meniscus"]
    assert body["task"] == "meniscus"  # without acl, the top level is the first scored task
    assert body["probability"] == body["tasks"]["meniscus"]["probability"]
    _check_task(body, "meniscus", triage, volumes)
    both = client.post("/v1/predictions", files=upload(volumes), data={"tasks": "meniscus, acl"})
    assert list(both.json()["tasks"]) == ["acl", "meniscus"] and both.json()["task"] == "acl"


def test_the_task_field_is_a_one_task_synonym(client: TestClient, triage: ModelPackage) -> None:
    volumes = exam_volumes(seed=23)
    response = client.post("/v1/predictions", files=upload(volumes), data={"task": "abnormal"})
    assert response.status_code == 200, response.text
    assert list(response.json()["tasks"]) == ["abnormal"]
    _check_task(response.json(), "abnormal", triage, volumes)


@pytest.mark.parametrize(
    ("data", "field", "names"),
    [
        ({"tasks": "acl,cartilage"}, "tasks", ("'cartilage'", "abnormal, acl, meniscus")),
        ({"task": "cartilage"}, "task", ("'cartilage'", "abnormal, acl, meniscus")),
        ({"tasks": " , "}, "tasks", ("names no task",)),
        ({"tasks": "acl", "task": "acl"}, "task", ("not both",)),
    ],
)
def test_bad_task_fields_are_422_naming_them(
    client: TestClient, data: dict[str, str], field: str, names: tuple[str, ...]
) -> None:
    response = client.post("/v1/predictions", files=upload(exam_volumes(seed=24)), data=data)
    assert_problem(response, 422, *names, field=field)


def test_models_list_the_packages_and_the_tasks_each_serves(
    client: TestClient, triage: ModelPackage
) -> None:
    body = client.get("/v1/models").json()
    assert body["tasks"] == {"abnormal": "triage", "acl": "triage", "meniscus": "triage"}
    [model] = body["models"]  # acl/1 is older and serves nothing, so it is not loaded
    assert model["name"] == "triage" and model["serves"] == TASKS3
    assert [t["task"] for t in model["tasks"]] == TASKS3
    for info in model["tasks"]:
        head = triage.manifest.head(info["task"])
        assert info["threshold"] == head.threshold.model_dump()
        assert info["metrics"] == head.metrics.model_dump()


CASE = "/v1/datasets/tiny/valid/cases/0003"


def test_a_stored_case_prediction_carries_every_task(client: TestClient) -> None:
    response = client.get(f"{CASE}/prediction")
    assert response.status_code == 200, response.text
    assert list(response.json()["tasks"]) == TASKS3
    one = client.get(f"{CASE}/prediction", params={"tasks": "meniscus"})
    assert list(one.json()["tasks"]) == ["meniscus"]
    meniscus = one.json()["tasks"]["meniscus"]
    assert meniscus["probability"] == response.json()["tasks"]["meniscus"]["probability"]
    assert_problem(client.get(f"{CASE}/prediction", params={"tasks": "knee"}), 422, "knee")


def test_cam_overlays_follow_the_task(client: TestClient) -> None:
    tasks = client.get(f"{CASE}/prediction").json()["tasks"]
    plane = next(p for p in PLANES if tasks["meniscus"]["planes"][p]["top_slices"])
    top = tasks["meniscus"]["planes"][plane]["top_slices"][0]  # coloured for meniscus
    url = f"{CASE}/{plane}/slices/{top}/cam.png"
    default, acl = client.get(url), client.get(url, params={"task": "acl"})
    meniscus = client.get(url, params={"task": "meniscus"})
    assert default.status_code == acl.status_code == meniscus.status_code == 200
    assert default.content == acl.content  # acl by default
    assert meniscus.content != acl.content  # another head, another map
    assert meniscus.headers["etag"] != acl.headers["etag"]
    assert_problem(client.get(url, params={"task": "knee"}), 422, "knee", field="query.task")


def test_tasks_of_two_packages_are_scored_in_one_request(store: Path, triage: ModelPackage) -> None:
    settings = api_settings(store, task_packages={"acl": "acl"})
    volumes = exam_volumes(seed=25, lengths=(4, 3, 5))
    with serve(settings) as client:
        assert client.get("/v1/models").json()["tasks"]["acl"] == "acl"
        response = client.post("/v1/predictions", files=upload(volumes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["tasks"]) == TASKS3
    _check_task(body, "acl", load_package(store, "acl"), volumes)
    _check_task(body, "meniscus", triage, volumes)
    assert body["model"]["name"] == "acl" and body["tasks"]["abnormal"]["model"]["name"] == "triage"


def test_configured_tasks_restrict_what_is_served(store: Path) -> None:
    with serve(api_settings(store, tasks=["meniscus"])) as client:
        assert client.get("/v1/models").json()["tasks"] == {"meniscus": "triage"}
        response = client.post("/v1/predictions", files=upload(exam_volumes(seed=26)))
        assert list(response.json()["tasks"]) == ["meniscus"]
        response = client.post(
            "/v1/predictions", files=upload(exam_volumes(seed=26)), data={"tasks": "acl"}
        )
        assert_problem(response, 422, "'acl'", "meniscus", field="tasks")


def test_the_startup_log_says_which_package_serves_which_task(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serve(api_settings(store, task_packages={"acl": "acl"})):
        pass
    messages = [record.getMessage() for record in caplog.records]
    assert "serving abnormal from triage/1, acl from acl/1, meniscus from triage/1" in messages
    assert any(
        m.startswith("loaded triage/1 from ") and m.endswith("abnormal, meniscus") for m in messages
    )


def test_a_dicom_study_is_scored_for_every_task_or_the_tasks_asked(
    store: Path, triage: ModelPackage
) -> None:
    rng = np.random.default_rng(31)
    volumes = {p: view_volume(rng, slices=n) for p, n in zip(PLANES, (4, 5, 6), strict=True)}
    files = study(volumes)
    boundary = "tasks-study"
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
            for part in files
        )
        + f"--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'}
    settings = api_settings(store, min_series_slices=3, max_upload_bytes=8 * 1024 * 1024)
    with serve(settings) as client:
        every = client.post("/v1/predictions", content=body, headers=headers)
        one = client.post(
            "/v1/predictions", content=body, headers=headers, params={"tasks": "meniscus"}
        )
        zipped_files = {
            "study": (
                "study.zip",
                zipped({f"IM{n}": data for n, data in enumerate(files)}),
                "application/zip",
            )
        }
        form = client.post("/v1/predictions", files=zipped_files, data={"tasks": "abnormal"})
    assert every.status_code == 200, every.text
    assert list(every.json()["tasks"]) == TASKS3 and every.json()["input"]["planes"]
    for task in TASKS3:
        _check_task(every.json(), task, triage, volumes)
    assert one.status_code == 200, one.text
    assert list(one.json()["tasks"]) == ["meniscus"]
    assert form.status_code == 200, form.text
    assert list(form.json()["tasks"]) == ["abnormal"]
    _check_task(form.json(), "abnormal", triage, volumes)
