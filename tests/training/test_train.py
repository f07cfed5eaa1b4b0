"""One real (tiny) training run shared by the tests: 64x64 slices, one epoch of each stage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.datasets.reader import SplitReader
from service.model.preprocess import InputSpec
from service.store.loader import list_versions, load_package
from service.training.data import load_plane_data, slice_labels
from service.training.run import run_training
from service.training.trainer import TrainConfig

from factories import write_tiny_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainConfig, Path]:
    root = tmp_path_factory.mktemp("train")
    config = TrainConfig(
        data=write_tiny_dataset(root / "data", 6, 4),
        out=root / "store",
        epochs=1,
        pretrain_epochs=1,
        device="cpu",
        work_dir=root / "run",
        progress=False,
        bootstrap_rounds=50,
        spec=InputSpec(size=64),
    )
    assembled = run_training(config, "mrnet train --test")
    assert assembled is not None
    return config, assembled.path


def test_training_writes_a_loadable_verified_package(trained: tuple[TrainConfig, Path]) -> None:
    config, path = trained
    package = load_package(config.out, "acl")
    assert package.path == path and path.name == "1"
    manifest = package.manifest
    assert manifest.training.source == "trained"
    assert manifest.training.stages == [
        "pretrain-slices",
        "fit-head",
        "finetune-mrnet",
        "fit-fusion",
        "choose-threshold",
    ]
    assert manifest.training.command == "mrnet train --test"
    assert manifest.tasks[0].threshold.split == "valid"
    assert 0.0 <= manifest.tasks[0].threshold.value <= 1.0
    assert manifest.tasks[0].metrics.auc is not None and manifest.tasks[0].metrics.split == "valid"
    assert set(manifest.tasks[0].metrics.planes) == {"axial", "coronal", "sagittal"}
    assert "synthetic" in manifest.intended_use
    fitted_on = manifest.training.model_extra["fusion_fitted_on"]  # type: ignore[index]
    assert fitted_on.startswith("train logits, out-of-fold")


def test_resume_reuses_finished_planes(trained: tuple[TrainConfig, Path]) -> None:
    config, _ = trained
    first = json.loads((config.work_dir / "sagittal.json").read_text())
    assert len(first["train_cv_logits"]) == 6
    # a record from before out-of-fold logits were kept gets them computed and saved
    old = {k: v for k, v in first.items() if k != "train_cv_logits"}
    old["config"] = {k: v for k, v in first["config"].items() if k != "easy_per_hard"}
    (config.work_dir / "sagittal.json").write_text(json.dumps(old))
    again = run_training(
        TrainConfig(**{**config.__dict__, "resume": True, "planes": ("sagittal",)}), "again"
    )
    assert again is not None and again.path.name == "2"
    restored = json.loads((config.work_dir / "sagittal.json").read_text())
    assert restored["train_cv_logits"] == pytest.approx(first["train_cv_logits"])
    assert restored["train_logits"] == first["train_logits"]
    assert list_versions(config.out, "acl") == ["1", "2"]


def test_a_plane_subset_leaves_no_package_until_all_exist(tmp_path: Path) -> None:
    config = TrainConfig(
        data=write_tiny_dataset(tmp_path / "data", 4, 3),
        out=tmp_path / "store",
        epochs=0,
        pretrain_epochs=0,
        device="cpu",
        work_dir=tmp_path / "run",
        progress=False,
        planes=("axial",),
        bootstrap_rounds=0,
        spec=InputSpec(size=64),
    )
    assert run_training(config, "subset") is None
    assert (tmp_path / "run" / "axial.safetensors").is_file()
    assert list_versions(tmp_path / "store", "acl") == []
    # the other planes, with another schedule, in a second run: the package appears
    rest = replace(config, planes=("coronal", "sagittal"), pretrain_epochs=1)
    assembled = run_training(rest, "the rest")
    assert assembled is not None
    planes = load_package(rest.out, "acl").manifest.training.model_extra["planes"]  # type: ignore[index]
    assert planes["axial"]["config"]["pretrain_epochs"] == 0
    assert planes["sagittal"]["config"]["pretrain_epochs"] == 1
    # another seed is other training: nothing is reused, so no package
    other = replace(config, seed=1, planes=("coronal",))
    assert run_training(other, "other seed") is None


def test_slice_labels_from_ground_truth(tmp_path: Path) -> None:
    reader = SplitReader(write_tiny_dataset(tmp_path, 6, 1), "train", "acl")
    data = load_plane_data(reader, "sagittal", InputSpec(size=64), progress=False)
    refs = slice_labels(data, np.random.default_rng(0))
    positives = [(data.case_ids[r.case], r.index) for r in refs if r.label == 1]
    # cases 0000 and 0003 are positive with tears in slices 3 and 4
    assert len(positives) == len(set(positives))
    assert sorted(set(positives)) == [
        ("0000", 3),
        ("0000", 4),
        ("0003", 3),
        ("0003", 4),
    ]
    hard = [r for r in refs if r.label == 0 and r.index in range(2, 6)]
    assert len(hard) == 6 * 4 - 4
    easy = [r for r in refs if r.label == 0 and r.index not in range(2, 6)]
    available = sum(volume.shape[0] for volume in data.volumes) - 6 * 4
    assert len(easy) == len(hard) // 4 < available
    negatives = [r for r in refs if r.label == 0]
    assert len(negatives) == len(set(negatives))
    more = slice_labels(data, np.random.default_rng(0), easy_per_hard=1.0)
    assert len([r for r in more if r.label == 0 and r.index not in range(2, 6)]) == min(
        available, len(hard)
    )


def test_evaluate_command_writes_json(trained: tuple[TrainConfig, Path], tmp_path: Path) -> None:
    config, _ = trained
    out = tmp_path / "report.json"
    store, data = str(config.out), str(config.data)
    args = ["evaluate", "--data", data, "--store", store, "--version", "1", "--device", "cpu"]
    code = main([*args, "--json", str(out), "--bootstrap-rounds", "50"])
    assert code == 0
    report = json.loads(out.read_text())
    for key in ("auc", "sensitivity", "specificity", "threshold", "attention_hit_rate"):
        assert key in report
    assert report["model"] == "acl/1"
    assert set(report["planes"]["axial"]) >= {"auc", "attention_hit_rate"}
