"""What a package's other tasks cost: every task against one of them alone, on the same exams.

Paired, interleaved timings: exam after exam, the same exam goes to an engine
serving the whole package and to one serving a one-task view of it (the same
backbone, that task's head only), in the order A B B A A B ..., so that load
from elsewhere on the machine falls on both alike. Each side keeps, per exam,
the fastest of its timings (what the exam costs when nothing else interferes);
the ratio is of those sums over the exams both timed. The mean-based ratio is
reported beside it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from service.bench.exams import ExamSet, Volumes
from service.domain import PLANES, Plane
from service.inference.config import EngineConfig
from service.inference.engine import Engine, ExamJob
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
    """One engine of the pair: per exam its timings, and `task`'s scores."""

    package: ModelPackage
    engine: Engine
    seconds: dict[int, list[float]] = field(default_factory=dict)
    logits: dict[int, dict[Plane, float]] = field(default_factory=dict)
    probabilities: dict[int, float] = field(default_factory=dict)

    def time(self, index: int, exams: ExamSet, task: str) -> None:
        job = exam_job(self.package, exams.exams[index])  # prepared untimed
        started = time.perf_counter()
        outcome = self.engine.submit(job).result()
        self.seconds.setdefault(index, []).append(time.perf_counter() - started)
        prediction = outcome.predictions[task]
        self.logits[index] = {p: prediction.planes[p].logit for p in PLANES}
        self.probabilities[index] = prediction.probability

    @property
    def timings(self) -> int:
        return sum(len(times) for times in self.seconds.values())


def _ratios(every: Side, alone: Side) -> tuple[float, float, list[int]]:
    """(fastest-per-exam ratio, mean ratio, the exams both timed)."""
    both = sorted(set(every.seconds) & set(alone.seconds))
    fastest = sum(min(every.seconds[i]) for i in both) / sum(min(alone.seconds[i]) for i in both)
    mean = sum(sum(v) / len(v) for v in (every.seconds[i] for i in both)) / sum(
        sum(v) / len(v) for v in (alone.seconds[i] for i in both)
    )
    return fastest, mean, both


def time_tasks_cost(
    package: ModelPackage,
    one_task: ModelPackage,
    exams: ExamSet,
    config: EngineConfig,
    seconds: float,
    task: str,
) -> tuple[dict[str, Any], list[Side]]:
    """Interleaved timings for `seconds` (every exam at least once each); summary and sides."""
    sides = [Side(p, Engine({p.manifest.name: p}, config)) for p in (package, one_task)]
    for side in sides:
        side.engine.start()
    try:
        for side in sides:  # warm-up, untimed
            side.time(0, exams, task)
            side.seconds.clear()
        started = time.perf_counter()
        for step in itertools.count():
            index = step % len(exams.exams)
            if step >= len(exams.exams) and time.perf_counter() - started >= seconds:
                break
            for side in sides if step % 2 == 0 else sides[::-1]:  # A B, B A, ...
                side.time(index, exams, task)
    finally:
        for side in sides:
            side.engine.stop()
    every, alone = sides
    fastest, mean, both = _ratios(every, alone)
    cost = {
        "tasks": len(package.manifest.tasks),
        "task": task,
        "exams": len(both),
        "timings_per_side": every.timings,
        "ms_per_exam": round(1000 * sum(min(every.seconds[i]) for i in both) / len(both), 2),
        "one_task_ms_per_exam": round(
            1000 * sum(min(alone.seconds[i]) for i in both) / len(both), 2
        ),
        "ratio": round(fastest, 3),
        "mean_ratio": round(mean, 3),
        "method": "each exam in turn to both engines (order A B, B A, ...); per exam the "
        "fastest of its timings; ratio of the sums",
    }
    return cost, sides
