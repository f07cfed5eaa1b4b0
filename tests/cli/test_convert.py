"""`mrnet convert --dicom`: studies become MRNet-layout cases that the other commands read."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.datasets.index import index_dataset
from service.datasets.npy import VolumeLimits
from service.datasets.reader import SplitReader
from service.domain import PLANES

from dicom_factories import Storage, encode, series, study, view_volume, zipped


def _studies(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(4)
    volumes = {
        name: {plane: view_volume(rng, slices=6) for plane in PLANES}
        for name in ("knee-a", "knee-b", "knee-c")
    }
    for name in ("knee-a", "knee-b"):
        target = folder / name / "DICOM"
        target.mkdir(parents=True)
        for number, data in enumerate(study(volumes[name], {"axial": Storage(flip_rows=True)})):
            (target / f"IM{number:04d}").write_bytes(data)
        (folder / name / "README.TXT").write_text("not DICOM")
    files = study(volumes["knee-c"])
    (folder / "knee-c.zip").write_bytes(zipped({f"IM{n}": d for n, d in enumerate(files)}))
    broken = folder / "knee-d"  # only a sagittal series
    broken.mkdir()
    for number, ds in enumerate(series(volumes["knee-a"]["sagittal"], "sagittal")):
        (broken / f"IM{number}").write_bytes(encode(ds))
    return volumes


@pytest.mark.slow  # runs convert, then evaluate, as whole commands
def test_a_folder_of_studies_becomes_the_mrnet_layout(
    tmp_path: Path, make_package: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, root = tmp_path / "studies", tmp_path / "data"
    folder.mkdir()
    volumes = _studies(folder)
    labels = tmp_path / "labels.csv"
    labels.write_text("study,acl,meniscus\nknee-a,1,0\nknee-b,0,\nknee-c,1,1\n")
    args = ["convert", "--dicom", str(folder), "--out", str(root), "--size", "64"]
    assert main([*args, "--labels", str(labels)]) == 0
    assert "converted 3 studies, 1 failed" in capsys.readouterr().out

    for case_id, name in (("0000", "knee-a"), ("0001", "knee-b"), ("0002", "knee-c")):
        for plane in PLANES:
            saved = np.load(root / "valid" / plane / f"{case_id}.npy")
            assert np.array_equal(saved, volumes[name][plane]), (name, plane)
    with (root / "valid-series.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    used = [row for row in rows if row["case_id"]]
    assert {(r["case_id"], r["plane"], r["series_description"]) for r in used} >= {
        ("0000", "sagittal", "SAG T2 FS"),
        ("0002", "axial", "AX PD FS"),
    }
    [failed] = [row for row in rows if row["problem"]]
    assert failed["study"] == "knee-d" and "no usable axial or coronal series" in failed["problem"]

    reader = SplitReader(root, "valid", "acl", VolumeLimits(max_slices=64))
    assert reader.case_ids == ["0000", "0001", "0002"]
    assert list(reader.label_array()) == [1, 0, 1]
    assert (root / "valid-meniscus.csv").read_text() == "0000,0\n0002,1\n"
    index = index_dataset("converted", root, VolumeLimits(max_slices=64))
    cases = index.splits["valid"].cases
    assert sorted(cases) == ["0000", "0001", "0002"]
    assert all(not case.missing_planes for case in cases.values())

    make_package()
    report = tmp_path / "report.json"
    evaluate = ["evaluate", "--data", str(root), "--store", str(tmp_path / "store")]
    assert main([*evaluate, "--device", "cpu", "--json", str(report)]) == 0
    assert json.loads(report.read_text())["cases"] == 3


def test_a_bad_labels_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "studies").mkdir()
    labels = tmp_path / "labels.csv"
    labels.write_text("case,acl\nx,1\n")
    args = ["convert", "--dicom", str(tmp_path / "studies"), "--out", str(tmp_path / "out")]
    assert main([*args, "--labels", str(labels)]) == 1
    assert "no 'study' column" in capsys.readouterr().err
