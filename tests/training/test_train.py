"""One real (tiny) training run shared by the tests: 64x64 slices, one epoch of each stage."""

from __future__ import annotations

import argparse
import json
from argparse import Namespace
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from service.cli import main
from service.cli.train import float_list, parse_tasks
from service.datasets.reader import PlaneTruth, SplitReader
from service.model.preprocess import InputSpec
from service.store.loader import list_versions, load_package
from service.training.config import TrainConfig
from service.training.data import load_plane_data, slice_labels
from service.training.run import run_training
from service.training.stages import FindingRows, choose_head_c, fit_task_head, nuisance_labels

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
    assert np.array(restored["train_cv_logits"]) == pytest.approx(
        np.array(first["train_cv_logits"])
    )
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
    # the other planes, with another schedule and starting from the axial network's
    # backbone, in a second run: the package appears
    start = tmp_path / "run" / "{plane}.safetensors"
    rest = replace(
        config,
        planes=("coronal", "sagittal"),
        pretrain_epochs=1,
        backbone_weights=Path(str(start).replace("{plane}", "axial")),
    )
    assembled = run_training(rest, "the rest")
    assert assembled is not None
    planes = load_package(rest.out, "acl").manifest.training.model_extra["planes"]  # type: ignore[index]
    assert planes["axial"]["config"]["pretrain_epochs"] == 0
    assert planes["axial"]["config"]["backbone_weights"] is None
    assert planes["sagittal"]["config"]["pretrain_epochs"] == 1
    assert planes["sagittal"]["config"]["backbone_weights"].endswith("axial.safetensors")
    # a plane started from a plane trained here keeps that plane's record: both stages
    assert planes["sagittal"]["started_from"]["config"]["pretrain_epochs"] == 0
    assert "started_from" not in planes["axial"]
    # another seed is other training: nothing is reused, so no package
    other = replace(config, seed=1, planes=("coronal",))
    assert run_training(other, "other seed") is None


def test_slice_labels_from_ground_truth(tmp_path: Path) -> None:
    reader = SplitReader(write_tiny_dataset(tmp_path, 6, 1), "train", "acl")
    data = load_plane_data([reader], "sagittal", InputSpec(size=64), progress=False)
    assert data.has_slice_truth  # ACL truth without finding_slices pretrains the ACL alone
    refs = slice_labels(data, np.random.default_rng(0))
    positives = [(data.case_ids[r.case], r.index) for r in refs if r.targets == (1,)]
    # cases 0000 and 0003 are positive with tears in slices 3 and 4
    assert len(positives) == len(set(positives))
    assert sorted(set(positives)) == [
        ("0000", 3),
        ("0000", 4),
        ("0003", 3),
        ("0003", 4),
    ]
    hard = [r for r in refs if not r.positive and r.index in range(2, 6)]
    assert len(hard) == 6 * 4 - 4
    easy = [r for r in refs if not r.positive and r.index not in range(2, 6)]
    available = sum(volume.shape[0] for volume in data.volumes) - 6 * 4
    focal = 6 * 4  # every slice through the ligament, torn or not
    assert len(easy) == focal // 4 < available
    negatives = [r for r in refs if not r.positive]
    assert len(negatives) == len(set(negatives))
    more = slice_labels(data, np.random.default_rng(0), easy_per_hard=1.0)
    assert len([r for r in more if not r.positive and r.index not in range(2, 6)]) == min(
        available, focal
    )


