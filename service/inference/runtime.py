"""What a running service holds: device, verified packages, the engine. Built once at startup."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from service.datasets.npy import VolumeLimits
from service.devices import resolve_device
from service.dicom.caps import Part
from service.dicom.study import Study
from service.domain import PRIMARY_TASK, Plane
from service.errors import UnknownTaskError
from service.inference.admission import WaitingRoom
from service.inference.batch import for_device
from service.inference.config import CPU_WINOGRAD, EngineConfig
from service.inference.engine import (
    BatchObserver,
    Engine,
    ExamJob,
    ExamOutcome,
    Reservation,
    warm_up,
)
from service.inference.exams import load_exam, prepare_exam
from service.inference.studies import StudyConfig, prepare_study
from service.model.preprocess import InputSpec
from service.store.loader import ModelPackage, load_package
from service.store.selection import select_packages

logger = logging.getLogger("mrnet.runtime")


@dataclass(frozen=True)
class RuntimeConfig:
    model_store: Path
    tasks: tuple[str, ...] | None  # None: every task the store's packages carry
    pinned_versions: Mapping[str, str]  # package name -> version
    device: str
    torch_threads: int | None
    limits: VolumeLimits
    engine: EngineConfig
    request_timeout_s: float
    cpu_winograd: bool = CPU_WINOGRAD
    study: StudyConfig = field(default_factory=StudyConfig)
    task_packages: Mapping[str, str] = field(default_factory=dict)  # task -> package name
    admission_wait_s: float = 0.0  # a prediction that finds the queue full waits this long
    max_waiting_exams: int = 0


MakeJob = Callable[[str, tuple[str, ...], InputSpec], ExamJob]


@dataclass
class Runtime:
    config: RuntimeConfig
    device: torch.device
    engine: Engine
    serving: dict[str, str]  # task -> the name of the package that serves it, in task order
    waiting_room: WaitingRoom

    @property
    def precision(self) -> str:
        return "float16-autocast" if self.device.type == "cuda" else "float32"

    @property
    def convolutions(self) -> str:
        cpu_winograd = self.device.type == "cpu" and self.config.cpu_winograd
        return "winograd-f4x4" if cpu_winograd else "direct"

    @property
    def packages(self) -> dict[str, ModelPackage]:
        """The loaded packages by name."""
        return self.engine.packages

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.serving)

    @property
    def default_task(self) -> str:
        """The primary task (acl) when it is served, else the first served task."""
        return PRIMARY_TASK if PRIMARY_TASK in self.serving else self.tasks[0]

    def package(self, task: str) -> ModelPackage:
        """The package that serves `task`; UnknownTaskError when none does."""
        if task not in self.serving:
            raise UnknownTaskError([task], list(self.tasks), field="task")
        return self.packages[self.serving[task]]

    def select(self, requested: Sequence[str] | None, field: str = "tasks") -> tuple[str, ...]:
        """The tasks to score, in task order: all served ones by default, or those named."""
        if requested is None:
            return self.tasks
        unknown = [task for task in dict.fromkeys(requested) if task not in self.serving]
        if unknown:
            raise UnknownTaskError(unknown, list(self.tasks), field=field)
        return tuple(task for task in self.tasks if task in requested)

    def models(self, tasks: Sequence[str]) -> dict[str, ModelPackage]:
        """The package of each task."""
        return {task: self.package(task) for task in tasks}

    async def admit(self, expected_slices: int = 0) -> Reservation:
        """Shed load early: hold queue room for an exam (waiting for it a bounded time in
        arrival order), or refuse before the exam is read."""
        return await self.waiting_room.reserve(expected_slices)

    def _jobs(self, tasks: Sequence[str], make: MakeJob) -> list[ExamJob]:
        """One job per package that serves some of `tasks`; planes prepared once per input spec."""
        by_package: dict[str, list[str]] = {}
        for task in tasks:
            by_package.setdefault(self.serving[task], []).append(task)
        prepared: dict[str, ExamJob] = {}
        jobs = []
        for name, mine in by_package.items():
            spec = self.packages[name].manifest.input
            key = spec.model_dump_json()
            if key in prepared:
                first = prepared[key]
                job = ExamJob(name, first.planes, first.warnings, first.deadline, tuple(mine))
                jobs.append(job)
            else:
                prepared[key] = make(name, tuple(mine), spec)
                jobs.append(prepared[key])
        return jobs

    async def predict(
        self,
        tasks: Sequence[str],
        files: Mapping[Plane, bytes],
        reservation: Reservation | None = None,
    ) -> ExamOutcome:
        """Check and prepare the upload off the event loop, then queue it for the worker."""
        limits, timeout_s = self.config.limits, self.config.request_timeout_s

        def make(name: str, mine: tuple[str, ...], spec: InputSpec) -> ExamJob:
            return prepare_exam(name, mine, files, spec, limits, timeout_s)

        jobs = await asyncio.to_thread(self._jobs, tasks, make)
        return await self.engine.predict_all(jobs, reservation)

    async def prepare_study(
        self, tasks: Sequence[str], parts: Sequence[Part]
    ) -> tuple[list[ExamJob], Study]:
        """Read a DICOM study into jobs (one per package) off the event loop; also what the
        study was made of (read once per input size, reported from the first)."""
        studies: list[Study] = []

        def make(name: str, mine: tuple[str, ...], spec: InputSpec) -> ExamJob:
            job, study = prepare_study(
                name, mine, parts, spec, self.config.limits, self.config.study,
                self.config.request_timeout_s,
            )  # fmt: skip
            studies.append(study)
            return job

        jobs = await asyncio.to_thread(self._jobs, tasks, make)
        return jobs, studies[0]

    async def submit(
        self, jobs: list[ExamJob], reservation: Reservation | None = None
    ) -> ExamOutcome:
        """Queue one exam's prepared jobs for the worker and wait for all of them."""
        return await self.engine.predict_all(jobs, reservation)

    async def predict_stored(
        self,
        tasks: Sequence[str],
        paths: Mapping[Plane, Path],
        reservation: Reservation | None = None,
    ) -> ExamOutcome:
        """The same as `predict`, with the volumes read from stored `.npy` files."""
        limits, timeout_s = self.config.limits, self.config.request_timeout_s

        def make(name: str, mine: tuple[str, ...], spec: InputSpec) -> ExamJob:
            return load_exam(name, mine, paths, spec, limits, timeout_s)

        jobs = await asyncio.to_thread(self._jobs, tasks, make)
        return await self.engine.predict_all(jobs, reservation)

    def describe(self) -> list[dict[str, Any]]:
        """Each loaded package, with the tasks it serves here."""
        return [
            {
                **p.manifest.describe(),
                "serves": [task for task, name in self.serving.items() if name == p.manifest.name],
                "sha256": p.digest,
                "device": str(self.device),
                "precision": self.precision,
                "convolutions": self.convolutions,
                "input": p.manifest.input.model_dump(),
            }
            for p in self.packages.values()
        ]

    def stop(self) -> None:
        self.engine.stop()


def start_runtime(config: RuntimeConfig, on_batch: BatchObserver | None = None) -> Runtime:
    """Choose the device, pick and load the packages that serve the tasks, start, warm up."""
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.torch_threads or os.cpu_count() or 1)
    selection = select_packages(
        config.model_store, config.tasks, config.pinned_versions, config.task_packages
    )
    packages = {}
    for candidate in selection.packages():
        package = load_package(config.model_store, candidate.name, candidate.version, device)
        packages[candidate.name] = for_device(package, config.cpu_winograd)
        logger.info(
            "loaded %s/%s from %s on %s for %s",
            candidate.name,
            candidate.version,
            package.path,
            device,
            ", ".join(selection.tasks_of(candidate.name)),
        )
    logger.info("serving %s", selection.describe())
    engine = Engine(packages, config.engine.for_device(device.type), on_batch)
    engine.start()
    warm_up(engine)
    room = WaitingRoom(engine, config.admission_wait_s, config.max_waiting_exams)
    return Runtime(config, device, engine, dict(selection.serving), room)
