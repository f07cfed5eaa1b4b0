"""Every error is an RFC 9457 problem whose detail names the bad part of the request."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import service.inference.engine as engine_module
from service.domain import PLANES

from .support import (
    Files,
    api_settings,
    assert_problem,
    chunked_file_upload,
    exam_volumes,
    npy_bytes,
    npy_file,
    serve,
    upload,
)

MAX_SLICES = 16  # api_settings
UPLOAD_CAP = 256 * 1024  # api_settings


def good_files(seed: int = 0) -> Files:
    return upload(exam_volumes(seed, lengths=(2, 2, 2)))


def test_a_missing_plane_is_named(client: TestClient) -> None:
    files = good_files()
    del files["sagittal"]
    body = assert_problem(
        client.post("/v1/predictions", files=files), 422, "sagittal", "missing", field="sagittal"
    )
    assert [e["field"] for e in body["errors"]] == ["sagittal"]


def test_an_unknown_field_is_named(client: TestClient) -> None:
    files = {**good_files(), "femur": npy_file(b"x", "femur")}
    assert_problem(client.post("/v1/predictions", files=files), 422, "femur", field="femur")


def test_a_plane_sent_as_text_is_refused(client: TestClient) -> None:
    files = good_files()
    del files["axial"]
    response = client.post("/v1/predictions", files=files, data={"axial": "not a file"})
    assert_problem(response, 422, "axial", "file", field="axial")


def test_a_plane_sent_twice_is_refused(client: TestClient) -> None:
    files = list(good_files().items())
    files.append(("coronal", npy_file(npy_bytes(np.zeros((2, 64, 64), np.uint8)), "coronal")))
    response = client.post("/v1/predictions", files=files)
    assert_problem(response, 422, "coronal", "twice", field="coronal")


def _npy_with_header(header: str) -> bytes:
    """A version 1.0 .npy file with the given header text and no data."""
    text = (header + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _structured() -> bytes:
    return npy_bytes(np.zeros((2, 64, 64), dtype=[("a", "<u1"), ("b", "<f4")]))


def _object() -> bytes:
    array = np.empty((2, 64, 64), dtype=object)
    array[...] = 0
    return npy_bytes(array)  # np.save pickles the objects: the service must not read them


def _with(value: float) -> bytes:
    volume = np.zeros((2, 64, 64), np.float32)
    volume[1, 10, 10] = value
    return npy_bytes(volume)


INVALID_VOLUMES = {
    "2-d": (npy_bytes(np.zeros((64, 64), np.uint8)), "3-D"),
    "4-d": (npy_bytes(np.zeros((2, 2, 64, 64), np.uint8)), "3-D"),
    "bool": (npy_bytes(np.zeros((2, 64, 64), bool)), "dtype"),
    "complex": (npy_bytes(np.zeros((2, 64, 64), np.complex64)), "dtype"),
    "object": (_object(), "dtype"),
    "structured": (_structured(), "dtype"),
    "too-many-slices": (npy_bytes(np.zeros((MAX_SLICES + 1, 64, 64), np.uint8)), "17 slices"),
    "zero-slices": (npy_bytes(np.zeros((0, 64, 64), np.uint8)), "0 slices"),
    "side-below-32": (npy_bytes(np.zeros((2, 31, 64), np.uint8)), "height 31"),
    "side-over-1024": (npy_bytes(np.zeros((1, 32, 1025), np.uint8)), "width 1025"),
    "truncated": (npy_bytes(np.zeros((2, 64, 64), np.uint8))[:-100], "data bytes"),
    "trailing-bytes": (npy_bytes(np.zeros((2, 64, 64), np.uint8)) + b"\0" * 8, "data bytes"),
    "nan": (_with(float("nan")), "NaN"),
    "inf": (_with(float("inf")), "infinite"),
    "garbage": (b"this is not an npy file at all", "not a readable .npy"),
    "empty": (b"", "not a readable .npy"),
    "oversized-header": (
        _npy_with_header(
            "{'descr': '<u1', 'fortran_order': False, 'shape': (2, 64, 64), }" + " " * 8000
        ),
        "not a readable .npy",
    ),
}


@pytest.mark.parametrize(("data", "says"), INVALID_VOLUMES.values(), ids=INVALID_VOLUMES.keys())
def test_an_invalid_volume_is_refused_naming_the_plane(
    client: TestClient, data: bytes, says: str
) -> None:
    files = {**good_files(), "coronal": npy_file(data, "coronal")}
    body = assert_problem(
        client.post("/v1/predictions", files=files), 422, "coronal", says, field="coronal"
    )
    assert not any(plane in body["detail"] for plane in PLANES if plane != "coronal")


def test_every_bad_volume_is_named_in_one_problem(client: TestClient) -> None:
    files = {
        **good_files(),
        "axial": npy_file(INVALID_VOLUMES["2-d"][0], "axial"),
        "coronal": npy_file(INVALID_VOLUMES["nan"][0], "coronal"),
        "sagittal": npy_file(INVALID_VOLUMES["garbage"][0], "sagittal"),
    }
    body = assert_problem(client.post("/v1/predictions", files=files), 422, *PLANES)
    errors = {error["field"]: error["message"] for error in body["errors"]}
    assert sorted(errors) == sorted(PLANES)
    assert "3-D" in errors["axial"] and "NaN" in errors["coronal"]
    assert "not a readable .npy" in errors["sagittal"]


def test_an_unknown_task_lists_the_served_tasks(client: TestClient) -> None:
    response = client.post("/v1/predictions", files=good_files(), data={"task": "meniscus"})
    assert_problem(response, 422, "'meniscus'", "acl", field="task")


def test_a_body_that_is_not_multipart_is_415(client: TestClient) -> None:
    response = client.post("/v1/predictions", json={"axial": [[[0]]]})
    assert_problem(response, 415, "multipart/form-data", "application/json")
    assert_problem(client.post("/v1/predictions"), 415, "multipart/form-data")


def test_a_declared_length_over_the_cap_is_413(client: TestClient) -> None:
    big = {"axial": npy_file(b"\0" * (UPLOAD_CAP + 1), "axial")}
    response = client.post("/v1/predictions", files=big)
    assert_problem(response, 413, str(UPLOAD_CAP))
    assert client.post("/v1/predictions", files=good_files()).status_code == 200


def test_a_chunked_body_over_the_cap_is_413(client: TestClient) -> None:
    request = client.build_request(
        "POST",
        "/v1/predictions",
        content=chunked_file_upload(2 * UPLOAD_CAP),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert "content-length" not in request.headers  # the body is counted while it is read
    assert request.headers["transfer-encoding"] == "chunked"
    assert_problem(client.send(request), 413, str(UPLOAD_CAP))
    assert client.post("/v1/predictions", files=good_files()).status_code == 200


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/v2/nothing-here"), 404)
    assert body["instance"] == "/v2/nothing-here"


def test_a_wrong_method_is_a_405_problem(client: TestClient) -> None:
    response = client.get("/v1/predictions")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


def test_an_unexpected_error_is_a_500_problem_without_internals(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(api_settings(store), raise_server_exceptions=False) as client:

        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internal state at 0xdeadbeef")

        monkeypatch.setattr(engine_module, "run_batch", explode)  # after the warm-up
        response = client.post(
            "/v1/predictions", files=good_files(), headers={"X-Request-ID": "crash-1"}
        )
        body = assert_problem(response, 500)
        assert response.headers["x-request-id"] == "crash-1" == body["request_id"]
        for leak in ("Traceback", "secret", "deadbeef", "RuntimeError", ".py"):
            assert leak not in response.text
        monkeypatch.undo()  # the worker survived the failed batch and serves again
        assert client.post("/v1/predictions", files=good_files()).status_code == 200
