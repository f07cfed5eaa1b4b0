"""The app's typed state: settings, metrics and, once loaded, the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from service.api.metrics import ServiceMetrics
from service.config import Settings
from service.errors import NotReadyError
from service.inference.runtime import Runtime


@dataclass
class ServiceState:
    settings: Settings
    metrics: ServiceMetrics
    runtime: Runtime | None = None
    loading: bool = True
    failure: str | None = None  # why the models could not be loaded

    def ready_runtime(self) -> Runtime:
        if self.runtime is not None:
            return self.runtime
        if self.failure is not None:
            raise NotReadyError(f"The models could not be loaded: {self.failure}")
        raise NotReadyError("The models are still loading; try again shortly.")
