"""`mrnet bench engine`: the service's engine against the published path, on the same exams.

The reference scores one exam at a time (see `reference`). The engine is the
real `Engine`, fed by several submitter threads so that exams from different
"requests" are packed into one batch; each submitter prepares its exam (as the
service does per request), submits it and waits, and the time from the start
of preparing to the result is that exam's latency. Both sides run the
package's weights and preprocessing, so their logits must agree.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from service.bench.config import EngineBenchConfig
from service.bench.exams import ExamSet, Volumes
from service.bench.flops import FlopCount, plane_flops
from service.bench.machine import machine_info
from service.bench.peak import MatmulPeak, matmul_peak
from service.bench.precision import agreement, strict_float32
from service.bench.reference import ReferenceModel
from service.bench.tasks import Side, exam_job, time_tasks_cost
from service.bench.timing import summarize
from service.bench.views import one_task_view
from service.devices import resolve_device
from service.domain import PLANES, Plane
from service.errors import PackageNotFoundError
from service.inference.batch import BatchStats, for_device
from service.inference.config import EngineConfig
from service.inference.engine import Engine
from service.store.loader import ModelPackage, load_package
from service.store.selection import select_packages

Progress = Callable[[str], None]


@dataclass
class Run:
    """One timed run: latency per exam, exams per batch, and the scores by exam index."""

    name: str
    label: str
    flops: FlopCount
    dtype: str = "float32"  # what the convolutions run in: float32, or float16 (autocast)
    wall_s: float = 0.0
    slices: int = 0
    tasks: int = 1  # tasks scored per exam
    latencies_ms: list[float] = field(default_factory=list)
    batch_exams: list[int] = field(default_factory=list)
    logits: dict[int, dict[Plane, float]] = field(default_factory=dict)
    probabilities: dict[int, float] = field(default_factory=dict)

    def record(
        self, index: int, slices: int, seconds: float, logits: dict[Plane, float], p: float
    ) -> None:
        self.latencies_ms.append(seconds * 1000)
        self.slices += slices
        self.logits[index] = logits
        self.probabilities[index] = p

    def summary(self, peaks: Mapping[str, MatmulPeak]) -> dict[str, Any]:
        """Throughput, latency, batching, and GFLOP/s against the peak of the run's dtype."""
        peak = peaks.get(self.dtype, peaks["float32"])
        exams, wall = len(self.latencies_ms), max(self.wall_s, 1e-9)
        gflops_per_s = self.flops.flops * self.slices / wall / 1e9
        batches = self.batch_exams or [1] * exams
        return {
            "label": self.label,
            "tasks": self.tasks,
            "exams": exams,
            "slices": self.slices,
            "wall_s": round(wall, 3),
            "exams_per_s": round(exams / wall, 4),
            "slices_per_s": round(self.slices / wall, 2),
            "ms_per_exam": round(wall * 1000 / max(exams, 1), 2),
            "latency_ms": summarize(self.latencies_ms),
            "batches": len(batches),
            "mean_exams_per_batch": round(sum(batches) / max(len(batches), 1), 2),
            "flop_count": self.flops.input_label,
            "gflop_per_slice": round(self.flops.gflops, 4),
            "gflops_per_s": round(gflops_per_s, 2),
            "dtype": self.dtype,
            "peak_fraction": round(gflops_per_s / peak.gflops_per_s, 4),
            "peak_dtype": peak.dtype,
        }


def _exam_slices(exam: Volumes) -> int:
    return sum(int(exam[p].shape[0]) for p in PLANES)


def time_reference(model: ReferenceModel, exams: ExamSet, seconds: float, flops: FlopCount) -> Run:
    """The published path, one exam after another, for `seconds` (at least one exam)."""
    run = Run("reference", "reference (published path)", flops)
    model.score(exams.exams[0])  # warm-up, untimed
    started = time.perf_counter()
    for count in itertools.count():
        if count > 0 and time.perf_counter() - started >= seconds:
            break
        index = count % len(exams.exams)
        exam = exams.exams[index]
        begun = time.perf_counter()
        score = model.score(exam)
        elapsed = time.perf_counter() - begun
        run.record(index, _exam_slices(exam), elapsed, score.logits, score.probability)
    run.wall_s = time.perf_counter() - started
    return run


