"""The written data set: MRNet-v1.0 layout, labels, ground truth, determinism, refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.datasets.layout import read_labels
from service.domain import PLANES, TASKS
from service.synth.generate import generate_dataset


@dataclass(frozen=True)
class SynthSet:
    root: Path
    n_train: int
    n_valid: int
    seed: int

    @property
    def ids(self) -> dict[str, list[str]]:
        train = [f"{i:04d}" for i in range(self.n_train)]
        valid = [f"{i:04d}" for i in range(self.n_train, self.n_train + self.n_valid)]
        return {"train": train, "valid": valid}

    def meta(self, split: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.root / f"{split}-meta.json").read_text())
        return document

    def files(self) -> list[Path]:
        return sorted(p.relative_to(self.root) for p in self.root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSet:
    out = tmp_path_factory.mktemp("synth") / "data"
    generate_dataset(out, n_train=4, n_valid=2, seed=7, workers=1, progress=False)
    return SynthSet(out, 4, 2, 7)


def test_layout_has_exactly_the_mrnet_files(synth: SynthSet) -> None:
    expected = {f"{s}-{t}.csv" for s in synth.ids for t in TASKS}
    expected |= {f"{s}-meta.json" for s in synth.ids}
    expected |= {f"{s}/{p}/{i}.npy" for s, ids in synth.ids.items() for p in PLANES for i in ids}
    assert {str(p) for p in synth.files()} == expected
    assert synth.ids["valid"] == ["0004", "0005"]  # valid ids continue from train


def test_label_files_are_headerless_and_match_meta(synth: SynthSet) -> None:
    for split, ids in synth.ids.items():
        meta = synth.meta(split)
        assert meta["generator"] == "mrnet-synth" and meta["generator_version"] == 3
        assert meta["seed"] == synth.seed and meta["split"] == split
        assert list(meta["cases"]) == ids
        for task in TASKS:
            path = synth.root / f"{split}-{task}.csv"
            first = meta["cases"][ids[0]]["labels"][task]
            assert path.read_text().splitlines()[0] == f"{ids[0]},{first}"  # no header
            expected = {i: meta["cases"][i]["labels"][task] for i in ids}
            assert read_labels(path) == expected


def test_labels_follow_findings(synth: SynthSet) -> None:
    for split in synth.ids:
        for case in synth.meta(split)["cases"].values():
            findings, labels = set(case["findings"]), case["labels"]
            assert labels["acl"] == int("acl_tear" in findings)
            assert labels["meniscus"] == int("meniscus_tear" in findings)
            abnormal = findings & {"acl_tear", "meniscus_tear", "effusion", "bone_bruise"}
            assert labels["abnormal"] == int(bool(abnormal))
            assert not {"acl_tear", "acl_degeneration"} <= findings


def test_volumes_are_uint8_c_order_256_with_mrnet_slice_counts(synth: SynthSet) -> None:
    for split, ids in synth.ids.items():
        cases = synth.meta(split)["cases"]
        for case_id in ids:
            counts = set()
            for plane in PLANES:
                path = synth.root / split / plane / f"{case_id}.npy"
                volume = np.load(path, allow_pickle=False)
                assert volume.dtype == np.uint8 and volume.flags.c_contiguous
                assert volume.shape[1:] == (256, 256) and 17 <= volume.shape[0] <= 61
                assert cases[case_id]["planes"][plane]["num_slices"] == volume.shape[0]
                assert volume.max() > 200 and volume.mean() > 10  # an image, not an empty volume
                counts.add(volume.shape[0])
            assert len(counts) > 1  # the planes of one exam differ in slice count


def test_ground_truth_slices_are_consistent(synth: SynthSet) -> None:
    for split in synth.ids:
        for case in synth.meta(split)["cases"].values():
            assert list(case["planes"]) == ["sagittal", "coronal", "axial"]
            for plane, truth in case["planes"].items():
                first, last = truth["acl_slices"]
                assert 0 <= first <= last < truth["num_slices"]
                tears = truth["tear_slices"]
                assert tears == sorted(set(tears))
                assert all(first <= s <= last for s in tears)
                if plane == "sagittal":
                    assert bool(tears) == bool(case["labels"]["acl"])
                spans = truth["finding_slices"]
                # a finding shows in a series only if the case has it
                assert set(spans) <= set(case["findings"]) - {"acl_degeneration"}
                assert ("acl_tear" in spans) == bool(tears)
                for low, high in spans.values():
                    assert 0 <= low <= high < truth["num_slices"]
            # each finding of the case shows in at least one of its series
            shown = {name for truth in case["planes"].values() for name in truth["finding_slices"]}
            assert shown == set(case["findings"]) - {"acl_degeneration"}


def test_same_seed_gives_identical_bytes_whatever_the_workers(
    synth: SynthSet, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    generate_dataset(again, synth.n_train, synth.n_valid, synth.seed, workers=2, progress=False)
    assert synth.files() == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in synth.files():
        assert (synth.root / name).read_bytes() == (again / name).read_bytes(), name


def test_another_seed_gives_other_data(synth: SynthSet, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_dataset(other, n_train=1, n_valid=0, seed=synth.seed + 1, workers=1, progress=False)
    for plane in PLANES:
        ours = (synth.root / "train" / plane / "0000.npy").read_bytes()
        assert (other / "train" / plane / "0000.npy").read_bytes() != ours


def test_refuses_an_out_dir_that_is_not_empty(synth: SynthSet) -> None:
    before = synth.files()
    with pytest.raises(ValueError, match="not an empty directory"):
        generate_dataset(synth.root, 1, 0, seed=0, progress=False)
    assert synth.files() == before


def test_writes_into_an_existing_empty_dir(tmp_path: Path) -> None:
    summary = generate_dataset(tmp_path, n_train=1, n_valid=0, seed=0, progress=False)
    assert (tmp_path / "train" / "sagittal" / "0000.npy").is_file()
    assert summary.cases == {"train": 1, "valid": 0}
    assert str(tmp_path) in summary.describe()


@pytest.mark.parametrize(("n_train", "n_valid", "name"), [(0, 1, "n_train"), (1, -1, "n_valid")])
def test_refuses_bad_counts(tmp_path: Path, n_train: int, n_valid: int, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        generate_dataset(tmp_path / "out", n_train, n_valid, seed=0, progress=False)
    assert not (tmp_path / "out").exists()
