from __future__ import annotations

from pathlib import Path

from service.datasets.reader import SplitReader
from service.evaluation.report import CaseScore, Scorer, attention_hit_rates, evaluate
from service.inference.predictor import PlanePrediction
from service.model.attribution import SliceAttribution
from service.model.fusion import Fusion
from service.store.loader import load_package

from factories import write_tiny_dataset


def _plane(logit: float, top: list[int], share: float = 1.0) -> PlanePrediction:
    attention = [0.0] * 9
    for index in top:
        attention[index] = 1.0 / len(top)
    contributions = [share * a for a in attention]
    attribution = SliceAttribution(logit, 0.0, contributions, attention, top)
    return PlanePrediction(logit, 0.5, 9, attribution)


def test_hit_rates_count_top_slices_inside_the_acl_range(tmp_path: Path) -> None:
    # tiny data: the ACL cuts slices 2..5 of every plane; valid positives are 9 and 12.
    reader = SplitReader(write_tiny_dataset(tmp_path, 8, 6), "valid", "acl")
    fusion = Fusion(coefficients={"axial": 1.0, "coronal": 1.0, "sagittal": 1.0}, intercept=0)
    cases = [
        CaseScore(
            "0009",
            1,
            {"axial": _plane(0.1, [3]), "coronal": _plane(0.2, [7]), "sagittal": _plane(2.0, [5])},
            0.9,
        ),
        CaseScore(
            "0012",
            1,
            # axial leads by logit (top slice 8: a miss), but coronal slice 2 adds most
            {
                "axial": _plane(3.0, [8]),
                "coronal": _plane(0.2, [2], 2.0),
                "sagittal": _plane(0.5, []),
            },
            0.8,
        ),
        CaseScore(
            "0010",
            0,
            {"axial": _plane(0.1, [0]), "coronal": _plane(0.1, [0]), "sagittal": _plane(0.1, [0])},
            0.1,
        ),
    ]
    scorer = Scorer({}, None, fusion, 0.5)  # type: ignore[arg-type]
    rates = attention_hit_rates(reader, scorer, cases)
    expected = {"axial": 0.5, "coronal": 0.5, "sagittal": 0.5, "fused": 1.0, "leading_plane": 0.5}
    assert rates == expected


def test_evaluate_reports_every_metric(tmp_path: Path, make_package: object) -> None:
    data = write_tiny_dataset(tmp_path / "data", 3, 6)
    folder = make_package()  # type: ignore[operator]
    package = load_package(folder.parent.parent, "acl")
    manifest = package.manifest
    scorer = Scorer(package.planes, manifest.input, manifest.tasks[0].fusion, 0.5)
    report = evaluate(scorer, SplitReader(data, "valid", "acl"), False, bootstrap_rounds=50)
    assert report["cases"] == 6 and report["positives"] == 2
    assert 0.0 <= report["auc"] <= 1.0
    assert set(report["planes"]) == {"axial", "coronal", "sagittal"}
    for row in report["planes"].values():
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["attention_hit_rate"] <= 1.0
    assert report["sensitivity"] in {0.0, 0.5, 1.0}
    assert report["attention_hit_rate"] in {0.0, 0.5, 1.0}
