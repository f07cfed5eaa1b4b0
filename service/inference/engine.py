"""The inference engine: a bounded queue and one worker per device that packs slices.

MRI volumes do not stack (slice counts differ), so the worker packs slices, not
volumes: it takes as many queued exams as fit the slice budget of one batch
(waiting at most a short delay for more), runs each plane's backbone once over
the concatenated slices, and splits the features back by lengths for the
per-volume max, logit and exact attribution. The queue is bounded in slices;
past it `submit` refuses at once. Inference never runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch
from torch import Tensor

from service.domain import PLANES, Plane
from service.errors import DeadlineExceededError, QueueFullError
from service.inference.batch import BatchExam, BatchStats, run_batch
from service.inference.config import EngineConfig
from service.inference.predictor import ExamPrediction
from service.store.loader import ModelPackage

logger = logging.getLogger("mrnet.engine")
_SHUTTING_DOWN = "The service is shutting down and takes no new work."
BatchObserver = Callable[[BatchStats, float], None]  # stats, seconds of compute


@dataclass
class ExamJob:
    """One exam waiting for the worker: prepared planes (S, 1, h, w) and its deadline.

    It is scored by one package (by name), for `tasks` (empty: every task of the package).
    """

    package: str
    planes: dict[Plane, Tensor]
    warnings: list[str]
    deadline: float  # time.monotonic()
    tasks: tuple[str, ...] = ()
    enqueued: float = field(default_factory=time.monotonic)
    future: Future[ExamOutcome] = field(default_factory=Future)

    @property
    def slices(self) -> int:
        return sum(int(t.shape[0]) for t in self.planes.values())

    def plane_slices(self, plane: Plane) -> int:
        return int(self.planes[plane].shape[0])


@dataclass(frozen=True)
class ExamOutcome:
    """Every asked task's answer for one exam, and what it waited and cost."""

    predictions: dict[str, ExamPrediction]
    warnings: list[str]
    queue_ms: float
    inference_ms: float
    batch_exams: int

    @staticmethod
    def merge(outcomes: list[ExamOutcome]) -> ExamOutcome:
        """One exam's outcomes from several packages: the longest wait, the summed compute."""
        warnings = list(dict.fromkeys(w for outcome in outcomes for w in outcome.warnings))
        return ExamOutcome(
            {task: p for outcome in outcomes for task, p in outcome.predictions.items()},
            warnings,
            max(outcome.queue_ms for outcome in outcomes),
            sum(outcome.inference_ms for outcome in outcomes),
            max(outcome.batch_exams for outcome in outcomes),
        )


