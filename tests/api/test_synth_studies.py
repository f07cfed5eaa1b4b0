"""A synthetic case posted as its DICOM study scores like its .npy volumes (within 0.01).

`mrnet synth --format dicom` writes each case as a study (a localizer, the
three diagnostic series in shuffled and reversed storage, sometimes an extra
SAG T1); the service must pick the protocol's series and read them back.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.dicom.caps import Part, StudyCaps
from service.dicom.pixels import to_uint8
from service.dicom.rules import DEFAULT_RULES
from service.dicom.study import read_study
from service.domain import PLANES
from service.synth.generate import generate_dataset

from .support import api_settings, npy_file, serve

CASES = ("0000", "0001")  # seed 0: case 0000 has the extra SAG T1, 0001 does not
PROBABILITY_TOLERANCE = 0.01
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth-studies") / "data"
    generate_dataset(root, len(CASES), 0, 0, workers=1, progress=False, formats=("npy", "dicom"))
    return root / "train"


@pytest.fixture(scope="module")
def client(store: Path) -> Iterator[TestClient]:
    settings = api_settings(
        store,
        max_slices=64,
        max_batch_slices=64,
        max_queue_slices=256,
        max_upload_bytes=32 * MiB,
        max_study_bytes=64 * MiB,
    )
    with serve(settings) as client:
        yield client


def _study_zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def _stow(folder: Path, boundary: str = "synth-boundary") -> tuple[bytes, str]:
    parts = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + path.read_bytes()
        + b"\r\n"
        for path in sorted(folder.iterdir())
    )
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return parts + f"--{boundary}--\r\n".encode(), content_type


def _npy_answer(client: TestClient, data: Path, case: str) -> dict[str, object]:
    files = {p: npy_file((data / p / f"{case}.npy").read_bytes(), p) for p in PLANES}
    response = client.post("/v1/predictions", files=files)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("case", CASES)
def test_a_synthetic_study_scores_like_its_volumes(
    client: TestClient, data: Path, case: str
) -> None:
    folder = data / "dicom" / case
    if case == CASES[0]:
        response = client.post(
            "/v1/predictions", files={"study": ("study.zip", _study_zip(folder), "application/zip")}
        )
    else:
        body, content_type = _stow(folder)
        response = client.post(
            "/v1/predictions", content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == 200, response.text
    study = response.json()
    volumes = _npy_answer(client, data, case)
    difference = abs(study["probability"] - volumes["probability"])  # type: ignore[operator]
    print(f"case {case}: |p(study) - p(npy)| = {difference:.2e}")
    assert difference <= PROBABILITY_TOLERANCE
    for plane in PLANES:
        used = study["input"]["planes"][plane]
        assert used["slices"] == np.load(data / plane / f"{case}.npy").shape[0]
        assert (
            used["series_description"]
            == {"sagittal": "SAG T2 FS", "coronal": "COR T1", "axial": "AX PD FS"}[plane]
        )
        assert study["planes"][plane]["num_slices"] == used["slices"]
    not_used = {item["series_description"]: item["reason"] for item in study["input"]["not_used"]}
    assert "LOCALIZER" in not_used["3-PLANE LOC"]
    assert ("SAG T1" in not_used) == (case == "0000")


@pytest.mark.parametrize("case", CASES)
def test_a_synthetic_study_reads_back_to_its_volumes_exactly(data: Path, case: str) -> None:
    parts = [
        Part(path.name, path.read_bytes()) for path in sorted((data / "dicom" / case).iterdir())
    ]
    study = read_study(parts, DEFAULT_RULES, StudyCaps(), 256)
    for plane in PLANES:
        volume = np.load(data / plane / f"{case}.npy")
        got = study.volumes[plane].astype(np.int16)
        if volume.min() == 0 and volume.max() == 255:  # min-max gives it back unchanged
            assert np.array_equal(got, volume), plane
        else:  # its min-max rescaled self, up to rounding of the 12-bit stored values
            assert np.abs(got - to_uint8(volume)).max() <= 1, plane
    assert study.warnings == []
