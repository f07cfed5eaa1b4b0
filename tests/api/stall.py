"""Hold the engine's worker inside a batch until the test lets it go: events, not sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch

import service.inference.engine as engine_module
from service.domain import PLANES
from service.inference.engine import Engine, ExamJob


class Stall:
    """Stands in for run_batch: holds the worker inside a batch until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self._real = engine_module.run_batch

    def __call__(self, *args: Any) -> Any:
        self.entered.set()
        if not self.released.wait(60):
            raise RuntimeError("the test never released the worker")
        return self._real(*args)


def stall_worker(monkeypatch: pytest.MonkeyPatch) -> Stall:
    """From now on the worker blocks in its next batch until `released` is set."""
    stall = Stall()
    monkeypatch.setattr(engine_module, "run_batch", stall)
    return stall


@contextmanager
def stalled_worker(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[Stall]:
    """The worker takes one job and blocks in its batch; the queue behind it stays put."""
    stall = stall_worker(monkeypatch)
    blocker = engine.submit(job(slices=1))
    try:
        assert stall.entered.wait(30), "the worker did not take the first job"
        yield stall
    finally:
        stall.released.set()
    blocker.result(timeout=30)


def job(slices: int) -> ExamJob:
    planes = {plane: torch.zeros(slices, 1, 64, 64) for plane in PLANES}
    return ExamJob("acl", planes, [], deadline=time.monotonic() + 60)