class Engine:
    """Owns the served packages (by name) on one device and the worker thread that runs them."""

    def __init__(
        self,
        packages: dict[str, ModelPackage],
        config: EngineConfig,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.packages = packages
        self.config = config
        self._on_batch = on_batch
        self._queue: deque[ExamJob] = deque()
        self._queued_slices = 0
        self._reserved_slices = 0  # admitted uploads still being read and prepared
        self._cond = threading.Condition()
        self._stopping = False
        self._room_listeners: list[Callable[[], None]] = []
        self._worker = threading.Thread(target=self._run, name="mrnet-engine", daemon=True)

    @property
    def queued_slices(self) -> int:
        return self._queued_slices

    @property
    def queued_exams(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._worker.start()

    def on_room(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from any thread, without the lock) whenever queue room may be free."""
        self._room_listeners.append(listener)

    def _room_freed(self) -> None:
        for listener in self._room_listeners:
            listener()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish what is queued, then end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout_s)

    def reserve(self, slices: int) -> Reservation:
        """Hold room for an exam before its upload is read, or refuse at once.

        Admitted uploads count against the queue while they are read and
        prepared, so that a full queue is found out here, in microseconds, and
        not after the reading. `slices` is the caller's estimate (at least one
        slice per plane is held); `submit` checks the real count again.
        """
        slices = max(slices, len(PLANES))
        with self._cond:
            if self._stopping:
                raise QueueFullError(_SHUTTING_DOWN)
            if self._queued_slices + self._reserved_slices + slices > self.config.max_queue_slices:
                raise self._full()
            self._reserved_slices += slices
        return Reservation(self, slices)

    def _release(self, slices: int) -> None:
        """Under the lock: give back a reservation's room."""
        self._reserved_slices -= slices

    def _full(self) -> QueueFullError:
        waiting = self._queued_slices + self._reserved_slices
        return QueueFullError(
            f"The inference queue is full ({waiting} of "
            f"{self.config.max_queue_slices} slices waiting or being uploaded); try again shortly."
        )

    def submit(self, job: ExamJob, reservation: Reservation | None = None) -> Future[ExamOutcome]:
        """Queue an exam, or raise QueueFullError at once when the slices do not fit.

        The exam's reservation, if it has one, is given back as the exam takes its place.
        """
        return self.submit_all([job], reservation)[0]

    def submit_all(
        self, jobs: list[ExamJob], reservation: Reservation | None = None
    ) -> list[Future[ExamOutcome]]:
        """Queue the jobs of one exam (one per package) together, or none of them."""
        slices = sum(job.slices for job in jobs)
        try:
            with self._cond:
                if reservation is not None:
                    reservation.release_locked()
                if self._stopping:
                    raise QueueFullError(_SHUTTING_DOWN)
                room = self.config.max_queue_slices - self._reserved_slices
                if self._queued_slices + slices > room:
                    raise self._full()
                self._queue.extend(jobs)
                self._queued_slices += slices
                self._cond.notify()
        finally:
            if reservation is not None:  # its estimate may have held more than the exam takes
                self._room_freed()
        return [job.future for job in jobs]

    async def predict(self, job: ExamJob, reservation: Reservation | None = None) -> ExamOutcome:
        """Submit and wait until the result or the job's deadline, whichever is first."""
        return await self.predict_all([job], reservation)

    async def predict_all(
        self, jobs: list[ExamJob], reservation: Reservation | None = None
    ) -> ExamOutcome:
        """Submit one exam's jobs and wait for all of them (or the deadline): one outcome."""
        futures = [asyncio.wrap_future(f) for f in self.submit_all(jobs, reservation)]
        remaining = min(job.deadline for job in jobs) - time.monotonic()
        try:
            outcomes = await asyncio.wait_for(asyncio.gather(*futures), max(remaining, 0.0))
        except TimeoutError:
            for job in jobs:
                job.future.cancel()  # dropped if the worker has not started it
            raise DeadlineExceededError(
                "The prediction did not finish before its deadline."
            ) from None
        return outcomes[0] if len(outcomes) == 1 else ExamOutcome.merge(list(outcomes))

    def _fits(self, batch: list[ExamJob], job: ExamJob) -> bool:
        budget = self.config.max_batch_slices
        return all(
            sum(j.plane_slices(p) for j in batch) + job.plane_slices(p) <= budget for p in PLANES
        )

    def _take_batch(self) -> list[ExamJob]:
        """Under the lock: the first job, then every following job that fits the budget."""
        batch = [self._queue.popleft()]
        while self._queue and self._fits(batch, self._queue[0]):
            batch.append(self._queue.popleft())
        self._queued_slices -= sum(job.slices for job in batch)
        return batch

    def _wait_for_batch(self) -> list[ExamJob] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            gather_until = self._queue[0].enqueued + self.config.max_queue_delay_ms / 1000
            while not self._stopping and self._room_left() and time.monotonic() < gather_until:
                self._cond.wait(gather_until - time.monotonic())
            batch = self._take_batch()
        self._room_freed()
        return batch

    def _room_left(self) -> bool:
        """True while all queued exams would still fit in one batch."""
        budget = self.config.max_batch_slices
        return all(sum(job.plane_slices(p) for job in self._queue) < budget for p in PLANES)

    def _run(self) -> None:
        if self.config.worker_nice:
            _lower_priority(self.config.worker_nice)
        while (batch := self._wait_for_batch()) is not None:
            live = [job for job in batch if self._claim(job)]
            if live:
                self._execute(live)

    @staticmethod
    def _claim(job: ExamJob) -> bool:
        """Start a job unless it was cancelled or is past its deadline (then it is dropped)."""
        if time.monotonic() > job.deadline:
            with contextlib.suppress(Exception):
                job.future.set_exception(DeadlineExceededError("The deadline passed in the queue."))
            return False
        return job.future.set_running_or_notify_cancel()

    def _execute(self, batch: list[ExamJob]) -> None:
        by_package: dict[str, list[ExamJob]] = {}
        for job in batch:
            by_package.setdefault(job.package, []).append(job)
        for name, jobs in by_package.items():
            started = time.monotonic()
            try:
                package = self.packages[name]
                exams = [BatchExam(j.planes, j.tasks or package.manifest.task_names) for j in jobs]
                predictions, stats = run_batch(package, exams)
            except Exception as error:  # a failed batch fails its requests, not the worker
                for job in jobs:
                    job.future.set_exception(error)
                continue
            self._finish(jobs, predictions, started, stats)

    def _finish(
        self,
        jobs: list[ExamJob],
        predictions: list[dict[str, ExamPrediction]],
        started: float,
        stats: BatchStats,
    ) -> None:
        inference_ms = (time.monotonic() - started) * 1000
        if self._on_batch is not None:
            self._on_batch(stats, inference_ms / 1000)
        for job, answers in zip(jobs, predictions, strict=True):
            for prediction in answers.values():
                prediction.warnings[:0] = job.warnings
            queue_ms = (started - job.enqueued) * 1000
            outcome = ExamOutcome(answers, list(job.warnings), queue_ms, inference_ms, len(jobs))
            job.future.set_result(outcome)


def _lower_priority(increment: int) -> None:
    """Raise the calling thread's nice value, before it starts any OpenMP team.

    Linux keeps a nice value per thread and new threads inherit their creator's,
    so the OpenMP threads this worker starts for torch run at it too. When
    inference holds every core, the event loop (health checks, 503 answers,
    uploads) then gets a core as soon as it has work.
    """
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(current + increment, 19))
    except OSError as error:
        logger.warning("could not lower the inference worker's priority: %s", error)


class Reservation:
    """Room held in an engine's queue for one admitted exam; given back exactly once."""

    def __init__(self, engine: Engine, slices: int) -> None:
        self._engine = engine
        self.slices = slices
        self._held = True

    def release_locked(self) -> None:
        """Give the room back; the caller holds the engine's lock."""
        if self._held:
            self._held = False
            self._engine._release(self.slices)

    def release(self) -> None:
        with self._engine._cond:
            held = self._held
            self.release_locked()
        if held:
            self._engine._room_freed()

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def warm_up(engine: Engine) -> None:
    """Run one small exam per package so the first request does not pay for set-up."""
    for name, package in engine.packages.items():
        size = package.manifest.input.network_size
        planes: dict[Plane, Tensor] = {p: torch.zeros(3, 1, size, size) for p in PLANES}
        job = ExamJob(name, planes, [], deadline=time.monotonic() + 600)
        engine.submit(job).result(timeout=600)
