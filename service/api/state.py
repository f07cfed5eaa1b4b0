"""The app's typed state: settings, metrics and, once built, the runtime and data set index."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.api.clients import ClientSlots
from service.api.metrics import ServiceMetrics
from service.config import Settings
from service.datasets.catalog import Catalog
from service.datasets.npy import VolumeLimits
from service.errors import NotReadyError
from service.imaging.renderer import SliceRenderer
from service.inference.engine import ExamOutcome
from service.inference.runtime import Runtime
from service.memo import AsyncMemo

STORED_PREDICTIONS = 512  # cached predictions of stored cases (a few KiB each)
StoredKey = tuple[str, ...]  # data set, split, case, then task:sha256 per task


@dataclass
class ServiceState:
    settings: Settings
    metrics: ServiceMetrics
    runtime: Runtime | None = None
    loading: bool = True
    failure: str | None = None  # why the models could not be loaded
    catalog: Catalog | None = None  # the data set index, once built
    catalog_failure: str | None = None
    renderer: SliceRenderer = field(init=False)
    stored_predictions: AsyncMemo[StoredKey, ExamOutcome] = field(init=False)
    upload_slots: ClientSlots = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = SliceRenderer(self.volume_limits)
        self.stored_predictions = AsyncMemo(STORED_PREDICTIONS)
        self.upload_slots = ClientSlots(self.settings.max_uploads_per_client)

    @property
    def volume_limits(self) -> VolumeLimits:
        """The limits of an acceptable volume, for uploads and stored files alike."""
        return self.settings.volume_limits()

    def ready_runtime(self) -> Runtime:
        if self.runtime is not None:
            return self.runtime
        if self.failure is not None:
            raise NotReadyError(f"The models could not be loaded: {self.failure}")
        raise NotReadyError("The models are still loading; try again shortly.")

    def ready_catalog(self) -> Catalog:
        if self.catalog is not None:
            return self.catalog
        if self.catalog_failure is not None:
            raise NotReadyError(f"The data set index could not be built: {self.catalog_failure}")
        raise NotReadyError("The data set index is still being built; try again shortly.")
