"""Several tasks per exam: one backbone pass for all heads, each head's answer exact."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

import service.inference.batch as batch_module
from service.domain import PLANES, Plane
from service.inference.batch import BatchExam, for_device, run_batch
from service.inference.engine import Engine, EngineConfig, ExamJob
from service.inference.predictor import predict_exam, predict_tasks
from service.model.preprocess import prepare_volume
from service.store.loader import ModelPackage, load_package
from service.store.writer import write_package

from factories import draft, random_states

TASKS3 = ("abnormal", "acl", "meniscus")


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> ModelPackage:
    store = tmp_path_factory.mktemp("tasks")
    write_package(store, draft(tasks=TASKS3, name="triage"), random_states(5, 3), dtype="float32")
    return load_package(store, "triage")


def _one_task_package(triage: ModelPackage, task: str, store: Path) -> ModelPackage:
    """The same backbone with only `task`'s classifier row: a one-task package."""
    row = TASKS3.index(task)
    states = {}
    for plane in PLANES:
        state = {k: v.clone() for k, v in triage.planes[plane].state_dict().items()}
        state["classifier.weight"] = state["classifier.weight"][row : row + 1]
        state["classifier.bias"] = state["classifier.bias"][row : row + 1]
        states[plane] = state
    write_package(store, draft(task), states, dtype="float32")
    return load_package(store, task)


def _volumes(seed: int, lengths: tuple[int, int, int]) -> dict[Plane, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        p: rng.integers(0, 256, (n, 64, 64), dtype=np.uint8)
        for p, n in zip(PLANES, lengths, strict=True)
    }


def _prepared(package: ModelPackage, volumes: dict[Plane, np.ndarray]) -> dict[Plane, Tensor]:
    return {p: prepare_volume(v, package.manifest.input).slices for p, v in volumes.items()}


def test_each_head_equals_a_one_task_package_of_its_row(
    triage: ModelPackage, tmp_path: Path
) -> None:
    volumes = _volumes(1, (4, 5, 6))
    answers = predict_tasks(triage, volumes)
    assert list(answers) == list(TASKS3)
    for task in TASKS3:
        alone = predict_exam(_one_task_package(triage, task, tmp_path / task), volumes)
        got = answers[task]
        assert got.task == task and got.probability == pytest.approx(alone.probability, abs=1e-9)
        for plane in PLANES:
            assert got.planes[plane].logit == pytest.approx(alone.planes[plane].logit, abs=1e-9)
            assert got.planes[plane].attribution.contributions == pytest.approx(
                alone.planes[plane].attribution.contributions, abs=1e-9
            )
    logits = {t: answers[t].planes["axial"].logit for t in TASKS3}
    assert len(set(logits.values())) == 3  # three different heads, not one repeated


def test_a_batch_runs_each_plane_once_for_every_task(
    triage: ModelPackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = batch_module.plane_features

    def counted(network: torch.nn.Module, stack: Tensor, device: torch.device) -> Tensor:
        calls.append(int(stack.shape[0]))
        return real(network, stack, device)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "plane_features", counted)
    package = for_device(triage)
    exams = [_volumes(2, (3, 4, 5)), _volumes(3, (5, 4, 3))]
    batch = [
        BatchExam(_prepared(package, exams[0]), TASKS3),
        BatchExam(_prepared(package, exams[1]), ("meniscus",)),
    ]
    results, stats = run_batch(package, batch)
    assert calls == [8, 8, 8]  # one packed forward per plane, both exams, all three tasks
    assert stats.slices == {"axial": 8, "coronal": 8, "sagittal": 8}
    assert list(results[0]) == list(TASKS3) and list(results[1]) == ["meniscus"]
    for volumes, answers in zip(exams, results, strict=True):
        for task, got in answers.items():
            want = predict_exam(triage, volumes, task)
            assert got.probability == pytest.approx(want.probability, abs=1e-4)
            for plane in PLANES:
                assert got.planes[plane].logit == pytest.approx(want.planes[plane].logit, abs=1e-4)


def test_the_engine_answers_the_tasks_each_job_asks_for(triage: ModelPackage) -> None:
    package = for_device(triage)
    engine = Engine({"triage": package}, EngineConfig(max_batch_slices=64, max_queue_delay_ms=200))
    volumes = _volumes(4, (3, 3, 3))
    deadline = time.monotonic() + 60
    every = ExamJob("triage", _prepared(package, volumes), [], deadline)  # no tasks: all
    two = ExamJob("triage", _prepared(package, volumes), [], deadline, ("meniscus", "abnormal"))
    futures = engine.submit_all([every, two])
    engine.start()
    try:
        outcomes = [future.result(timeout=60) for future in futures]
    finally:
        engine.stop()
    assert list(outcomes[0].predictions) == list(TASKS3)
    assert list(outcomes[1].predictions) == ["meniscus", "abnormal"]
    assert outcomes[0].batch_exams == 2
    for task in ("meniscus", "abnormal"):
        first, second = outcomes[0].predictions[task], outcomes[1].predictions[task]
        assert first.probability == pytest.approx(second.probability, abs=1e-9)


def test_an_exam_of_two_packages_waits_for_both(triage: ModelPackage, tmp_path: Path) -> None:
    acl = for_device(_one_task_package(triage, "acl", tmp_path))
    package = for_device(triage)
    engine = Engine({"triage": package, "acl": acl}, EngineConfig(max_queue_delay_ms=0))
    volumes = _volumes(6, (3, 4, 3))
    deadline = time.monotonic() + 60
    jobs = [
        ExamJob("triage", _prepared(package, volumes), ["resized"], deadline, ("meniscus",)),
        ExamJob("acl", _prepared(acl, volumes), ["resized"], deadline, ("acl",)),
    ]
    engine.start()
    try:
        outcome = asyncio.run(engine.predict_all(jobs))
    finally:
        engine.stop()
    assert set(outcome.predictions) == {"meniscus", "acl"}
    assert outcome.warnings == ["resized"]  # one exam's warnings, once
    want = predict_exam(triage, volumes, "acl")
    assert outcome.predictions["acl"].probability == pytest.approx(want.probability, abs=1e-4)
