"""What the engine is told: batch budget, queue bound, the worker's nice value.

Torch-free, so `Settings` and the command line read these defaults without
loading the engine; `Settings` takes its own defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

CPU_WINOGRAD = True  # CPU engine: 3x3 layers as Winograd F(4x4, 3x3) (MRNET_CPU_WINOGRAD)


@dataclass(frozen=True)
class EngineConfig:
    max_batch_slices: int = 256  # slices per plane in one packed batch
    max_queue_delay_ms: float = 5.0  # how long the worker waits for more exams to batch
    max_queue_slices: int = 2048  # slices waiting (and reserved) before 503
    worker_nice: int = 10  # added to the worker thread's nice value (its OpenMP threads inherit it)

    def for_device(self, device_type: str) -> EngineConfig:
        """The nice value is for CPU inference; a GPU worker waits on the device, not on cores."""
        return self if device_type == "cpu" else replace(self, worker_nice=0)
