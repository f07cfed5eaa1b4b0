from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from service.domain import PLANES, Plane
from service.errors import DeadlineExceededError, QueueFullError
from service.inference.batch import BatchStats, for_device
from service.inference.config import EngineConfig
from service.inference.engine import Engine, ExamJob, ExamOutcome
from service.inference.predictor import predict_exam
from service.model.preprocess import prepare_volume
from service.store.loader import ModelPackage, load_package

from conftest import PackageFactory


@pytest.fixture
def package(make_package: PackageFactory) -> ModelPackage:
    folder = make_package(seed=11, dtype="float32")
    return for_device(load_package(folder.parent.parent, "acl"))


def exam_volumes(seed: int, lengths: tuple[int, int, int]) -> dict[Plane, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        plane: rng.integers(0, 256, (n, 64, 64), dtype=np.uint8)
        for plane, n in zip(PLANES, lengths, strict=True)
    }


def job_for(package: ModelPackage, volumes: dict[Plane, np.ndarray], ttl: float = 30) -> ExamJob:
    spec = package.manifest.input
    planes = {p: prepare_volume(v, spec).slices for p, v in volumes.items()}
    return ExamJob("acl", planes, [], deadline=time.monotonic() + ttl)


def test_packed_batches_equal_unbatched_predictions(package: ModelPackage) -> None:
    batches: list[BatchStats] = []
    engine = Engine(
        {"acl": package},
        EngineConfig(max_batch_slices=64, max_queue_delay_ms=200),
        on_batch=lambda stats, seconds: batches.append(stats),
    )
    exams = [exam_volumes(seed, (3 + seed, 5, 9 - seed)) for seed in range(4)]
    futures = [engine.submit(job_for(package, volumes)) for volumes in exams]
    engine.start()
    outcomes: list[ExamOutcome] = [future.result(timeout=60) for future in futures]
    engine.stop()
    assert len(batches) == 1 and batches[0].exams == 4
    assert batches[0].slices == {"axial": 18, "coronal": 20, "sagittal": 30}
    for volumes, outcome in zip(exams, outcomes, strict=True):
        reference = predict_exam(package, volumes)
        assert outcome.batch_exams == 4
        answer = outcome.predictions["acl"]
        assert answer.probability == pytest.approx(reference.probability, abs=1e-4)
        for plane in PLANES:
            got, want = answer.planes[plane], reference.planes[plane]
            assert got.num_slices == want.num_slices
            assert got.logit == pytest.approx(want.logit, abs=1e-4)
            np.testing.assert_allclose(
                got.attribution.attention, want.attribution.attention, atol=1e-4
            )


def test_batches_respect_the_slice_budget(package: ModelPackage) -> None:
    batches: list[BatchStats] = []
    engine = Engine(
        {"acl": package},
        EngineConfig(max_batch_slices=12, max_queue_delay_ms=100),
        on_batch=lambda stats, seconds: batches.append(stats),
    )
    futures = [engine.submit(job_for(package, exam_volumes(s, (5, 5, 5)))) for s in range(5)]
    engine.start()
    for future in futures:
        future.result(timeout=60)
    engine.stop()
    assert [b.exams for b in batches] == [2, 2, 1]
    assert all(max(b.slices.values()) <= 12 for b in batches)


def test_a_full_queue_refuses_at_once(package: ModelPackage) -> None:
    engine = Engine({"acl": package}, EngineConfig(max_queue_slices=40))
    engine.submit(job_for(package, exam_volumes(0, (10, 10, 10))))
    # the worker is not started, so a submit that waited for room would never return
    with ThreadPoolExecutor(1) as pool:
        refused = pool.submit(engine.submit, job_for(package, exam_volumes(1, (5, 5, 5))))
        with pytest.raises(QueueFullError, match="30 of 40 slices"):
            refused.result(timeout=30)
    engine.start()
    engine.stop()


