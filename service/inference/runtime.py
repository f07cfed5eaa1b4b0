"""What a running service holds: device, verified packages, the engine. Built once at startup."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from service.datasets.npy import VolumeLimits
from service.devices import resolve_device
from service.dicom.caps import Part
from service.dicom.study import Study
from service.domain import Plane
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
from service.store.loader import ModelPackage, load_package

logger = logging.getLogger("mrnet.runtime")


@dataclass(frozen=True)
class RuntimeConfig:
    model_store: Path
    tasks: tuple[str, ...]
    pinned_versions: Mapping[str, str]
    device: str
    torch_threads: int | None
    limits: VolumeLimits
    engine: EngineConfig
    request_timeout_s: float
    cpu_winograd: bool = CPU_WINOGRAD
    study: StudyConfig = field(default_factory=StudyConfig)
    admission_wait_s: float = 0.0  # a prediction that finds the queue full waits this long
    max_waiting_exams: int = 0


@dataclass
class Runtime:
    config: RuntimeConfig
    device: torch.device
    engine: Engine
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
        return self.engine.packages

    def package(self, task: str) -> ModelPackage:
        if task not in self.packages:
            raise UnknownTaskError(task, sorted(self.packages))
        return self.packages[task]

    async def admit(self, expected_slices: int = 0) -> Reservation:
        """Shed load early: hold queue room for an exam (waiting for it a bounded time in
        arrival order), or refuse before the exam is read."""
        return await self.waiting_room.reserve(expected_slices)

    async def predict(
        self, task: str, files: Mapping[Plane, bytes], reservation: Reservation | None = None
    ) -> ExamOutcome:
        """Check and prepare the upload off the event loop, then queue it for the worker."""
        spec = self.package(task).manifest.input
        job = await asyncio.to_thread(
            prepare_exam, task, files, spec, self.config.limits, self.config.request_timeout_s
        )
        return await self.engine.predict(job, reservation)

    async def prepare_study(self, task: str, parts: Sequence[Part]) -> tuple[ExamJob, Study]:
        """Read a DICOM study into a job off the event loop; also what the study was made of."""
        spec = self.package(task).manifest.input
        return await asyncio.to_thread(
            prepare_study,
            task,
            parts,
            spec,
            self.config.limits,
            self.config.study,
            self.config.request_timeout_s,
        )

    async def submit(self, job: ExamJob, reservation: Reservation | None = None) -> ExamOutcome:
        """Queue a prepared job for the worker."""
        return await self.engine.predict(job, reservation)

    async def predict_stored(
        self, task: str, paths: Mapping[Plane, Path], reservation: Reservation | None = None
    ) -> ExamOutcome:
        """The same as `predict`, with the volumes read from stored `.npy` files."""
        spec = self.package(task).manifest.input
        job = await asyncio.to_thread(
            load_exam, task, paths, spec, self.config.limits, self.config.request_timeout_s
        )
        return await self.engine.predict(job, reservation)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                **p.manifest.describe(),
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
    """Choose the device, load and verify every package, start the worker, warm up."""
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.torch_threads or os.cpu_count() or 1)
    packages = {}
    for task in config.tasks:
        package = load_package(config.model_store, task, config.pinned_versions.get(task), device)
        packages[task] = for_device(package, config.cpu_winograd)
        logger.info(
            "loaded %s/%s from %s on %s", task, package.manifest.version, package.path, device
        )
    engine = Engine(packages, config.engine.for_device(device.type), on_batch)
    engine.start()
    warm_up(engine)
    room = WaitingRoom(engine, config.admission_wait_s, config.max_waiting_exams)
    return Runtime(config, device, engine, room)
