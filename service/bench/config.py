"""What `mrnet bench engine` and `mrnet bench http` are told.

Torch-free dataclasses, so the command line reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from service.inference.config import CPU_WINOGRAD, EngineConfig

Arrivals = Literal["poisson", "fixed"]
_ENGINE = EngineConfig()


@dataclass(frozen=True)
class EngineBenchConfig:
    store: Path
    task: str = "acl"  # whose scores are compared with the reference
    package: str | None = None  # default: the package that serves `task` (the newest)
    version: str | None = None
    device: str = "auto"
    threads: int | None = None
    concurrency: int = 8
    batch_slices: int = _ENGINE.max_batch_slices
    queue_delay_ms: float = _ENGINE.max_queue_delay_ms
    seconds: float = 20.0
    peak_seconds: float = 2.0
    tolerance: float = 1e-3  # float32: |logit diff| <= tolerance * max(1, |logit|)
    float16_tolerance: float = 0.005  # float16 autocast: |probability diff|
    cpu_winograd: bool = CPU_WINOGRAD  # as the service's MRNET_CPU_WINOGRAD
    worker_nice: int = 0  # as the reference, which runs at the caller's priority


@dataclass(frozen=True)
class LoadConfig:
    url: str
    api_key: str | None = None
    task: str = "acl"
    concurrency: tuple[int, ...] = (1, 2, 4, 8, 16)
    rate: float | None = None  # open-loop arrivals per second; None: no open-loop level
    arrivals: Arrivals = "poisson"
    seconds: float = 20.0  # per level
    drain_s: float = 30.0  # then requests still in flight are cancelled
    timeout_s: float = 120.0  # one request
    backoff_s: float = 0.05  # a closed-loop client's pause after a 503
    honor_retry_after: bool = False  # pause for a 503's Retry-After when it is longer
    probe_rate: float = 0.0  # refusal probes per second during closed-loop levels (see probe)
    max_in_flight: int = 64  # open loop: an arrival past this many in flight is dropped
    ready_timeout_s: float = 120.0
    max_total_s: float | None = None  # the whole run; by default from the levels
    seed: int = 0

    @property
    def total_bound_s(self) -> float:
        levels = len(self.concurrency) + (1 if self.rate else 0)
        budget = self.ready_timeout_s + self.timeout_s + levels * (self.seconds + self.drain_s)
        return self.max_total_s or budget

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
