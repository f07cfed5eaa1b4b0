"""Slice-level truth from <split>-meta.json: finding_slices where present, older files too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.datasets.reader import PlaneTruth, SplitReader, read_truth
from service.errors import DatasetError

from factories import write_tiny_dataset


def test_finding_slices_say_which_slices_show_each_task(tmp_path: Path) -> None:
    reader = SplitReader(write_tiny_dataset(tmp_path, 4, 2, findings=True), "train", "acl")
    torn = reader.plane_truth("0003", "axial")  # ACL tear 3..4 and meniscal tear 5..6
    assert torn is not None and torn.has_findings
    assert [i for i in range(7) if torn.shows("acl", i)] == [3, 4]
    assert [i for i in range(7) if torn.shows("meniscus", i)] == [5, 6]
    assert [i for i in range(7) if torn.shows("abnormal", i)] == [3, 4, 5, 6]
    assert [i for i in range(7) if torn.in_menisci(i)] == [4, 5, 6]
    intact = reader.plane_truth("0002", "axial")
    assert intact is not None and not any(intact.shows("abnormal", i) for i in range(7))


def test_an_older_data_set_without_finding_slices_stays_readable(tmp_path: Path) -> None:
    reader = SplitReader(write_tiny_dataset(tmp_path, 4, 2), "train", "acl")
    truth = reader.plane_truth("0003", "coronal")
    assert truth is not None and not truth.has_findings
    assert truth.tear_slices == [3, 4] and truth.in_acl(2) and not truth.in_menisci(4)
    assert not truth.shows("acl", 3)  # no finding truth: nothing is claimed


def test_a_span_is_first_and_last(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PlaneTruth(num_slices=9, meniscus_slices=[1, 2, 3])
    with pytest.raises(ValueError):
        PlaneTruth(num_slices=9, finding_slices={"acl_tear": [1, 2, 3]})
    root = write_tiny_dataset(tmp_path, 2, 1, findings=True)
    meta = json.loads((root / "train-meta.json").read_text())
    meta["cases"]["0000"]["planes"]["axial"]["finding_slices"] = {"acl_tear": "3-4"}
    (root / "train-meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="ground truth"):
        read_truth(root, "train")
