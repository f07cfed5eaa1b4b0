"""POST /v1/predictions with a DICOM study: STOW-RS, a study zip or dicom files, and bad input.

A built study stores known view volumes in shuffled files and odd storage
orders; scored through the API it must equal the unbatched reference on those
volumes. Every bad study is a 4xx problem that says what was wrong, and the
server keeps answering.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.domain import PLANES
from service.store.loader import ModelPackage

from .support import Volumes, api_settings, assert_matches, assert_problem, reference, serve
from dicom_factories import (
    Storage,
    encode,
    many_files_zip,
    nifti_bytes,
    series,
    study,
    view_volume,
    zipped,
)

BOUNDARY = "a1b2c3-study"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
STORAGES = {
    "axial": Storage(flip_slices=True),
    "coronal": Storage(transpose=True, flip_rows=True),
    "sagittal": Storage(flip_columns=True, flip_slices=True),
}


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    settings = api_settings(
        store,
        min_series_slices=3,
        max_upload_bytes=8 * 1024 * 1024,
        max_study_bytes=2 * 1024 * 1024,
        max_study_instances=200,
    )
    with serve(settings) as client:
        yield client


@pytest.fixture(scope="module")
def volumes() -> Volumes:
    rng = np.random.default_rng(12)
    return {plane: view_volume(rng, slices=n) for plane, n in zip(PLANES, (4, 5, 6), strict=True)}


@pytest.fixture(scope="module")
def files(volumes: Volumes) -> list[bytes]:
    return study(volumes, STORAGES)


def stow(parts: list[bytes], content_type: str = "application/dicom") -> bytes:
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\n\r\n".encode() + part + b"\r\n"
        for part in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def post_stow(client: TestClient, parts: list[bytes], **kw: Any) -> Any:
    return client.post(
        "/v1/predictions", content=stow(parts, **kw), headers={"Content-Type": STOW_TYPE}
    )


def post_zip(client: TestClient, data: bytes) -> Any:
    return client.post("/v1/predictions", files={"study": ("study.zip", data, "application/zip")})


def _check_input(body: dict[str, Any], volumes: Volumes) -> None:
    used = body["input"]["planes"]
    assert {plane: used[plane]["slices"] for plane in PLANES} == {
        plane: volumes[plane].shape[0] for plane in PLANES
    }
    assert used["sagittal"]["series_description"] == "SAG T2 FS"
    assert used["coronal"]["series_number"] == 4
    assert used["axial"]["pixel_spacing_mm"] == [0.5, 0.5]
    assert used["axial"]["slice_spacing_mm"] == pytest.approx(3.0)


def test_a_stow_rs_study_scores_like_its_volumes(
    client: TestClient, package: ModelPackage, volumes: Volumes, files: list[bytes]
) -> None:
    response = post_stow(client, files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, reference(package, volumes))
    _check_input(body, volumes)
    assert body["input"]["not_used"] == []


def test_a_study_zip_scores_like_its_volumes(
    client: TestClient, package: ModelPackage, volumes: Volumes, files: list[bytes]
) -> None:
    members = {f"DICOM/IM{n:04d}": data for n, data in enumerate(files)}
    members["README.TXT"] = b"Exported by a CD burner."
    response = post_zip(client, zipped(members))
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, reference(package, volumes))
    _check_input(body, volumes)
    assert body["input"]["skipped"] == [
        "The study archive member 'README.TXT' is not a DICOM file; it was skipped."
    ]


def test_dicom_file_fields_score_like_the_volumes(
    client: TestClient, package: ModelPackage, volumes: Volumes, files: list[bytes]
) -> None:
    fields = [("dicom", (f"IM{n}", data, "application/dicom")) for n, data in enumerate(files)]
    response = client.post("/v1/predictions", files=fields, data={"task": "acl"})
    assert response.status_code == 200, response.text
    assert_matches(response.json(), reference(package, volumes))


def test_series_not_used_are_listed_with_reasons(
    client: TestClient, volumes: Volumes, files: list[bytes]
) -> None:
    rng = np.random.default_rng(5)
    extra = [
        encode(ds) for ds in series(view_volume(rng, 7), "sagittal", description="SAG PD", number=8)
    ]
    scout = [
        encode(ds)
        for ds in series(
            view_volume(rng, 3),
            "coronal",
            description="LOC",
            number=1,
            image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        )
    ]
    body = post_stow(client, files + extra + scout).json()
    assert body["input"]["planes"]["sagittal"]["series_description"] == "SAG T2 FS"
    reasons = {item["series_description"]: item["reason"] for item in body["input"]["not_used"]}
    assert "preferred by the selection rules" in reasons["SAG PD"]
    assert "LOCALIZER" in reasons["LOC"]


def test_a_missing_plane_is_a_422_naming_it_and_the_series_found(
    client: TestClient, files: list[bytes], volumes: Volumes
) -> None:
    without_axial = study({p: v for p, v in volumes.items() if p != "axial"})
    body = assert_problem(
        post_stow(client, without_axial), 422, "axial", "SAG T2 FS", "COR T1", field="axial"
    )
    assert body["type"].endswith("/missing-plane")


def test_nifti_volumes_in_the_plane_fields_score_like_the_volumes(
    client: TestClient, package: ModelPackage, volumes: Volumes
) -> None:
    stored = {
        "axial": nifti_bytes(volumes["axial"], "axial", (2, 1, 0), (True, False, False)),
        "coronal": nifti_bytes(volumes["coronal"], "coronal", (0, 2, 1), gzipped=True),
        "sagittal": nifti_bytes(volumes["sagittal"], "sagittal", (1, 0, 2), (False, True, True)),
    }
    fields = {
        plane: (f"{plane}.nii", data, "application/octet-stream") for plane, data in stored.items()
    }
    fields["coronal"] = ("coronal.nii.gz", stored["coronal"], "application/gzip")
    response = client.post("/v1/predictions", files=fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_matches(body, reference(package, volumes))
    assert any("sagittal volume is NIfTI stored as" in w for w in body["warnings"])
    assert body["input"] is None


# --- bad input: each a 4xx problem naming what was wrong -------------------------------


def test_a_non_dicom_part_is_named(client: TestClient, files: list[bytes]) -> None:
    assert_problem(
        post_stow(client, [*files[:3], b"hello, I am text", *files[3:]]),
        422,
        "part 4",
        "not a DICOM file",
    )


def test_a_part_of_another_media_type_is_415(client: TestClient, files: list[bytes]) -> None:
    assert_problem(
        post_stow(client, files[:2], content_type="application/dicom+xml"), 415, "part 1"
    )


def test_a_stow_body_of_another_type_is_415(client: TestClient, files: list[bytes]) -> None:
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom+json"; boundary={BOUNDARY}'
    }
    response = client.post("/v1/predictions", content=stow(files[:1]), headers=headers)
    assert_problem(response, 415, "application/dicom")


def test_a_truncated_instance_is_named(client: TestClient, files: list[bytes]) -> None:
    cut = files[7][: len(files[7]) // 2]
    assert_problem(post_stow(client, [*files[:7], cut, *files[8:]]), 422, "part 8")


def test_a_header_that_is_truncated_is_named(client: TestClient, files: list[bytes]) -> None:
    assert_problem(
        post_stow(client, [files[0][:200], *files[1:]]), 422, "part 1", "not readable DICOM"
    )


def test_an_element_with_a_wrong_length_is_named(client: TestClient, files: list[bytes]) -> None:
    data = bytearray(files[2])
    at = data.index(b"Phantom^Knee") - 2  # PatientName's 16-bit length (explicit VR)
    data[at : at + 2] = (0xFFF0).to_bytes(2, "little")
    response = post_stow(client, [*files[:2], bytes(data), *files[3:]])
    assert_problem(response, 422, "part 3")


def test_instances_without_pixel_data_leave_the_plane_missing(
    client: TestClient, volumes: Volumes
) -> None:
    files = study({p: v for p, v in volumes.items() if p != "coronal"})
    bare = series(volumes["coronal"], "coronal")
    for ds in bare:
        del ds.PixelData
    body = assert_problem(
        post_stow(client, files + [encode(ds) for ds in bare]), 422, "coronal", "without pixel data"
    )
    assert body["type"].endswith("/missing-plane")


def test_a_zip_bomb_is_refused_while_it_inflates(client: TestClient, files: list[bytes]) -> None:
    members = {f"IM{n}": data for n, data in enumerate(files)}
    members["padding"] = b"\0" * (4 * 1024 * 1024)  # 4 MiB of zeros: a few KiB deflated
    data = zipped(members)
    assert len(data) < 200 * 1024
    assert_problem(post_zip(client, data), 413, "bytes once unpacked")


def test_a_nested_zip_is_refused(client: TestClient, files: list[bytes]) -> None:
    inner = zipped({f"IM{n}": data for n, data in enumerate(files)})
    assert_problem(
        post_zip(client, zipped({"inner.zip": inner})), 422, "inner.zip", "archives inside archives"
    )


def test_a_100000_file_zip_is_refused_before_it_is_read(client: TestClient) -> None:
    assert_problem(post_zip(client, many_files_zip(100_000)), 413, "100000 files", "at most 200")


def test_a_broken_zip_is_named(client: TestClient) -> None:
    assert_problem(
        post_zip(client, b"PK\x03\x04 not really a zip"), 422, "study archive", "not a readable zip"
    )


def test_too_many_stow_parts_are_413(client: TestClient, files: list[bytes]) -> None:
    assert_problem(post_stow(client, files * 20), 413, "at most 200")


def test_a_study_and_plane_fields_together_are_refused(
    client: TestClient, files: list[bytes]
) -> None:
    fields = [
        ("study", ("s.zip", zipped({"a": files[0]}), "application/zip")),
        ("axial", ("a.npy", b"x", "application/octet-stream")),
    ]
    assert_problem(client.post("/v1/predictions", files=fields), 422, "axial", field="axial")


def test_the_server_is_healthy_after_the_bad_input(
    client: TestClient, package: ModelPackage, volumes: Volumes, files: list[bytes]
) -> None:
    assert client.get("/health/ready").status_code == 200
    response = post_stow(client, files)
    assert response.status_code == 200
    assert_matches(response.json(), reference(package, volumes))