@dataclass(frozen=True)
class EngineRunSpec:
    name: str
    label: str
    config: EngineConfig
    concurrency: int


def _submit_loop(
    engine: Engine, package: ModelPackage, exams: ExamSet, run: Run, until: float, task: str
) -> Callable[[], None]:
    """A submitter: prepare an exam, submit it, wait, record `task`; until the time is up."""
    counter, lock = itertools.count(), threading.Lock()

    def submitter() -> None:
        for round_ in itertools.count():
            if round_ > 0 and time.perf_counter() >= until:
                return
            index = next(counter) % len(exams.exams)
            exam = exams.exams[index]
            begun = time.perf_counter()
            prediction = engine.submit(exam_job(package, exam)).result().predictions[task]
            elapsed = time.perf_counter() - begun
            logits = {p: prediction.planes[p].logit for p in PLANES}
            with lock:
                run.record(index, _exam_slices(exam), elapsed, logits, prediction.probability)

    return submitter


def time_engine(
    package: ModelPackage,
    exams: ExamSet,
    spec: EngineRunSpec,
    seconds: float,
    flops: FlopCount,
    task: str | None = None,
) -> Run:
    """The real engine fed by `spec.concurrency` submitters for `seconds`.

    Every exam is scored for every task of `package`; the run records `task`
    (default: the package's first) for the agreement with the reference.
    """
    dtype = "float16" if package.device.type == "cuda" else "float32"  # as `plane_features`
    run = Run(spec.name, spec.label, flops, dtype, tasks=len(package.manifest.tasks))
    task = task or package.manifest.task_names[0]

    def observe(stats: BatchStats, _seconds: float) -> None:
        run.batch_exams.append(stats.exams)

    engine = Engine({package.manifest.name: package}, spec.config, observe)
    engine.start()
    try:
        engine.submit(exam_job(package, exams.exams[0])).result()
        run.batch_exams.clear()  # the warm-up exam is not counted
        started = time.perf_counter()
        submitter = _submit_loop(engine, package, exams, run, started + seconds, task)
        with ThreadPoolExecutor(spec.concurrency, thread_name_prefix="bench-submit") as pool:
            for future in [pool.submit(submitter) for _ in range(spec.concurrency)]:
                future.result()
        run.wall_s = time.perf_counter() - started
    finally:
        engine.stop()
    return run


def engine_runs(config: EngineBenchConfig, exams: ExamSet, tasks: int = 1) -> list[EngineRunSpec]:
    """Packed batches at the chosen concurrency, one exam per batch, and one submitter."""
    queue = max(EngineConfig().max_queue_slices, config.concurrency * exams.max_exam_slices)
    packed = EngineConfig(config.batch_slices, config.queue_delay_ms, queue, config.worker_nice)
    single = replace(packed, max_batch_slices=exams.max_plane_slices)
    c = config.concurrency
    every = f", {tasks} tasks" if tasks > 1 else ""
    return [
        EngineRunSpec("engine", f"engine, concurrency {c}{every}", packed, c),
        EngineRunSpec("engine_one_exam", f"engine, one exam per batch, concurrency {c}", single, c),
        EngineRunSpec("engine_serial", "engine, concurrency 1", packed, 1),
    ]


@dataclass(frozen=True)
class _Setup:
    device: torch.device
    package: ModelPackage  # as the engine runs it
    one_task: ModelPackage | None  # the bench's task alone on its backbone, when there are others
    reference: ReferenceModel


def _package_name(config: EngineBenchConfig) -> str:
    if config.package is not None:
        return config.package
    return select_packages(config.store, [config.task]).serving[config.task]