def test_admitted_uploads_hold_their_room_until_submitted(package: ModelPackage) -> None:
    engine = Engine({"acl": package}, EngineConfig(max_queue_slices=40))  # never started
    first = engine.reserve(30)
    with pytest.raises(QueueFullError, match="30 of 40 slices"):
        engine.reserve(15)  # refused before anything of it is read
    smaller = engine.reserve(10)
    # the reservation becomes the exam's place: nothing is counted twice
    engine.submit(job_for(package, exam_volumes(0, (10, 10, 10))), first)
    assert engine.queued_slices == 30
    with pytest.raises(QueueFullError, match="40 of 40 slices"):
        engine.reserve(1)
    smaller.release()
    smaller.release()  # given back once only
    with smaller:  # leaving the block releases it, again without effect
        pass
    engine.reserve(10).release()
    with pytest.raises(QueueFullError):
        engine.reserve(11)
    engine.start()
    engine.stop()


def test_work_past_its_deadline_is_dropped(package: ModelPackage) -> None:
    engine = Engine({"acl": package}, EngineConfig())
    job = job_for(package, exam_volumes(0, (3, 3, 3)), ttl=-1.0)
    future = engine.submit(job)
    engine.start()
    with pytest.raises(DeadlineExceededError):
        future.result(timeout=30)
    engine.stop()


def test_predict_answers_deadline_exceeded_without_blocking(package: ModelPackage) -> None:
    engine = Engine({"acl": package}, EngineConfig())  # never started: nothing runs

    async def ask() -> None:
        await engine.predict(job_for(package, exam_volumes(0, (3, 3, 3)), ttl=0.2))

    with pytest.raises(DeadlineExceededError):
        asyncio.run(ask())


def test_a_failing_batch_fails_its_requests_and_the_worker_goes_on(
    package: ModelPackage,
) -> None:
    engine = Engine({"acl": package}, EngineConfig(max_queue_delay_ms=0))
    engine.start()
    broken = job_for(package, exam_volumes(0, (3, 3, 3)))
    broken.planes["axial"] = torch.zeros(3, 1, 5, 5)  # too small for AlexNet
    with pytest.raises(RuntimeError):
        engine.submit(broken).result(timeout=30)
    outcome = engine.submit(job_for(package, exam_volumes(1, (3, 3, 3)))).result(timeout=30)
    assert 0.0 <= outcome.predictions["acl"].probability <= 1.0
    engine.stop()


def test_stop_finishes_queued_work(package: ModelPackage) -> None:
    engine = Engine({"acl": package}, EngineConfig())
    futures = [engine.submit(job_for(package, exam_volumes(s, (3, 3, 3)))) for s in range(3)]
    engine.start()
    engine.stop(timeout_s=60)
    assert all(f.done() for f in futures)  # stop returned only once the queue was done
    assert all(f.result().predictions["acl"] for f in futures)
    with pytest.raises(QueueFullError, match="shutting down"):
        engine.submit(job_for(package, exam_volumes(9, (3, 3, 3))))


def _nice(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


def test_the_worker_and_its_openmp_threads_run_at_the_raised_nice_value(
    package: ModelPackage,
) -> None:
    before = {int(t) for t in os.listdir("/proc/self/task")}
    caller = _nice(threading.get_native_id())
    engine = Engine({"acl": package}, EngineConfig(worker_nice=3))
    engine.start()
    try:
        engine.submit(job_for(package, exam_volumes(0, (3, 3, 3)))).result(timeout=60)
        worker = engine._worker.native_id  # the engine's own thread, for the test
        assert worker is not None
        want = min(caller + 3, 19)
        assert _nice(worker) == want
        started = {int(t) for t in os.listdir("/proc/self/task")} - before - {worker}
        assert all(_nice(t) == want for t in started)  # the OpenMP team it started, if any
    finally:
        engine.stop()
    assert _nice(threading.get_native_id()) == caller  # only the worker's threads change
