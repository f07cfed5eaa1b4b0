"""The data set index: built from label files and .npy headers, tolerant of what is missing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.datasets.catalog import Catalog, SplitIndex
from service.datasets.index import build_catalog, index_dataset
from service.datasets.npy import VolumeLimits
from service.domain import PLANES
from service.errors import DatasetError, InvalidExamError, InvalidQueryError

from factories import write_tiny_dataset

LIMITS = VolumeLimits(max_slices=16)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_tiny_dataset(tmp_path / "tiny", n_train=4, n_valid=3)


def _split(root: Path, split: str = "valid") -> SplitIndex:
    return index_dataset("tiny", root, LIMITS).splits[split]


def test_every_case_gets_labels_shapes_and_ground_truth(root: Path) -> None:
    dataset = index_dataset("tiny", root, LIMITS)
    assert dataset.available and dataset.problem is None
    assert list(dataset.splits) == ["train", "valid"]
    valid = dataset.splits["valid"]
    assert list(valid.cases) == ["0004", "0005", "0006"]
    assert valid.tasks == ("abnormal", "acl", "meniscus") and valid.has_ground_truth
    for case_id, case in valid.cases.items():
        label = int(int(case_id) % 3 == 0)  # write_tiny_dataset's rule
        assert case.labels == {"abnormal": label, "acl": label, "meniscus": label}
        for plane in PLANES:
            volume = np.load(root / "valid" / plane / f"{case_id}.npy")
            shape = case.planes[plane]
            assert shape is not None
            assert (shape.num_slices, shape.height, shape.width) == volume.shape
        assert case.acl_slices == dict.fromkeys(PLANES, (2, 5))
        assert case.missing_planes == []


def test_a_missing_label_file_leaves_that_task_unknown(root: Path) -> None:
    (root / "valid-meniscus.csv").unlink()
    (root / "valid-acl.csv").write_text("0004,1\n")  # 0005 and 0006 are not listed
    valid = _split(root)
    assert valid.tasks == ("abnormal", "acl")
    assert [c.labels["meniscus"] for c in valid.cases.values()] == [None, None, None]
    assert [c.labels["acl"] for c in valid.cases.values()] == [1, None, None]


def test_a_missing_plane_file_is_recorded_and_the_case_kept(root: Path) -> None:
    (root / "valid" / "sagittal" / "0005.npy").unlink()
    case = _split(root).case("0005")
    assert case.planes["sagittal"] is None
    assert case.missing_planes == ["sagittal"]
    assert case.planes["axial"] is not None


def test_a_malformed_header_marks_the_plane_missing_and_is_logged(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (root / "valid" / "coronal" / "0006.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    np.save(root / "valid" / "axial" / "0006.npy", np.zeros((2, 64), np.uint8))  # 2-D
    with caplog.at_level(logging.WARNING, logger="mrnet.datasets"):
        case = _split(root).case("0006")
    assert case.missing_planes == ["axial", "coronal"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "coronal/0006.npy" in logged and "axial/0006.npy" in logged


def test_extra_files_are_ignored(root: Path) -> None:
    folder = root / "valid" / "axial"
    (folder / "notes.txt").write_text("not a volume")
    (folder / "scan.npy").write_bytes(b"not a case id")
    (folder / "0004.npy.bak").write_bytes(b"backup")
    (folder / "9999.npy").mkdir()  # a folder with a case-id name
    (root / "valid" / "extra").mkdir()
    (root / "test").mkdir()
    (root / "README").write_text("hello")
    dataset = index_dataset("tiny", root, LIMITS)
    assert list(dataset.splits) == ["train", "valid"]
    assert list(dataset.splits["valid"].cases) == ["0004", "0005", "0006"]


def test_case_ids_are_the_union_of_label_and_volume_files(root: Path) -> None:
    with (root / "valid-acl.csv").open("a") as handle:
        handle.write("0100,1\n")  # labelled, no volumes
    np.save(root / "valid" / "axial" / "0200.npy", np.zeros((3, 64, 64), np.uint8))  # no labels
    valid = _split(root)
    assert list(valid.cases) == ["0004", "0005", "0006", "0100", "0200"]
    assert valid.case("0100").missing_planes == list(PLANES)
    assert valid.case("0100").labels["acl"] == 1 and valid.case("0100").acl_slices is None
    assert valid.case("0200").labels == {"abnormal": None, "acl": None, "meniscus": None}
    assert valid.case("0200").missing_planes == ["coronal", "sagittal"]


def test_a_malformed_label_file_or_ground_truth_is_skipped(root: Path) -> None:
    (root / "valid-acl.csv").write_text("id,label\n0004,1\n")
    (root / "valid-meta.json").write_text("{not json")
    valid = _split(root)
    assert "acl" not in valid.tasks and not valid.has_ground_truth
    assert valid.case("0004").acl_slices is None


def test_a_missing_root_is_reported_not_raised(tmp_path: Path, root: Path) -> None:
    catalog = build_catalog({"tiny": root, "gone": tmp_path / "nowhere"}, LIMITS)
    gone = catalog.datasets["gone"]
    assert not gone.available and gone.splits == {}
    assert gone.problem == f"The data set root {tmp_path / 'nowhere'} does not exist."
    assert catalog.datasets["tiny"].available
    with pytest.raises(DatasetError, match="not available"):
        catalog.split("gone", "valid")


def test_a_root_without_splits_is_available_and_says_so(tmp_path: Path) -> None:
    dataset = index_dataset("empty", tmp_path, LIMITS)
    assert dataset.available and dataset.splits == {}
    assert dataset.problem is not None and "no train or valid split" in dataset.problem


def test_a_split_with_labels_only_is_listed(root: Path) -> None:
    shutil.rmtree(root / "train")
    train = _split(root, "train")
    assert len(train.cases) == 4
    assert all(case.missing_planes == list(PLANES) for case in train.cases.values())


def test_indexing_reads_headers_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("a whole volume was read")

    monkeypatch.setattr(np, "load", refuse)
    monkeypatch.setattr(np, "fromfile", refuse)
    monkeypatch.setattr(np, "frombuffer", refuse)
    monkeypatch.setattr(np, "memmap", refuse)
    assert len(_split(root).cases) == 3


@pytest.fixture
def catalog(root: Path) -> Catalog:
    return build_catalog({"tiny": root}, LIMITS)


@pytest.mark.parametrize(
    ("dataset", "split", "says"),
    [("other", "valid", "no data set 'other'"), ("tiny", "test", "no split 'test'")],
)
def test_unknown_names_are_refused(catalog: Catalog, dataset: str, split: str, says: str) -> None:
    with pytest.raises(DatasetError, match=says):
        catalog.split(dataset, split)


@pytest.mark.parametrize("case_id", ["..", "../0004", "/etc/passwd", "0004/", "4", "0099"])
def test_only_indexed_case_ids_are_found(catalog: Catalog, case_id: str) -> None:
    with pytest.raises(DatasetError, match="There is no case"):
        catalog.split("tiny", "valid").case(case_id)


def test_plane_lookups_check_the_plane_and_the_slice(catalog: Catalog, root: Path) -> None:
    valid = catalog.split("tiny", "valid")
    ref = valid.plane("0004", "axial")
    assert ref.path == root / "valid" / "axial" / "0004.npy"
    assert ref.check_slice(ref.shape.num_slices - 1) == ref.shape.num_slices - 1
    with pytest.raises(DatasetError, match=f"slices 0 to {ref.shape.num_slices - 1}"):
        ref.check_slice(ref.shape.num_slices)
    with pytest.raises(DatasetError, match="slices 0 to"):
        ref.check_slice(-1)
    with pytest.raises(DatasetError, match="'femur' is not a plane"):
        valid.plane("0004", "femur")


def test_label_filters_select_cases_and_refuse_unlabelled_tasks(root: Path) -> None:
    (root / "valid-meniscus.csv").unlink()
    valid = _split(root)
    assert [c.case_id for c in valid.select({"acl": 1})] == ["0006"]
    assert [c.case_id for c in valid.select({"acl": 0, "abnormal": 0})] == ["0004", "0005"]
    assert [c.case_id for c in valid.select({})] == ["0004", "0005", "0006"]
    with pytest.raises(InvalidQueryError, match="no meniscus labels") as raised:
        valid.select({"meniscus": 1})
    assert raised.value.field == "meniscus"


def test_volume_paths_name_a_missing_plane(root: Path) -> None:
    (root / "valid" / "coronal" / "0005.npy").unlink()
    valid = _split(root)
    assert set(valid.volume_paths("0004")) == set(PLANES)
    with pytest.raises(InvalidExamError, match="coronal volume of case 0005") as raised:
        valid.volume_paths("0005")
    assert [volume.plane for volume in raised.value.volumes] == ["coronal"]


def test_volume_paths_name_every_missing_plane(root: Path) -> None:
    for plane in ("axial", "sagittal"):
        (root / "valid" / plane / "0005.npy").unlink()
    with pytest.raises(InvalidExamError) as raised:
        _split(root).volume_paths("0005")
    assert [volume.plane for volume in raised.value.volumes] == ["axial", "sagittal"]
    assert "axial volume" in str(raised.value) and "sagittal volume" in str(raised.value)
