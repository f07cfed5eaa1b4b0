from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from service.cli import main
from service.datasets.reader import SplitReader
from service.domain import PLANES, Plane
from service.evaluation.plots import figure_pixels
from service.evaluation.report import (
    CaseScore,
    PlaneScore,
    Scorer,
    TaskScorer,
    attention_hit_rates,
    evaluate,
)
from service.model.attribution import SliceAttribution
from service.model.fusion import Fusion
from service.model.preprocess import InputSpec, prepare_volume
from service.store.loader import load_package
from service.store.writer import write_package

from factories import draft, random_states, write_tiny_dataset

FLAT = Fusion(coefficients={"axial": 1.0, "coronal": 1.0, "sagittal": 1.0}, intercept=0)


def _plane(logit: float, top: list[int], share: float = 1.0) -> PlaneScore:
    attention = [0.0] * 9
    for index in top:
        attention[index] = 1.0 / len(top)
    contributions = [share * a for a in attention]
    return PlaneScore(logit, SliceAttribution(logit, 0.0, contributions, attention, top))


def _case(case_id: str, label: int, tops: dict[Plane, list[int]], logits: dict[Plane, float]):  # type: ignore[no-untyped-def]
    return CaseScore(case_id, label, {p: _plane(logits[p], tops[p]) for p in PLANES}, 0.5)


def test_acl_hit_rates_count_the_tear_slices_and_the_ligament_range(tmp_path: Path) -> None:
    # the ACL cuts slices 2..5 of every plane, the tear shows in 3..4; valid ACL positives 9, 12
    reader = SplitReader(write_tiny_dataset(tmp_path, 8, 6, findings=True), "valid", "acl")
    cases = [
        _case("0009", 1, {"axial": [3], "coronal": [5], "sagittal": [7]}, dict.fromkeys(PLANES, 1)),
        _case("0012", 1, {"axial": [4], "coronal": [2], "sagittal": [4]}, dict.fromkeys(PLANES, 1)),
        _case("0010", 0, {p: [0] for p in PLANES}, dict.fromkeys(PLANES, 0.1)),
    ]
    rates = attention_hit_rates(reader, FLAT, cases)
    # on the tear: axial both, coronal neither (5 and 2 cut the ligament, not the tear)
    assert rates["finding"] == {
        "axial": 1.0,
        "coronal": 0.0,
        "sagittal": 0.5,
        "fused": 1.0,  # the first of equal shares over the planes: axial
        "leading_plane": 1.0,
    }
    assert rates["ligament"]["coronal"] == 1.0 and rates["ligament"]["sagittal"] == 0.5


def test_meniscus_and_abnormal_hit_rates_read_their_findings(tmp_path: Path) -> None:
    # valid 0009 (ACL and meniscal tears), 0011 and 0013 (meniscal tear); tears 5..6, ACL 3..4
    root = write_tiny_dataset(tmp_path, 8, 6, findings=True)
    tops: dict[str, dict[Plane, list[int]]] = {
        "0009": {"axial": [3], "coronal": [5], "sagittal": [0]},
        "0011": {"axial": [6], "coronal": [3], "sagittal": [5]},
        "0013": {"axial": [2], "coronal": [6], "sagittal": []},
    }
    logits: dict[Plane, float] = {"axial": 0.1, "coronal": 2.0, "sagittal": 0.5}
    cases = [_case(c, 1, t, logits) for c, t in tops.items()]
    meniscus = attention_hit_rates(SplitReader(root, "valid", "meniscus"), FLAT, cases)
    assert meniscus["finding"]["axial"] == pytest.approx(1 / 3)
    assert meniscus["finding"]["coronal"] == pytest.approx(2 / 3)
    assert meniscus["finding"]["sagittal"] == pytest.approx(1 / 3)  # no top slice is a miss
    assert meniscus["finding"]["leading_plane"] == pytest.approx(2 / 3)  # coronal leads
    assert "ligament" not in meniscus
    abnormal = attention_hit_rates(SplitReader(root, "valid", "abnormal"), FLAT, cases)
    # for abnormal any finding counts: 0009's axial slice 3 shows its ACL tear
    assert abnormal["finding"]["axial"] == pytest.approx(2 / 3)


def test_no_finding_truth_gives_no_finding_hit_rate(tmp_path: Path) -> None:
    reader = SplitReader(write_tiny_dataset(tmp_path, 8, 6), "valid", "meniscus")
    cases = [_case("0009", 1, {p: [3] for p in PLANES}, dict.fromkeys(PLANES, 1.0))]
    assert attention_hit_rates(reader, FLAT, cases) == {}


