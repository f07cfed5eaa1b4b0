"""The service's one `Settings`, read from `MRNET_*` environment variables.

Defaults serve the demo model and demo data on one machine with no setup. The
engine's and the volume checks' defaults are their dataclasses' (read here,
not repeated), and the configurations the runtime is built from come from
`Settings` in one place: `volume_limits`, `engine_config`, `runtime_config`.
`docs/operations.md` lists every field; a test keeps that table true.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.datasets.npy import VolumeLimits
from service.dicom.caps import StudyCaps
from service.dicom.rules import DEFAULT_RULES, SelectionRules, compile_rules
from service.inference.config import CPU_WINOGRAD, EngineConfig

if TYPE_CHECKING:
    from service.inference.runtime import RuntimeConfig

StringList = Annotated[list[str], NoDecode]
DATASET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENGINE, _VOLUME, _STUDY = EngineConfig(), VolumeLimits(), StudyCaps()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MRNET_", extra="ignore")

    model_store: Path = Field(
        Path("model_store"), description="model packages root: <name>/<version>/ folders"
    )
    tasks: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="tasks to serve (comma separated or JSON list); default: every task "
        "the store's packages carry",
    )
    pinned_versions: dict[str, str] = Field(
        default_factory=dict,
        description='pin a version per package (by name), e.g. {"acl": "1", "triage": "2"}',
    )
    task_packages: dict[str, str] = Field(
        default_factory=dict,
        description="the package (by name) that serves a task, where several carry it, "
        'e.g. {"acl": "acl"}; default: the newest package (created_at)',
    )
    datasets: dict[str, Path] = Field(
        default_factory=lambda: {"demo": Path("data/demo")},
        description="data sets to browse: JSON object of name to MRNet-layout root folder",
    )
    device: str = Field("auto", description="auto (cuda when available), cpu, cuda, cuda:N")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="accepted keys, comma separated or JSON list (none: the API is open)",
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="request body cap (413 past it)"
    )
    max_slices: int = Field(
        _VOLUME.max_slices, ge=1, le=1024, description="slices per volume (422 past it)"
    )
    max_batch_slices: int = Field(
        _ENGINE.max_batch_slices, ge=1, description="slices per plane in one packed batch"
    )
    max_queue_delay_ms: float = Field(
        _ENGINE.max_queue_delay_ms, ge=0, description="how long the worker waits for more exams"
    )
    max_queue_slices: int = Field(
        _ENGINE.max_queue_slices, ge=1, description="slices waiting (or being read) before 503"
    )
    request_timeout_s: float = Field(60.0, gt=0, description="deadline of a prediction (504)")
    upload_timeout_s: float = Field(
        300.0, gt=0, description="a request body must arrive whole within this (408 past it)"
    )
    upload_min_bytes_per_s: int = Field(
        32 * 1024, ge=0, description="after the grace period, slower bodies get 408 (0: none)"
    )
    upload_grace_s: float = Field(10.0, ge=0, description="before the minimum rate applies")
    upload_stall_s: float = Field(
        30.0, gt=0, description="a body that sends nothing for this long gets 408"
    )
    max_uploads_per_client: int = Field(
        0, ge=0, description="predictions in progress per client address, 429 past it (0: none)"
    )
    admission_wait_ms: float = Field(
        2000.0, ge=0, description="a prediction that finds the queue full waits this long for room"
    )
    max_waiting_exams: int = Field(
        32, ge=0, description="predictions waiting for room at once; past it 503 at once"
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="idle keep-alive connections are closed after this (uvicorn)"
    )
    cors_origins: StringList = Field(
        default_factory=list, description="allowed browser origins (JSON list or comma separated)"
    )
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads for torch (none: the cores)"
    )
    worker_nice: int = Field(
        _ENGINE.worker_nice,
        ge=0,
        le=19,
        description="CPU: nice increment of the inference threads (0: none)",
    )
    cpu_winograd: bool = Field(
        CPU_WINOGRAD,
        description="CPU: 3x3 convolutions as Winograd F(4x4, 3x3), float32, ~1e-5 relative",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error"
    )
    dicom_series_rules: SelectionRules = Field(
        default_factory=dict,
        description="DICOM: JSON object of plane to SeriesDescription regular expressions, in "
        "order of preference; a plane not given keeps MRNet's protocol (docs/dicom.md)",
    )
    max_study_instances: int = Field(
        _STUDY.max_instances, ge=3, description="DICOM: instances, parts or zip members (413)"
    )
    max_study_bytes: int = Field(
        _STUDY.max_inflated_bytes,
        ge=1024,
        description="DICOM: bytes of all instances once unzipped, counted while inflating (413)",
    )
    max_frame_pixels: int = Field(
        _STUDY.max_frame_pixels, ge=1024, description="DICOM: rows x columns of a frame (413)"
    )
    min_series_slices: int = Field(
        _STUDY.min_series_slices, ge=1, description="DICOM: fewer slices is not a volume"
    )

    @field_validator("api_keys", "cors_origins", "tasks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        parts = [part.strip() for part in value.split(",") if part.strip()]
        return None if info.field_name == "tasks" and not parts else parts

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name in value:
            if not DATASET_NAME.fullmatch(name):
                raise ValueError(
                    f"data set name {name!r} must be 1 to 64 letters, digits, '_' or '-'"
                )
        return value

    @field_validator("dicom_series_rules")
    @classmethod
    def _rules_compile(cls, value: SelectionRules) -> SelectionRules:
        compile_rules(value)  # a bad expression stops the service at start, named
        return value

    @model_validator(mode="after")
    def _batch_holds_a_volume(self) -> Settings:
        if self.max_batch_slices < self.max_slices:
            raise ValueError("max_batch_slices must be at least max_slices")
        if self.max_queue_slices < 3 * self.max_slices:
            raise ValueError("max_queue_slices must hold one exam: at least 3 * max_slices")
        return self

    def volume_limits(self) -> VolumeLimits:
        """What an acceptable volume is, for uploads and stored files alike."""
        return VolumeLimits(max_slices=self.max_slices)

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            max_batch_slices=self.max_batch_slices,
            max_queue_delay_ms=self.max_queue_delay_ms,
            max_queue_slices=self.max_queue_slices,
            worker_nice=self.worker_nice,
        )

    def runtime_config(self) -> RuntimeConfig:
        """Everything `start_runtime` needs (imported here, late: the runtime needs torch)."""
        from service.inference.runtime import RuntimeConfig
        from service.inference.studies import StudyConfig

        return RuntimeConfig(
            model_store=self.model_store,
            tasks=tuple(self.tasks) if self.tasks else None,
            pinned_versions=self.pinned_versions,
            task_packages=self.task_packages,
            device=self.device,
            torch_threads=self.torch_threads,
            limits=self.volume_limits(),
            engine=self.engine_config(),
            request_timeout_s=self.request_timeout_s,
            cpu_winograd=self.cpu_winograd,
            study=StudyConfig(caps=self.study_caps(), rules=self.series_rules()),
            admission_wait_s=self.admission_wait_ms / 1000,
            max_waiting_exams=self.max_waiting_exams,
        )

    def series_rules(self) -> SelectionRules:
        """The selection rules: MRNet's protocol, with the planes the setting gives replaced."""
        return {**DEFAULT_RULES, **self.dicom_series_rules}

    def study_caps(self) -> StudyCaps:
        """What a DICOM upload (or a study `mrnet convert` reads) may make the service do."""
        return StudyCaps(
            max_instances=self.max_study_instances,
            max_inflated_bytes=self.max_study_bytes,
            max_frame_pixels=self.max_frame_pixels,
            min_series_slices=self.min_series_slices,
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings; tests override the dependency, not the environment."""
    return Settings()
