"""The data set browsing API: data sets, cases, slice PNGs, CAM overlays, stored predictions."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

import service.api.app as app_module
from service.api.state import ServiceState
from service.datasets.npy import VolumeLimits
from service.domain import PLANES

from .support import (
    api_settings,
    assert_problem,
    npy_file,
    samples,
    serve,
    value,
)
from factories import write_tiny_dataset

BASE = "/v1/datasets/tiny"
KEY = "browse-key-0123"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """valid: 0003..0006 (0003, 0006 positive), 0100 without a sagittal file and only an acl
    label, 0101 int16 volumes without labels; train has no meniscus labels."""
    root = write_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny", n_train=3, n_valid=4)
    rng = np.random.default_rng(11)
    for plane in ("axial", "coronal"):
        np.save(root / "valid" / plane / "0100.npy", rng.integers(0, 256, (4, 64, 64), np.uint8))
    for plane in PLANES:
        volume = rng.integers(-500, 1500, (3, 64, 48)).astype(">i2")
        np.save(root / "valid" / plane / "0101.npy", volume)
    with (root / "valid-acl.csv").open("a") as handle:
        handle.write("0100,1\n")
    (root / "train-meniscus.csv").unlink()
    return root


def _settings(store: Path, data_root: Path, **overrides: Any) -> Any:
    datasets = {"tiny": data_root, "gone": data_root.parent / "missing"}
    return api_settings(store, datasets=datasets, **overrides)


def wait_indexed(client: TestClient, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while client.get("/v1/datasets", headers=headers).status_code == 503:
        assert time.monotonic() < deadline, "the data set index was not built"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def browse(store: Path, data_root: Path) -> Iterator[TestClient]:
    with serve(_settings(store, data_root)) as client:
        wait_indexed(client)
        yield client


def _state(client: TestClient) -> ServiceState:
    app = client.app
    assert isinstance(app, FastAPI)
    state: ServiceState = app.state.service
    return state


def _stored(root: Path, case_id: str, plane: str) -> npt.NDArray[Any]:
    return np.load(root / "valid" / plane / f"{case_id}.npy")


def _image(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def _slice_url(case_id: str, plane: str, index: int | str, tail: str = ".png") -> str:
    return f"{BASE}/valid/cases/{case_id}/{plane}/slices/{index}{tail}"


# --- data sets and cases --------------------------------------------------------------


def test_the_data_sets_are_listed_with_splits_and_problems(
    browse: TestClient, data_root: Path
) -> None:
    response = browse.get("/v1/datasets")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "datasets": [
            {
                "name": "tiny",
                "available": True,
                "problem": None,
                "splits": [
                    {"name": "train", "cases": 3, "tasks": ["abnormal", "acl"],
                     "has_ground_truth": True},
                    {"name": "valid", "cases": 6, "tasks": ["abnormal", "acl", "meniscus"],
                     "has_ground_truth": True},
                ],
            },
            {
                "name": "gone",
                "available": False,
                "problem": f"The data set root {data_root.parent / 'missing'} does not exist.",
                "splits": [],
            },
        ]
    }  # fmt: skip


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [case["case_id"] for case in response.json()["cases"]]


def test_cases_are_paged_in_case_id_order(browse: TestClient) -> None:
    assert _ids(browse.get(f"{BASE}/valid/cases")) == [
        "0003", "0004", "0005", "0006", "0100", "0101",
    ]  # fmt: skip
    response = browse.get(f"{BASE}/valid/cases", params={"offset": 1, "limit": 2})
    assert _ids(response) == ["0004", "0005"]
    body = response.json()
    assert (body["dataset"], body["split"], body["offset"], body["limit"], body["total"]) == (
        "tiny", "valid", 1, 2, 6,
    )  # fmt: skip
    assert _ids(browse.get(f"{BASE}/valid/cases", params={"offset": 6})) == []


def test_label_filters_select_and_total_counts_after_filtering(browse: TestClient) -> None:
    response = browse.get(f"{BASE}/valid/cases", params={"acl": 1})
    assert _ids(response) == ["0003", "0006", "0100"] and response.json()["total"] == 3
    response = browse.get(f"{BASE}/valid/cases", params={"acl": 0, "abnormal": 0, "limit": 1})
    assert _ids(response) == ["0004"] and response.json()["total"] == 2
    assert _ids(browse.get(f"{BASE}/valid/cases", params={"meniscus": 1})) == ["0003", "0006"]


def test_filtering_by_a_task_without_labels_is_422(browse: TestClient) -> None:
    response = browse.get(f"{BASE}/train/cases", params={"meniscus": 1})
    assert_problem(response, 422, "meniscus", field="meniscus")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
     ({"acl": 2}, "acl"), ({"abnormal": "yes"}, "abnormal")],
)  # fmt: skip
def test_malformed_paging_or_filters_are_422(
    browse: TestClient, params: dict[str, Any], field: str
) -> None:
    response = browse.get(f"{BASE}/valid/cases", params=params)
    assert_problem(response, 422, field, field=f"query.{field}")


def test_a_case_has_labels_shapes_missing_planes_and_ground_truth(browse: TestClient) -> None:
    response = browse.get(f"{BASE}/valid/cases/0003")
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["labels"] == {"abnormal": 1, "acl": 1, "meniscus": 1}
    assert set(case["planes"]) == set(PLANES) and case["missing_planes"] == []
    assert case["acl_slices"] == {plane: [2, 5] for plane in PLANES}
    partial = browse.get(f"{BASE}/valid/cases/0100").json()
    assert partial == {
        "case_id": "0100",
        "labels": {"abnormal": None, "acl": 1, "meniscus": None},
        "planes": {
            "axial": {"num_slices": 4, "height": 64, "width": 64},
            "coronal": {"num_slices": 4, "height": 64, "width": 64},
            "sagittal": None,
        },
        "missing_planes": ["sagittal"],
        "acl_slices": None,
    }
    listed = browse.get(f"{BASE}/valid/cases", params={"offset": 4, "limit": 1}).json()
    assert listed["cases"] == [partial]


@pytest.mark.parametrize(
    ("path", "says"),
    [("/v1/datasets/nope/valid/cases", "nope"), (f"{BASE}/test/cases", "test"),
     (f"{BASE}/valid/cases/0999", "0999"), ("/v1/datasets/gone/valid/cases", "not available")],
)  # fmt: skip
def test_unknown_names_are_404(browse: TestClient, path: str, says: str) -> None:
    assert_problem(browse.get(path), 404, says)


# --- slices -----------------------------------------------------------------------------


@pytest.mark.parametrize(("plane", "index"), [("axial", 0), ("coronal", 4), ("sagittal", 6)])
def test_a_slice_png_is_exactly_the_stored_slice(
    browse: TestClient, data_root: Path, plane: str, index: int
) -> None:
    image = _image(browse.get(_slice_url("0003", plane, index)))
    assert image.format == "PNG" and image.mode == "L" and image.size == (64, 64)
    assert np.array_equal(np.asarray(image), _stored(data_root, "0003", plane)[index])


def test_other_dtypes_are_scaled_over_the_volume(browse: TestClient, data_root: Path) -> None:
    volume = _stored(data_root, "0101", "axial").astype(np.float64)
    low, high = volume.min(), volume.max()
    expected = np.floor((volume[1] - low) * 255 / (high - low) + 0.5).astype(np.uint8)
    image = _image(browse.get(_slice_url("0101", "axial", 1)))
    assert image.mode == "L" and image.size == (48, 64)
    assert np.array_equal(np.asarray(image), expected)


def test_a_window_maps_its_range_to_0_255(browse: TestClient, data_root: Path) -> None:
    stored = _stored(data_root, "0003", "axial")[3].astype(np.float64)
    image = _image(browse.get(_slice_url("0003", "axial", 3), params={"window": "60,40"}))
    expected = np.floor(np.clip((stored - 40) * 255 / 40, 0, 255) + 0.5).astype(np.uint8)
    shown = np.asarray(image)
    assert np.array_equal(shown, expected)
    assert not np.array_equal(shown, stored.astype(np.uint8))
    assert (shown[stored <= 40] == 0).all() and (shown[stored >= 80] == 255).all()


@pytest.mark.parametrize("window", ["60", "60,0", "60,-1", "a,b", "1,2,3", ""])
def test_a_malformed_window_is_422(browse: TestClient, window: str) -> None:
    response = browse.get(_slice_url("0003", "axial", 0), params={"window": window})
    assert_problem(response, 422, "window", field="window")


def test_slices_carry_an_etag_and_answer_304(browse: TestClient, data_root: Path) -> None:
    url = _slice_url("0004", "coronal", 2)
    first = browse.get(url)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert first.headers["cache-control"] == "private, max-age=3600"
    assert browse.get(url).headers["etag"] == tag
    for match in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = browse.get(url, headers={"If-None-Match": match})
        assert again.status_code == 304 and again.content == b"", match
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == "private, max-age=3600"
    assert browse.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    tags = {
        browse.get(u, params=p).headers["etag"]
        for u, p in [(url, {}), (url, {"window": "60,40"}), (_slice_url("0004", "coronal", 3), {}),
                     (_slice_url("0004", "axial", 2), {}), (_slice_url("0005", "coronal", 2), {})]
    }  # fmt: skip
    assert len(tags) == 5


def test_the_etag_follows_the_file(browse: TestClient, data_root: Path) -> None:
    url = _slice_url("0005", "axial", 1)
    before = browse.get(url).headers["etag"]
    path = data_root / "valid" / "axial" / "0005.npy"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = browse.get(url, headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["etag"] != before


def test_slice_indexes_are_checked(browse: TestClient, data_root: Path) -> None:
    slices = _stored(data_root, "0003", "axial").shape[0]
    assert_problem(browse.get(_slice_url("0003", "axial", slices)), 404, f"0 to {slices - 1}")
    assert_problem(browse.get(_slice_url("0003", "axial", -1)), 404, f"0 to {slices - 1}")
    assert_problem(browse.get(_slice_url("0003", "axial", "one")), 422, "index")
    assert_problem(browse.get(_slice_url("0003", "axial", "1.5")), 422, "index")


def test_a_missing_or_unknown_plane_is_404(browse: TestClient) -> None:
    assert_problem(browse.get(_slice_url("0100", "sagittal", 0)), 404, "sagittal")
    assert_problem(browse.get(_slice_url("0003", "femur", 0)), 404, "femur")
    assert_problem(browse.get(_slice_url("0100", "sagittal", 0, "/cam.png")), 404, "sagittal")


def _raw_get(client: TestClient, raw_path: bytes) -> tuple[int, bytes]:
    """GET a path exactly as given: httpx would resolve '..' before sending it."""

    async def call() -> tuple[int, bytes]:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "root_path": "", "query_string": b"",
            "path": unquote(raw_path.decode()), "raw_path": raw_path,
            "headers": [(b"host", b"testserver")],
            "client": ("testclient", 50000), "server": ("testserver", 80),
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await client.app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body

    return client.portal.call(call)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/v1/datasets/tiny/valid/cases/../valid/axial/slices/0.png",
        b"/v1/datasets/tiny/valid/cases/0003/../../../../../etc/passwd",
        b"/v1/datasets/../tiny/valid/cases",
        b"/v1/datasets/tiny/../cases/0003",
        b"/v1/datasets/tiny/valid/cases/%2e%2e/axial/slices/0.png",
        b"/v1/datasets/tiny/valid/cases/..%2F..%2Fvalid/axial/slices/0.png",
        b"/v1/datasets/tiny/valid/cases/0003%2Faxial/axial/slices/0.png",
        b"/v1/datasets/tiny/%2e%2e/cases/0003",
        b"/v1/datasets/%2Fetc/valid/cases",
        b"/v1/datasets/tiny/valid/cases//etc/passwd/slices/0.png",
        b"/v1/datasets/tiny/valid/cases/0003/%2e%2e%2faxial/slices/0.png",
        b"/v1/datasets/tiny/valid/cases/0003/axial/slices/..%2F..%2F..%2F0003.npy.png",
        b"/v1/datasets/tiny/valid/cases/3/axial/slices/0.png",
    ],
)
def test_traversal_attempts_are_refused(browse: TestClient, raw_path: bytes) -> None:
    status, body = _raw_get(browse, raw_path)
    assert status in {404, 422}, (raw_path, status)
    assert json.loads(body)["status"] == status  # a problem, not a file's bytes


# --- class activation maps ----------------------------------------------------------------


def _top_slice(browse: TestClient, case_id: str, plane: str) -> int:
    response = browse.get(f"{BASE}/valid/cases/{case_id}/prediction")
    assert response.status_code == 200, response.text
    top: list[int] = response.json()["planes"][plane]["top_slices"]
    assert top, "the random model gives this plane no positive slice"
    return top[0]


def test_a_cam_png_is_an_rgb_overlay_of_the_slice(browse: TestClient, data_root: Path) -> None:
    index = _top_slice(browse, "0006", "axial")
    image = _image(browse.get(_slice_url("0006", "axial", index, "/cam.png")))
    stored = _stored(data_root, "0006", "axial")[index]
    assert image.mode == "RGB" and image.size == (stored.shape[1], stored.shape[0])
    pixels = np.asarray(image)
    gray = np.repeat(stored[..., None], 3, axis=2)
    assert not np.array_equal(pixels, gray)
    assert (pixels[..., 0] != pixels[..., 2]).any()  # coloured, not gray


def test_cams_are_cached_and_carry_an_etag(browse: TestClient) -> None:
    renderer = _state(browse).renderer
    url = _slice_url("0004", "sagittal", 1, "/cam.png")
    before = renderer.cam_runs
    first = browse.get(url)
    assert first.status_code == 200 and renderer.cam_runs == before + 1
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=3600"
    other = browse.get(_slice_url("0004", "sagittal", 2, "/cam.png"))
    assert other.status_code == 200 and renderer.cam_runs == before + 1  # same volume
    plain = browse.get(_slice_url("0004", "sagittal", 1)).headers["etag"]
    assert len({tag, other.headers["etag"], plain}) == 3
    again = browse.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag


def test_a_cam_for_an_unserved_task_is_422(browse: TestClient) -> None:
    response = browse.get(_slice_url("0003", "axial", 0, "/cam.png"), params={"task": "meniscus"})
    assert_problem(response, 422, "meniscus", field="task")


# --- stored-case predictions -------------------------------------------------------------


def _without_run(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"request_id", "timing_ms"}}


@pytest.mark.parametrize("case_id", ["0005", "0101"])
def test_a_stored_prediction_equals_posting_the_same_files(
    browse: TestClient, data_root: Path, case_id: str
) -> None:
    stored = browse.get(f"{BASE}/valid/cases/{case_id}/prediction")
    assert stored.status_code == 200, stored.text
    files = {
        plane: npy_file((data_root / "valid" / plane / f"{case_id}.npy").read_bytes(), plane)
        for plane in PLANES
    }
    posted = browse.post("/v1/predictions", files=files)
    assert posted.status_code == 200, posted.text
    assert _without_run(stored.json()) == _without_run(posted.json())
    assert stored.json()["request_id"] == stored.headers["x-request-id"]
    if case_id == "0101":  # 64x48 slices: the same resize warnings either way
        assert stored.json()["warnings"] and stored.json()["warnings"] == posted.json()["warnings"]


def test_stored_predictions_are_cached(browse: TestClient) -> None:
    def batches() -> float:
        return value(samples(browse.get("/metrics").text), "mrnet_batch_exams_count")

    url = f"{BASE}/valid/cases/0004/prediction"
    first = browse.get(url)
    assert first.status_code == 200, first.text
    counted = batches()
    second = browse.get(url)
    assert second.status_code == 200
    assert batches() == counted  # not queued again
    assert _without_run(second.json()) == _without_run(first.json())
    assert second.json()["request_id"] != first.json()["request_id"]
    assert second.json()["timing_ms"]["queue"] == second.json()["timing_ms"]["inference"] == 0
    state = _state(browse)
    digest = first.json()["model"]["sha256"]
    assert ("tiny", "valid", "0004", f"acl:{digest}") in state.stored_predictions
    assert browse.get(f"{BASE}/valid/cases/0003/prediction").status_code == 200
    assert batches() == counted + 1  # another case is queued


def test_a_stored_case_with_a_missing_plane_is_422(browse: TestClient) -> None:
    response = browse.get(f"{BASE}/valid/cases/0100/prediction")
    assert_problem(response, 422, "sagittal", field="sagittal")


def test_a_prediction_of_an_unknown_case_or_task_is_refused(browse: TestClient) -> None:
    assert_problem(browse.get(f"{BASE}/valid/cases/0042/prediction"), 404, "0042")
    response = browse.get(f"{BASE}/valid/cases/0003/prediction", params={"task": "abnormal"})
    assert_problem(response, 422, "abnormal", field="task")


def test_uploads_work_beside_a_missing_data_set_root(browse: TestClient, data_root: Path) -> None:
    files = {
        plane: npy_file((data_root / "valid" / plane / "0003.npy").read_bytes(), plane)
        for plane in PLANES
    }
    assert browse.post("/v1/predictions", files=files).status_code == 200


# --- startup, keys and documentation ------------------------------------------------------


def test_indexing_does_not_delay_liveness(
    store: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    build = app_module.build_catalog

    def slow_build(roots: Any, limits: VolumeLimits) -> Any:
        assert release.wait(30)
        return build(roots, limits)

    monkeypatch.setattr(app_module, "build_catalog", slow_build)
    with serve(_settings(store, data_root), ready=False) as client:
        assert client.get("/health/live").status_code == 200
        waiting = client.get("/v1/datasets")
        assert_problem(waiting, 503, "index")
        assert waiting.headers["retry-after"]
        release.set()
        wait_indexed(client)
        assert client.get(_slice_url("0003", "axial", 0)).status_code == 200


def test_slices_work_without_models_and_cams_wait_for_them(tmp_path: Path, data_root: Path) -> None:
    settings = _settings(tmp_path / "empty-store", data_root)
    with serve(settings, ready=False) as client:
        wait_indexed(client)
        assert client.get(_slice_url("0003", "axial", 0)).status_code == 200
        assert_problem(client.get(_slice_url("0003", "axial", 0, "/cam.png")), 503)
        assert_problem(client.get(f"{BASE}/valid/cases/0003/prediction"), 503)


def test_keys_apply_to_every_data_set_route(store: Path, data_root: Path) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    paths = [
        "/v1/datasets",
        f"{BASE}/valid/cases",
        f"{BASE}/valid/cases/0003",
        _slice_url("0003", "axial", 0),
        _slice_url("0003", "axial", 0, "/cam.png"),
        f"{BASE}/valid/cases/0003/prediction",
    ]
    with serve(_settings(store, data_root, api_keys=[KEY])) as client:
        wait_indexed(client, headers)
        for path in paths:
            assert_problem(client.get(path), 401, "API key")
            assert client.get(path, headers=headers).status_code == 200, path
        assert_problem(client.get("/v1/datasets/nope/valid/cases"), 401)


def test_the_routes_are_documented_with_their_problems(browse: TestClient) -> None:
    paths = browse.get("/openapi.json").json()["paths"]
    case = "/v1/datasets/{dataset}/{split}/cases/{case_id}"
    expected = {
        "/v1/datasets": {"401", "503"},
        "/v1/datasets/{dataset}/{split}/cases": {"401", "404", "422"},
        case: {"401", "404"},
        case + "/{plane}/slices/{index}.png": {"304", "401", "404", "422"},
        case + "/{plane}/slices/{index}/cam.png": {"304", "401", "404", "422", "503"},
        case + "/prediction": {"401", "404", "422", "503", "504"},
    }
    for path, statuses in expected.items():
        responses = paths[path]["get"]["responses"]
        assert statuses <= set(responses), path
        for status in statuses - {"304"}:
            assert "application/problem+json" in responses[status]["content"], (path, status)
    png = paths[case + "/{plane}/slices/{index}.png"]["get"]["responses"]["200"]["content"]
    assert "image/png" in png