def _three_task_store(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    tasks = ("abnormal", "acl", "meniscus")
    write_package(store, draft(tasks=tasks, name="triage"), random_states(0, num_tasks=3))
    return store


def test_evaluate_reports_every_task_and_the_leaderboard_mean(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data", 3, 6, findings=True)
    package = load_package(_three_task_store(tmp_path), "triage")
    manifest = package.manifest
    heads = [TaskScorer(h.task, i, h.fusion, 0.5) for i, h in enumerate(manifest.tasks)]
    readers = {h.task: SplitReader(data, "valid", h.task) for h in heads}
    scorer = Scorer([package.planes], manifest.input, heads)
    report = evaluate(scorer, readers, False, bootstrap_rounds=50)
    assert report["cases"] == 6 and set(report["tasks"]) == {"abnormal", "acl", "meniscus"}
    aucs = [report["tasks"][t]["auc"] for t in ("abnormal", "acl", "meniscus")]
    assert report["mrnet_mean_auc"] == pytest.approx(np.mean(aucs))
    positives = {t: r["positives"] for t, r in report["tasks"].items()}
    assert positives == {"abnormal": 4, "acl": 2, "meniscus": 3}
    for row in report["tasks"].values():
        assert 0.0 <= row["auc"] <= 1.0 and row["sensitivity"] is not None
        assert 0.0 <= row["attention_hit_rate"] <= 1.0
        for plane in PLANES:
            assert 0.0 <= row["planes"][plane]["attention_hit_rate"] <= 1.0
    assert "ligament_hit_rate" in report["tasks"]["acl"]
    assert "ligament_hit_rate" not in report["tasks"]["meniscus"]
    # each task reads its own classifier row: the logits differ between tasks
    acl, meniscus = report["scores"]["acl"], report["scores"]["meniscus"]
    assert [r["axial_logit"] for r in acl] != [r["axial_logit"] for r in meniscus]
    # and they are that row of the network's output
    volume = readers["acl"].volume(acl[0]["case"], "axial")
    with torch.no_grad():
        expected = package.planes["axial"](prepare_volume(volume, InputSpec(size=64)).slices)[0]
    assert [acl[0]["axial_logit"], meniscus[0]["axial_logit"]] == pytest.approx(
        [float(expected[1]), float(expected[2])], abs=1e-4
    )


def test_cached_features_give_the_same_report(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data", 3, 4, findings=True)
    package = load_package(_three_task_store(tmp_path), "triage")
    heads = [TaskScorer(h.task, i, h.fusion, 0.5) for i, h in enumerate(package.manifest.tasks)]
    readers = {h.task: SplitReader(data, "valid", h.task) for h in heads}
    plain = Scorer([package.planes], package.manifest.input, heads)
    reader = readers["acl"]
    cached = {
        plane: {
            case: package.planes[plane].embed(
                prepare_volume(reader.volume(case, plane), InputSpec(size=64)).slices
            )
            for case in reader.case_ids
        }
        for plane in PLANES
    }
    fast = Scorer([package.planes], package.manifest.input, heads, cached)
    with torch.no_grad():
        assert evaluate(fast, readers, False, 0) == evaluate(plain, readers, False, 0)


def test_evaluate_command_writes_json_and_plots(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data", 3, 6, findings=True)
    store = _three_task_store(tmp_path)
    out = tmp_path / "reports" / "valid.json"
    out.parent.mkdir()
    args = ["evaluate", "--data", str(data), "--store", str(store), "--device", "cpu"]
    assert main([*args, "--json", str(out), "--bootstrap-rounds", "20"]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "triage/1" and list(report["tasks"]) == [
        "abnormal",
        "acl",
        "meniscus",
    ]
    task_keys = {"task", "split", "cases", "positives", "auc", "auc_ci95", "threshold"}
    task_keys |= {"sensitivity", "specificity", "planes", "attention_hit_rate"}
    task_keys |= {"leading_plane_hit_rate"}
    for task, row in report["tasks"].items():
        assert set(row) >= task_keys, task
        for plane in PLANES:
            assert set(row["planes"][plane]) >= {"auc", "auc_ci95", "attention_hit_rate"}
    assert {"ligament_hit_rate", "ligament_leading_plane_hit_rate"} <= set(report["tasks"]["acl"])
    assert isinstance(report["mrnet_mean_auc"], float)
    for name in ("valid-roc.png", "valid-hit-rates.png"):
        with Image.open(out.parent / name) as image:
            image.load()  # decodes the whole file
            assert image.format == "PNG" and image.size == figure_pixels(3)
    # one task of the package, by name
    assert main([*args, "--task", "meniscus", "--package", "triage", "--json", str(out)]) == 0
    assert list(json.loads(out.read_text())["tasks"]) == ["meniscus"]
    with Image.open(out.parent / "valid-roc.png") as image:
        assert image.size == figure_pixels(1)