def test_evaluate_command_writes_json(trained: tuple[TrainConfig, Path], tmp_path: Path) -> None:
    config, _ = trained
    out = tmp_path / "report.json"
    store, data = str(config.out), str(config.data)
    args = ["evaluate", "--data", data, "--store", store, "--version", "1", "--device", "cpu"]
    code = main([*args, "--json", str(out), "--bootstrap-rounds", "50"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["model"] == "acl/1" and list(report["tasks"]) == ["acl"]
    acl = report["tasks"]["acl"]
    for key in ("auc", "auc_ci95", "sensitivity", "specificity", "threshold"):
        assert key in acl
    # ACL-only ground truth: no finding slices, so only the ligament-range hit rates
    assert "attention_hit_rate" not in acl and 0.0 <= acl["ligament_hit_rate"] <= 1.0
    assert set(acl["planes"]["axial"]) >= {"auc", "ligament_hit_rate"}
    assert report["mrnet_mean_auc"] is None  # one task of three


def test_slice_labels_per_task_from_finding_slices(tmp_path: Path) -> None:
    root = write_tiny_dataset(tmp_path, 6, 1, findings=True)
    tasks = ("abnormal", "acl", "meniscus")
    readers = [SplitReader(root, "train", task) for task in tasks]
    data = load_plane_data(readers, "coronal", InputSpec(size=64), progress=False)
    assert data.labels.shape == (6, 3) and data.has_slice_truth
    refs = slice_labels(data, np.random.default_rng(0), easy_per_hard=0.0)
    targets = {(data.case_ids[r.case], r.index): r.targets for r in refs}
    assert len(targets) == len(refs)
    # 0000 and 0003 have an ACL tear in slices 3..4; 0001, 0003, 0005 a meniscal tear in 5..6
    assert targets[("0000", 3)] == (1, 1, 0) and targets[("0000", 5)] == (0, 0, 0)
    assert targets[("0003", 4)] == (1, 1, 0) and targets[("0003", 6)] == (1, 0, 1)
    assert targets[("0001", 5)] == (1, 0, 1) and targets[("0001", 3)] == (0, 0, 0)
    assert targets[("0002", 4)] == (0, 0, 0)  # a hard negative: through ligament and menisci
    # slices 2..6 cut the ligament or the menisci: all kept; no easy ones asked for
    assert {index for _, index in targets} == {2, 3, 4, 5, 6}
    assert len(targets) == len(refs) == 6 * 5


def test_a_head_fit_after_pretraining_keeps_the_pretrained_direction() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 256))
    labels = (features[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(np.int64)
    direction = np.zeros(256)
    direction[0], direction[1] = 2.0, 0.5
    weight, _ = fit_task_head(features, labels, direction)
    scale = weight[0] / direction[0]
    assert scale > 0 and weight == pytest.approx(direction * scale)
    # a free fit uses every feature
    free, _ = fit_task_head(features, labels, None)
    assert np.count_nonzero(free) > 200
    # a direction that ranks the exams the wrong way round falls back to the free fit
    backwards, _ = fit_task_head(features, labels, -direction)
    assert backwards == pytest.approx(free)


def test_the_free_head_fit_is_regularised_by_head_c() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 256))
    labels = (features[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(np.int64)
    weak, _ = fit_task_head(features, labels, None, c=0.01)
    strong, _ = fit_task_head(features, labels, None, c=10.0)
    assert np.linalg.norm(weak) < 0.5 * np.linalg.norm(strong)
    assert int(np.argmax(np.abs(weak))) == 0  # the one informative feature leads


def test_the_head_c_is_chosen_by_cross_validated_auc() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(80, 256))
    labels = (features[:, :3].sum(axis=1) + rng.normal(size=80) > 0).astype(np.int64)
    grid = (0.001, 0.01, 0.1, 1.0)
    chosen = choose_head_c(features, labels, grid)
    assert chosen in grid
    assert choose_head_c(features, labels, (0.3,)) == 0.3
    few = np.zeros(80, dtype=np.int64)
    few[0] = 1  # one positive: no two folds, the largest value
    assert choose_head_c(features, few, grid) == 1.0
    # the chosen value is the one the fit uses
    assert fit_task_head(features, labels, None, grid)[0] == pytest.approx(
        fit_task_head(features, labels, None, chosen)[0]
    )


def test_an_adjusted_head_does_not_read_a_finding_that_goes_with_its_own() -> None:
    rng = np.random.default_rng(2)
    n = 400
    own = rng.random(n) < 0.4  # the head's finding
    other = np.where(own, rng.random(n) < 0.8, rng.random(n) < 0.1)  # goes with it
    features = rng.normal(scale=0.5, size=(n, 256))
    features[:, 0] += 1.5 * own  # a feature of the head's own finding
    features[:, 1] += 3.0 * other  # a feature of the other finding only
    labels = own.astype(np.int64)
    free, _ = fit_task_head(features, labels, None, c=0.1)
    adjusted, _ = fit_task_head(features, labels, None, c=0.1, nuisance=other[:, None] * 1.0)
    assert free[1] > 0.3 * free[0]  # the free head leans on the other finding
    assert abs(adjusted[1]) < 0.25 * abs(free[1])
    assert adjusted[0] > 0 and int(np.argmax(np.abs(adjusted))) == 0


def _exams_with_a_correlate_elsewhere(
    seed: int, n: int = 300
) -> tuple[list[torch.Tensor], list[PlaneTruth], npt.NDArray[np.int64]]:
    """Volumes of 10 slices, 8 features: feature 0 marks the tear on slices 3-4 of the
    positive exams; feature 1, stronger, fires on slice 8 of most positive exams and
    some negative ones (an unlabelled finding that goes with the tear)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int64)
    slices, truths = [], []
    for label in labels:
        volume = rng.normal(scale=0.3, size=(10, 8))
        spans = {}
        if label:
            volume[3:5, 0] += 1.0 + rng.normal(scale=0.3)
            spans["meniscus_tear"] = [3, 4]
        if rng.random() < (0.8 if label else 0.15):
            volume[8, 1] += 3.0
        slices.append(torch.from_numpy(volume))
        truths.append(PlaneTruth(num_slices=10, finding_slices=spans))
    return slices, truths, labels


def _hit_rate(weight: npt.NDArray[np.float64], slices: list[torch.Tensor], labels: Any) -> float:
    """Share of positive exams whose slice with the largest contribution is 3 or 4."""
    hits = []
    for volume, label in zip(slices, labels, strict=True):
        if label:
            values, argmax = volume.double().max(dim=0)
            shares = np.zeros(len(volume))
            np.add.at(shares, argmax.numpy(), weight * values.numpy())
            hits.append(int(np.argmax(shares)) in (3, 4))
    return float(np.mean(hits))


def test_a_located_head_fit_puts_the_attention_on_the_finding_slices() -> None:
    slices, truths, labels = _exams_with_a_correlate_elsewhere(3)
    pooled = torch.stack([v.amax(dim=0) for v in slices]).numpy()  # (N, 8)
    located = FindingRows.of(slices, truths, "meniscus")
    assert located is not None and located.shown.tolist() == (labels == 1).tolist()
    plain, _ = fit_task_head(pooled, labels, None, c=0.1)
    fitted, _ = fit_task_head(pooled, labels, None, c=0.1, located=located)
    assert plain[1] > 0.3 * plain[0]  # the plain head leans on the correlate
    assert abs(fitted[1]) < 0.2 * abs(plain[1]) and fitted[0] > plain[0]
    test_slices, _, test_labels = _exams_with_a_correlate_elsewhere(4)
    assert _hit_rate(plain, test_slices, test_labels) < 0.6  # 0.49
    assert _hit_rate(fitted, test_slices, test_labels) > 0.85  # 0.93


def test_located_rows_come_from_positive_exams_whose_finding_shows() -> None:
    slices = [torch.arange(12.0).reshape(4, 3) + i for i in range(4)]  # (4 slices, 3)
    truths = [
        PlaneTruth(num_slices=4, finding_slices={"meniscus_tear": [1, 2]}),
        PlaneTruth(num_slices=4, finding_slices={}),
        PlaneTruth(num_slices=4, finding_slices={"meniscus_tear": [0, 3]}),  # every slice
        None,
    ]
    assert FindingRows.of(slices, truths, "abnormal") is None
    assert FindingRows.of(slices, truths, "acl") is None  # no acl tear shows
    located = FindingRows.of(slices, truths, "meniscus")
    assert located is not None and located.shown.tolist() == [True, False, False, False]
    assert located.inside[0].tolist() == [6.0, 7.0, 8.0]  # slice 2, the last of the tear
    assert located.outside[0].tolist() == [9.0, 10.0, 11.0]  # slice 3
    pooled = torch.stack([v.amax(dim=0) for v in slices]).double().numpy()
    labels = np.array([1, 0, 1, 0])
    x, y, others = located.extra_rows(pooled, labels, np.ones((4, 1)))
    assert y.tolist() == [0, 1] and others is not None and others.shape == (2, 1)
    assert x[0].tolist() == [9.0, 10.0, 11.0]
    partner = [i for i in (1, 3) if np.array_equal(x[1], np.maximum(pooled[i], [6, 7, 8]))]
    assert partner  # the tear's slices pasted into a negative exam
    assert located.subset(np.array([1, 3])).shown.tolist() == [False, False]
    none, _, _ = located.subset(np.array([1, 3])).extra_rows(pooled[[1, 3]], labels[[1, 3]], None)
    assert none.shape == (0, 3)


def test_each_task_is_adjusted_for_the_other_specific_findings() -> None:
    labels = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=np.int64)
    tasks = ("abnormal", "acl", "meniscus")
    assert nuisance_labels(tasks, labels, 0) is None  # every finding is evidence of abnormal
    acl = nuisance_labels(tasks, labels, 1)
    meniscus = nuisance_labels(tasks, labels, 2)
    assert acl is not None and acl.tolist() == [[0.0], [1.0], [0.0]]
    assert meniscus is not None and meniscus.tolist() == [[1.0], [0.0], [0.0]]
    assert nuisance_labels(("acl",), labels[:, 1:2], 0) is None


def test_head_fit_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="head_fit"):
        TrainConfig(data=tmp_path, head_fit="sideways")
    with pytest.raises(ValueError, match="head_c"):
        TrainConfig(data=tmp_path, head_c=(0.1, 0.0))
    with pytest.raises(ValueError, match="head_c"):
        TrainConfig(data=tmp_path, head_c=())
    assert float_list("0.01, 0.1") == (0.01, 0.1)
    with pytest.raises(argparse.ArgumentTypeError):
        float_list("a,b")
    assert TrainConfig(data=tmp_path).fingerprint()["head_fit"] == "located"


@pytest.mark.parametrize("head_fit", ["located", "adjusted", "free", "direction"])
def test_after_pretraining_the_head_is_refitted_as_asked(tmp_path: Path, head_fit: str) -> None:
    data = write_tiny_dataset(tmp_path / "data", 8, 6, findings=True)
    config = TrainConfig(
        data=data,
        tasks=("acl", "meniscus"),
        out=tmp_path / "store",
        planes=("axial",),
        epochs=0,
        pretrain_epochs=1,
        device="cpu",
        work_dir=tmp_path / "run",
        progress=False,
        spec=InputSpec(size=64),
        head_fit=head_fit,
    )
    assert run_training(config, "mrnet train --planes axial") is None  # one plane of three
    record = json.loads((tmp_path / "run" / "axial.json").read_text())
    assert record["pretrained_on_slices"] and record["head_fit"] == head_fit
    assert record["config"]["head_fit"] == head_fit
    for task in ("acl", "meniscus"):  # each task's L2 strength, chosen from the grid
        c = record["head_c"][task]
        assert c is None if head_fit == "direction" else c in config.head_c


def test_train_tasks_writes_one_package_with_a_head_per_task(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data", 8, 6, findings=True)
    store, work = tmp_path / "store", tmp_path / "run"
    # what `mrnet train --tasks meniscus,acl,abnormal` runs (at 64 pixels: the CLI's 256 is slow)
    tasks = parse_tasks(Namespace(tasks="meniscus,acl,abnormal", task=None))
    assert tasks == ("meniscus", "acl", "abnormal")
    config = TrainConfig(data=data, tasks=tasks, spec=InputSpec(size=64))
    assert config.package_name == "triage"
    config = replace(
        config,
        out=store,
        epochs=1,
        pretrain_epochs=1,
        device="cpu",
        work_dir=work,
        progress=False,
        bootstrap_rounds=20,
        head_exams=6,
    )
    assembled = run_training(config, "mrnet train --tasks meniscus,acl,abnormal")
    assert assembled is not None and assembled.path == store / "triage" / "1"
    package = load_package(store, "triage")
    manifest = package.manifest
    assert manifest.task_names == ("meniscus", "acl", "abnormal")  # the classifier row order
    assert all(net.num_tasks == 3 for net in package.planes.values())
    assert manifest.training.stages[0] == "pretrain-slices"
    for head in manifest.tasks:
        assert head.threshold.split == "valid" and 0.0 <= head.threshold.value <= 1.0
        assert head.metrics.model_extra["task"] == head.task  # type: ignore[index]
        assert set(head.metrics.planes) == {"axial", "coronal", "sagittal"}
        assert head.metrics.auc is not None
    # each task's fusion is its own, fitted on its own labels
    fusions = {head.task: head.fusion for head in manifest.tasks}
    assert fusions["acl"] != fusions["meniscus"]
    record = json.loads((work / "axial.json").read_text())
    assert len(record["fit_cases"]) == 6 and np.array(record["train_cv_logits"]).shape == (6, 3)
    assert np.array(record["valid_logits"]).shape == (6, 3)
    report = assembled.report
    assert set(report["tasks"]) == {"meniscus", "acl", "abnormal"}
    assert report["mrnet_mean_auc"] == pytest.approx(
        np.mean([report["tasks"][t]["auc"] for t in ("abnormal", "acl", "meniscus")])
    )
    # the packaged planes score valid as training did (the cached features are the package's)
    for row in range(len(manifest.task_names)):
        with torch.no_grad():
            logits = [package.planes["axial"](v)[0, row] for v in _valid_volumes(data, "axial")]
        assert np.array(record["valid_logits"])[:, row] == pytest.approx(
            [float(x) for x in logits], abs=1e-3
        )


def _valid_volumes(root: Path, plane: str) -> list[torch.Tensor]:
    from service.model.preprocess import prepare_volume

    reader = SplitReader(root, "valid", "acl")
    spec = InputSpec(size=64)
    return [prepare_volume(reader.volume(c, plane), spec).slices for c in reader.case_ids]  # type: ignore[arg-type]


def test_task_options_and_package_names(tmp_path: Path) -> None:
    assert parse_tasks(Namespace(tasks=None, task=None)) == ("acl",)
    assert parse_tasks(Namespace(tasks=None, task="meniscus")) == ("meniscus",)
    with pytest.raises(SystemExit):
        parse_tasks(Namespace(tasks="acl,acl", task=None))
    assert TrainConfig(data=tmp_path, tasks=("meniscus",)).package_name == "meniscus"
    assert TrainConfig(data=tmp_path, tasks=("acl", "meniscus"), name="knee").package_name == "knee"


def test_backbone_weights_can_name_one_file_per_plane(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from service.model.network import MRNetPlane
    from service.training.trainer import load_backbone, plane_path

    torch.manual_seed(0)
    sources = {plane: MRNetPlane() for plane in ("axial", "coronal", "sagittal")}
    for plane, net in sources.items():
        save_file(
            {k: v.contiguous() for k, v in net.state_dict().items()},
            tmp_path / f"{plane}.safetensors",
        )
    pattern = tmp_path / "{plane}.safetensors"
    assert plane_path(pattern, "coronal") == tmp_path / "coronal.safetensors"
    three = MRNetPlane(3)  # the tasks' heads are not taken from the file
    load_backbone(three, plane_path(pattern, "coronal"))
    for name, tensor in three.features.state_dict().items():
        assert torch.equal(tensor, sources["coronal"].features.state_dict()[name])
        assert not torch.equal(tensor, sources["axial"].features.state_dict()[name])
