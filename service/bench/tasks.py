"""What a package's other tasks cost: every task against one of them alone, on the same exams.

Paired rounds: each round submits the same `concurrency` exams at once to an
engine serving the whole package, and to one serving a one-task view of it
(the same backbone, that task's head only), alternating which goes first, so
that load from elsewhere on the machine falls on both alike. The ratio is of
the summed wall times of the rounds. Both engines pack the round's exams into
batches as the service does.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from service.bench.exams import ExamSet, Volumes
from service.domain import PLANES, Plane
from service.inference.engine import Engine, EngineConfig, ExamJob
from service.model.preprocess import prepare_volume
from service.store.loader import ModelPackage

NO_DEADLINE_S = 3600.0


def exam_job(package: ModelPackage, exam: Volumes) -> ExamJob:
    """What the service builds per request: each plane prepared as the package says.

    The job asks for every task of the package, as a request that names none.
    """
    planes = {p: prepare_volume(exam[p], package.manifest.input).slices for p in PLANES}
    name = package.manifest.name
    return ExamJob(name, planes, [], deadline=time.monotonic() + NO_DEADLINE_S)


@dataclass
class Side:
    """One engine of the pair: its wall time over the rounds and `task`'s scores by exam."""

    package: ModelPackage
    engine: Engine
    wall_s: float = 0.0
    exams: int = 0

    def __post_init__(self) -> None:
        self.logits: dict[int, dict[Plane, float]] = {}
        self.probabilities: dict[int, float] = {}

    def round(self, indices: list[int], exams: ExamSet, task: str) -> None:
        jobs = [exam_job(self.package, exams.exams[i]) for i in indices]  # prepared untimed
        started = time.perf_counter()
        outcomes = [future.result() for future in self.engine.submit_all(jobs)]
        self.wall_s += time.perf_counter() - started
        self.exams += len(jobs)
        for index, outcome in zip(indices, outcomes, strict=True):
            prediction = outcome.predictions[task]
            self.logits[index] = {p: prediction.planes[p].logit for p in PLANES}
            self.probabilities[index] = prediction.probability


def time_tasks_cost(
    package: ModelPackage,
    one_task: ModelPackage,
    exams: ExamSet,
    config: EngineConfig,
    concurrency: int,
    seconds: float,
    task: str,
) -> tuple[dict[str, Any], list[Side]]:
    """Paired rounds for `seconds` (at least two); the cost summary and both sides' scores."""
    sides = [
        Side(p, Engine({p.manifest.name: p}, config)) for p in (package, one_task)
    ]  # every task, then `task` alone
    for side in sides:
        side.engine.start()
    counter = itertools.count()
    try:
        for side in sides:  # warm-up, untimed
            side.round([0], exams, task)
            side.wall_s, side.exams = 0.0, 0
        started = time.perf_counter()
        for round_ in itertools.count():
            if round_ >= 2 and time.perf_counter() - started >= seconds:
                break
            indices = [next(counter) % len(exams.exams) for _ in range(concurrency)]
            for side in sides if round_ % 2 == 0 else sides[::-1]:
                side.round(indices, exams, task)
    finally:
        for side in sides:
            side.engine.stop()
    every, alone = sides
    cost = {
        "tasks": len(package.manifest.tasks),
        "task": task,
        "rounds": round_,
        "exams_per_round": concurrency,
        "ms_per_exam": round(every.wall_s * 1000 / every.exams, 2),
        "one_task_ms_per_exam": round(alone.wall_s * 1000 / alone.exams, 2),
        "ratio": round(every.wall_s / max(alone.wall_s, 1e-9), 3),
        "method": "paired rounds of the same exams submitted together to each engine, "
        "alternating order; ratio of summed wall times",
    }
    return cost, sides
