"""`mrnet bench engine` on a tiny package: every run is measured, packed and checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from service.bench.engine import EngineRunSpec, Run, time_engine
from service.bench.exams import random_exams
from service.bench.flops import plane_flops
from service.bench.precision import agreement
from service.bench.tasks import time_tasks_cost
from service.bench.views import one_task_view
from service.cli import main
from service.domain import PLANES
from service.inference.batch import for_device
from service.inference.config import EngineConfig
from service.inference.predictor import predict_exam
from service.store.loader import load_package
from service.store.writer import write_package

from conftest import PackageFactory
from factories import draft, random_states

RUNS = {"reference", "engine", "engine_one_exam", "engine_serial"}
SLICES = 3  # per plane


TINY = ("--device", "cpu", "--threads", "1", "--slices", str(SLICES), "--size", "64")
BUDGET = ("--exams", "3", "--concurrency", "3", "--seconds", "0.05", "--peak-seconds", "0.01")


def bench_engine(store: Path, out: Path) -> int:
    return main(["bench", "engine", "--store", str(store), *TINY, *BUDGET, "--json", str(out)])


def test_bench_engine_writes_every_run_and_the_agreement(
    make_package: PackageFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_package(seed=3).parent.parent
    assert bench_engine(store, tmp_path / "engine.json") == 0
    report = json.loads((tmp_path / "engine.json").read_text())
    assert {"machine", "model", "exam_set", "settings", "flops_per_slice", "peak"} <= set(report)
    assert report["exam_set"]["source"] == "random" and report["exam_set"]["exams"] == 3
    assert set(report["runs"]) == RUNS
    for run in report["runs"].values():
        assert run["exams"] >= 1
        assert run["slices"] == run["exams"] * 3 * SLICES
        assert run["latency_ms"]["count"] == run["exams"]
        assert run["exams_per_s"] > 0 and run["gflops_per_s"] > 0
    assert report["runs"]["reference"]["flop_count"] == "3-channel"
    assert report["runs"]["engine"]["flop_count"] == "1-channel folded"
    assert report["settings"]["max_batch_slices"]["engine_one_exam"] == SLICES
    assert report["runs"]["engine_one_exam"]["mean_exams_per_batch"] == 1.0
    assert report["runs"]["engine_serial"]["mean_exams_per_batch"] == 1.0
    assert report["agreement"]["ok"] is True and report["agreement"]["exams"] >= 1
    assert report["agreement"]["max_logit_diff"] <= 1e-4
    names = [t["name"] for t in report["targets"]]
    assert names == ["engine / reference throughput", "packed / one exam per batch throughput"]
    printed = capsys.readouterr().out
    assert "reference (published path)" in printed and "engine, concurrency 3" in printed
    cpu = report["machine"]["cpu"]
    assert cpu["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert report["machine"]["torch_threads"] == 1  # --threads 1
    assert f"machine: {cpu['model']}" in printed and cpu["torch_capability"] in printed


def test_concurrent_submitters_are_packed_into_one_batch(make_package: PackageFactory) -> None:
    package = for_device(load_package(make_package(seed=4).parent.parent, "acl"))
    exams = random_exams(3, SLICES, 64, seed=1)
    # the budget holds exactly three exams, so the worker waits (up to 1.5 s) for all three
    config = EngineConfig(max_batch_slices=3 * SLICES, max_queue_delay_ms=1500)
    spec = EngineRunSpec("engine", "packed", config, concurrency=3)
    run = time_engine(package, exams, spec, seconds=0.0, flops=plane_flops(64, 1))
    assert len(run.latencies_ms) == 3  # each submitter runs one exam at least
    assert run.batch_exams == [3]
    assert sorted(run.probabilities) == [0, 1, 2]


def scored(logits: dict[int, float], probabilities: dict[int, float]) -> Run:
    run = Run("x", "x", plane_flops(64, 1))
    for index, logit in logits.items():
        run.logits[index] = {"axial": logit, "coronal": logit, "sagittal": logit}
        run.probabilities[index] = probabilities[index]
    return run


def test_agreement_fails_when_a_logit_differs_beyond_the_tolerance() -> None:
    reference = scored({0: 2.0, 1: -30.0}, {0: 0.8, 1: 0.1})
    close = scored({0: 2.0005, 1: -30.01}, {0: 0.8, 1: 0.1})  # 0.01 / 30 is within 1e-3
    far = scored({0: 2.01}, {0: 0.81})
    assert agreement(reference, [close], None, 1e-3, 0.005)["ok"] is True
    result = agreement(reference, [close, far], None, 1e-3, 0.005)
    assert result["ok"] is False
    assert result["compared"] == 3 and result["exams"] == 2
    assert result["max_logit_diff"] == pytest.approx(0.01)


def test_float16_agreement_is_judged_on_probability_against_strict_float32() -> None:
    reference = scored({0: 1.0}, {0: 0.7})
    engine = scored({0: 1.3}, {0: 0.704})
    assert agreement(reference, [engine], {0: 0.7}, 1e-3, 0.005)["ok"] is True
    result = agreement(reference, [engine], {0: 0.69}, 1e-3, 0.005)
    assert result["ok"] is False
    assert result["float16_vs_float32_max_probability_diff"] == pytest.approx(0.014)


def test_no_compared_exam_is_not_agreement() -> None:
    empty = Run("x", "x", plane_flops(64, 1))
    assert agreement(empty, [empty], None, 1e-3, 0.005)["ok"] is False


def test_a_multi_task_package_is_timed_against_one_task_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    tasks = ("abnormal", "acl", "meniscus")
    write_package(store, draft(tasks=tasks, name="triage"), random_states(8, 3))
    assert bench_engine(store, tmp_path / "engine.json") == 0  # the newest package with acl
    report = json.loads((tmp_path / "engine.json").read_text())
    assert report["model"]["name"] == "triage" and report["model"]["tasks"] == list(tasks)
    assert set(report["runs"]) == RUNS
    assert report["runs"]["engine"]["tasks"] == 3
    cost = report["tasks_cost"]
    assert (cost["tasks"], cost["task"], cost["exams"]) == (3, "acl", 3)  # every exam timed
    assert cost["timings_per_side"] >= 3
    assert cost["ratio"] > 0 and cost["ms_per_exam"] > 0 and cost["one_task_ms_per_exam"] > 0
    target = next(t for t in report["targets"] if t["name"] == "3 tasks / one task ms per exam")
    assert target["target"] == "<= 1.15" and target["value"] == cost["ratio"]
    # both sides of the pair scored acl as the reference does: its head is the same in both
    assert report["agreement"]["ok"] is True
    assert f"3 tasks cost {cost['ratio']:.3f}x the acl task alone" in capsys.readouterr().out


def test_interleaved_timings_cover_both_sides_on_the_same_exams(
    make_package: PackageFactory,
) -> None:
    package = load_package(make_package(seed=5).parent.parent, "acl")
    exams = random_exams(4, SLICES, 64, seed=2)
    served = for_device(package)
    cost, sides = time_tasks_cost(served, served, exams, EngineConfig(), 0.0, "acl")
    assert cost["exams"] == 4 and [side.timings for side in sides] == [4, 4]
    assert sides[0].probabilities == sides[1].probabilities  # the same exams, the same model
    fastest = [sum(min(side.seconds[i]) for i in range(4)) for side in sides]
    assert cost["ratio"] == round(fastest[0] / fastest[1], 3)
    assert cost["ms_per_exam"] == round(1000 * fastest[0] / 4, 2)


def test_the_one_task_view_scores_its_task_as_the_package(tmp_path: Path) -> None:
    write_package(tmp_path, draft(tasks=("acl", "meniscus"), name="two"), random_states(9, 2))
    package = load_package(tmp_path, "two")
    view = one_task_view(package, "meniscus")
    assert view.manifest.task_names == ("meniscus",)
    assert view.planes["axial"].num_tasks == 1
    volumes = {p: np.random.default_rng(3).integers(0, 256, (3, 64, 64), np.uint8) for p in PLANES}
    want, got = predict_exam(package, volumes, "meniscus"), predict_exam(view, volumes)
    assert got.task == "meniscus" and got.probability == pytest.approx(want.probability, abs=1e-9)