def _setup(config: EngineBenchConfig) -> _Setup:
    device = resolve_device(config.device)
    if config.threads is not None or device.type == "cpu":
        torch.set_num_threads(config.threads or os.cpu_count() or 1)
    package = load_package(config.store, _package_name(config), config.version, device)
    if config.task not in package.manifest.task_names:
        raise PackageNotFoundError(
            f"The package {package.manifest.name} does not carry {config.task!r}; it carries "
            f"{', '.join(package.manifest.task_names)}."
        )
    reference = ReferenceModel.from_package(package, device, config.task)  # before channels-last
    one_task = None
    if len(package.manifest.tasks) > 1:
        one_task = for_device(one_task_view(package, config.task), config.cpu_winograd)
    return _Setup(device, for_device(package, config.cpu_winograd), one_task, reference)


def _peaks(device: torch.device, seconds: float) -> dict[str, MatmulPeak]:
    peaks = {"float32": matmul_peak(device, seconds)}
    if device.type == "cuda":
        peaks["float16"] = matmul_peak(device, seconds, torch.float16)
    return peaks


def _precision_reference(
    model: ReferenceModel, exams: ExamSet, indices: list[int]
) -> dict[int, float]:
    """Reference probabilities in strict float32 (no TF32), for the float16 comparison."""
    with strict_float32():
        return {i: model.score(exams.exams[i]).probability for i in indices}


def run_engine_bench(
    config: EngineBenchConfig, exams: ExamSet, progress: Progress = lambda _: None
) -> dict[str, Any]:
    """Time the reference and the engine runs; check they agree; the report as a dict."""
    setup = _setup(config)
    device, package, reference = setup.device, setup.package, setup.reference
    specs = engine_runs(config, exams, len(package.manifest.tasks))
    size = package.manifest.input.network_size
    rgb, gray = plane_flops(size, 3), plane_flops(size, 1)
    progress(f"matrix-multiply peak on {device} ({config.peak_seconds:g} s)")
    peaks = _peaks(device, config.peak_seconds)
    progress(f"reference: one exam at a time for {config.seconds:g} s")
    runs = [time_reference(reference, exams, config.seconds, rgb)]
    for spec in specs:
        progress(f"{spec.label}: {config.seconds:g} s")
        runs.append(time_engine(package, exams, spec, config.seconds, gray, config.task))
    cost: dict[str, Any] | None = None
    paired: list[Side] = []
    if setup.one_task is not None:
        progress(f"every task against {config.task} alone, interleaved: {config.seconds:g} s")
        cost, paired = time_tasks_cost(
            package, setup.one_task, exams, specs[0].config, config.seconds, config.task
        )
    float16 = device.type == "cuda"
    strict = (
        _precision_reference(reference, exams, sorted(runs[0].probabilities)) if float16 else None
    )
    timed = {run.name: run.summary(peaks) for run in runs}
    return {
        "kind": "mrnet-bench-engine",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(device),
        "model": _model_info(package, config.task, config.cpu_winograd),
        "exam_set": exams.describe(),
        "settings": _settings(config, specs),
        "flops_per_slice": {"3-channel": rgb.gflops, "1-channel folded": gray.gflops, "size": size},
        "peak": {name: peak.describe() for name, peak in peaks.items()},
        "runs": timed,
        "tasks_cost": cost,
        "agreement": agreement(
            runs[0], [*runs[1:], *paired], strict, config.tolerance, config.float16_tolerance
        ),
    }


def _model_info(package: ModelPackage, task: str, cpu_winograd: bool) -> dict[str, Any]:
    manifest = package.manifest
    cpu = package.device.type == "cpu"
    precision = "float32" if cpu else "float16-autocast"
    return {
        "name": manifest.name,
        "task": task,
        "tasks": list(manifest.task_names),
        "backbones": len(package.backbones),
        "version": manifest.version,
        "sha256": package.digest,
        "input_size": manifest.input.network_size,
        "precision": precision,
        "convolutions": "winograd-f4x4" if cpu and cpu_winograd else "direct",
    }


def _settings(config: EngineBenchConfig, specs: list[EngineRunSpec]) -> dict[str, Any]:
    return {
        "seconds_per_run": config.seconds,
        "concurrency": config.concurrency,
        "queue_delay_ms": config.queue_delay_ms,
        "max_batch_slices": {s.name: s.config.max_batch_slices for s in specs},
        "tolerance": config.tolerance,
        "float16_tolerance": config.float16_tolerance,
    }
