"""Response bodies of the v1 API, with examples for generated clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from service.api.examples import prediction_example
from service.datasets.catalog import CaseEntry, DatasetIndex, SplitIndex
from service.dicom.study import Study
from service.domain import PRIMARY_TASK, TASKS, Plane
from service.inference.engine import ExamOutcome
from service.inference.predictor import ExamPrediction, PlanePrediction
from service.store.loader import ModelPackage
from service.store.selection import task_order

RESPONSE_PLANES: tuple[Plane, ...] = ("sagittal", "coronal", "axial")
T = TypeVar("T")


class Planes(BaseModel, Generic[T]):
    """One value per plane, as named properties (so generated clients type each plane).

    Subclass it per value type (`class PlaneResults(Planes[PlaneResult])`): the
    subclass names the schema in the OpenAPI document.
    """

    model_config = ConfigDict(extra="forbid")

    sagittal: T
    coronal: T
    axial: T


class Labels(BaseModel):
    """One label per MRNet task: 0 or 1, null where unknown."""

    model_config = ConfigDict(extra="forbid")

    abnormal: int | None = Field(examples=[1])
    acl: int | None = Field(examples=[0])
    meniscus: int | None = Field(examples=[None])


class PlaneResult(BaseModel):
    probability: float = Field(description="sigmoid of this plane's logit", examples=[0.88])
    logit: float = Field(examples=[2.0])
    num_slices: int = Field(examples=[36])
    attention: list[float] = Field(
        description="one value per slice: the positive slice contributions to the logit, "
        "normalised to sum to 1 (all zeros when none is positive)"
    )
    top_slices: list[int] = Field(description="slices by attention, highest first (up to 3)")


class PlaneResults(Planes[PlaneResult]):
    """The prediction of each plane's model."""


class TaskPlaneResult(PlaneResult):
    """One plane of one task, with the exact decomposition of its logit."""

    contributions: list[float] = Field(
        description="one value per slice, signed: what the slice adds to the logit "
        "(bias + sum(contributions) == logit)",
        examples=[[0.0, 0.31, 1.12, -0.05]],
    )
    bias: float = Field(description="the task head's bias for this plane", examples=[-0.2])


class TaskPlaneResults(Planes[TaskPlaneResult]):
    """One task's result in each plane."""


class ModelIdentity(BaseModel):
    name: str = Field(description="the package (folder in the model store)", examples=["triage"])
    task: str = Field(description="the task this identity is about", examples=["acl"])
    version: str = Field(examples=["1"])
    architecture: str = Field(examples=["mrnet-alexnet"])
    sha256: str = Field(description="sha256 of the package manifest, which pins every file")


class TaskResult(BaseModel):
    """One task's answer: the fused probability, the decision, and each plane."""

    probability: float = Field(description="fused probability of the finding", examples=[0.97])
    positive: bool = Field(description="probability >= threshold")
    threshold: float = Field(description="the task's operating threshold", examples=[0.4])
    planes: TaskPlaneResults
    model: ModelIdentity = Field(description="the package that scored this task")


class Timing(BaseModel):
    queue: float = Field(description="milliseconds waiting for the worker")
    inference: float = Field(description="milliseconds of the packed batch's compute")
    total: float = Field(description="milliseconds from request to response")


class SeriesUsedInfo(BaseModel):
    series_instance_uid: str
    series_number: int | None = Field(examples=[3])
    series_description: str = Field(examples=["SAG T2 FS"])
    slices: int = Field(examples=[32])
    pixel_spacing_mm: list[float] = Field(description="between rows, between columns")
    slice_spacing_mm: float = Field(description="median step along the slice normal")
    orientation: list[float] = Field(description="ImageOrientationPatient (row, column cosines)")
    obliquity_degrees: float = Field(description="angle of the slice normal to the plane's axis")
    reason: str = Field(description="why this series was chosen for the plane")


class SeriesNotUsedInfo(BaseModel):
    series_instance_uid: str
    series_number: int | None
    series_description: str
    modality: str = Field(examples=["MR"])
    instances: int = Field(description="frames (slices) the series holds")
    plane: str | None = Field(description="the plane its slices lie in, where known")
    reason: str = Field(examples=["Not used: its ImageType is LOCALIZER; ..."])


class SeriesUsedPlanes(Planes[SeriesUsedInfo]):
    """The series chosen for each plane."""


class StudyInput(BaseModel):
    """What a DICOM study upload was made of: the series used per plane, and the rest."""

    planes: SeriesUsedPlanes
    not_used: list[SeriesNotUsedInfo]
    skipped: list[str] = Field(description="files in the upload that are not DICOM images")


def study_input(study: Study) -> StudyInput:
    return StudyInput(
        planes=SeriesUsedPlanes(
            **{
                plane: SeriesUsedInfo(
                    **{**vars(used), "pixel_spacing_mm": list(used.pixel_spacing_mm)},
                )
                for plane, used in study.used.items()
            }
        ),
        not_used=[SeriesNotUsedInfo(**vars(item)) for item in study.not_used],
        skipped=study.skipped,
    )


class PredictionResponse(BaseModel):
    """The answer for one exam.

    `tasks` holds every task scored. The top-level `task`, `probability`,
    `positive`, `threshold`, `planes` and `model` repeat the primary answer for
    clients that read one task: ACL when it was scored, otherwise the first
    scored task in the order abnormal, acl, meniscus (`task` says which).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [prediction_example()]})

    request_id: str
    task: str = Field(description="the task of the top-level answer", examples=["acl"])
    probability: float = Field(description="fused probability of that task", examples=[0.91])
    positive: bool = Field(description="probability >= threshold")
    threshold: float = Field(examples=[0.5])
    planes: PlaneResults
    tasks: dict[str, TaskResult] = Field(
        description="every task scored, by name (abnormal, acl, meniscus where served)"
    )
    model: ModelIdentity
    timing_ms: Timing
    warnings: list[str] = Field(description="what was done to the input, e.g. resizing")
    input: StudyInput | None = Field(
        None, description="for a DICOM study: the series used per plane and those not used"
    )


class TaskInfo(BaseModel):
    task: str = Field(examples=["acl"])
    threshold: dict[str, Any]
    metrics: dict[str, Any]


class ModelInfo(BaseModel):
    name: str = Field(description="the package (folder in the model store)", examples=["triage"])
    task: str = Field(description="the package's first served task (one-task clients)")
    version: str
    architecture: str
    sha256: str
    device: str
    precision: str
    convolutions: str = Field(description="'direct', or 'winograd-f4x4' for the CPU's 3x3 layers")
    threshold: dict[str, Any] = Field(description="the threshold of `task`")
    metrics: dict[str, Any] = Field(description="the metrics of `task`")
    tasks: list[TaskInfo] = Field(description="every task the package carries")
    serves: list[str] = Field(
        description="the tasks this service answers with this package (a newer or pinned "
        "package may serve the others it carries)",
        examples=[["abnormal", "acl", "meniscus"]],
    )
    intended_use: str
    input: dict[str, Any]


class ModelList(BaseModel):
    models: list[ModelInfo]
    tasks: dict[str, str] = Field(
        description="each served task and the package that serves it",
        examples=[{"abnormal": "triage", "acl": "triage", "meniscus": "triage"}],
    )


def _model_info(info: dict[str, Any]) -> ModelInfo:
    """The package's summary; `task`, `threshold` and `metrics` are its first served task's."""
    first = next(head for head in info["tasks"] if head["task"] == info["serves"][0])
    return ModelInfo(**{**info, **first})


def model_list(descriptions: list[dict[str, Any]], serving: Mapping[str, str]) -> ModelList:
    return ModelList(models=[_model_info(info) for info in descriptions], tasks=dict(serving))


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    detail: str | None = None


def _plane(prediction: PlanePrediction) -> PlaneResult:
    result = prediction.attribution
    return PlaneResult(
        probability=prediction.probability,
        logit=prediction.logit,
        num_slices=prediction.num_slices,
        attention=result.attention,
        top_slices=result.top_slices,
    )


def _task_plane(prediction: PlanePrediction) -> TaskPlaneResult:
    result = prediction.attribution
    return TaskPlaneResult(
        **_plane(prediction).model_dump(), contributions=result.contributions, bias=result.bias
    )


def _identity(task: str, package: ModelPackage) -> ModelIdentity:
    manifest = package.manifest
    return ModelIdentity(
        name=manifest.name,
        task=task,
        version=manifest.version,
        architecture=manifest.architecture,
        sha256=package.digest,
    )


def _task_result(prediction: ExamPrediction, package: ModelPackage) -> TaskResult:
    return TaskResult(
        probability=prediction.probability,
        positive=prediction.positive,
        threshold=prediction.threshold,
        planes=TaskPlaneResults(
            **{plane: _task_plane(prediction.planes[plane]) for plane in RESPONSE_PLANES}
        ),
        model=_identity(prediction.task, package),
    )


def primary_task(tasks: Sequence[str]) -> str:
    """The task of the top-level answer: acl when scored, else the first in task order."""
    return PRIMARY_TASK if PRIMARY_TASK in tasks else task_order(tasks)[0]


def prediction_response(
    outcome: ExamOutcome,
    packages: Mapping[str, ModelPackage],
    request_id: str,
    total_ms: float,
    study: Study | None = None,
) -> PredictionResponse:
    """The body for an outcome; `packages` gives the package of each scored task."""
    scored = task_order(list(outcome.predictions))
    primary = outcome.predictions[primary_task(scored)]
    return PredictionResponse(
        request_id=request_id,
        task=primary.task,
        probability=primary.probability,
        positive=primary.positive,
        threshold=primary.threshold,
        planes=PlaneResults(**{plane: _plane(primary.planes[plane]) for plane in RESPONSE_PLANES}),
        tasks={task: _task_result(outcome.predictions[task], packages[task]) for task in scored},
        model=_identity(primary.task, packages[primary.task]),
        timing_ms=Timing(
            queue=round(outcome.queue_ms, 2),
            inference=round(outcome.inference_ms, 2),
            total=round(total_ms, 2),
        ),
        warnings=outcome.warnings,
        input=None if study is None else study_input(study),
    )


class SplitInfo(BaseModel):
    name: str = Field(examples=["valid"])
    cases: int = Field(examples=[120])
    tasks: list[str] = Field(description="tasks with a label file", examples=[["acl"]])
    has_ground_truth: bool = Field(description="slice-level ground truth (synthetic data)")


class DatasetInfo(BaseModel):
    name: str = Field(examples=["demo"])
    available: bool
    problem: str | None = Field(description="what is wrong with the data set, if anything")
    splits: list[SplitInfo]


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]


class VolumeInfo(BaseModel):
    num_slices: int = Field(examples=[36])
    height: int = Field(examples=[256])
    width: int = Field(examples=[256])


class CaseVolumes(Planes[VolumeInfo | None]):
    """The stored volume of each plane: null where the file is missing or unreadable."""


class SliceRanges(Planes[list[int] | None]):
    """[first, last] slice per plane; null where that plane has none."""


class CaseInfo(BaseModel):
    case_id: str = Field(examples=["1130"])
    labels: Labels
    planes: CaseVolumes
    missing_planes: list[Plane]
    acl_slices: SliceRanges | None = Field(
        description="first and last slice that cut the ACL per plane, where ground truth has it"
    )


class CasePage(BaseModel):
    dataset: str
    split: str
    offset: int
    limit: int
    total: int = Field(description="cases that pass the filters")
    cases: list[CaseInfo]


def dataset_info(dataset: DatasetIndex) -> DatasetInfo:
    return DatasetInfo(
        name=dataset.name,
        available=dataset.available,
        problem=dataset.problem,
        splits=[
            SplitInfo(
                name=split.name,
                cases=len(split.cases),
                tasks=list(split.tasks),
                has_ground_truth=split.has_ground_truth,
            )
            for split in dataset.splits.values()
        ],
    )


def case_info(case: CaseEntry) -> CaseInfo:
    planes = {
        plane: None if shape is None else VolumeInfo(**vars(shape))
        for plane, shape in case.planes.items()
    }
    acl = case.acl_slices
    return CaseInfo(
        case_id=case.case_id,
        labels=Labels(**{task: case.labels.get(task) for task in TASKS}),
        planes=CaseVolumes(**planes),
        missing_planes=list(case.missing_planes),
        acl_slices=None
        if acl is None
        else SliceRanges(**{p: None if pair is None else list(pair) for p, pair in acl.items()}),
    )


def case_page(split: SplitIndex, cases: list[CaseEntry], offset: int, limit: int) -> CasePage:
    return CasePage(
        dataset=split.dataset,
        split=split.name,
        offset=offset,
        limit=limit,
        total=len(cases),
        cases=[case_info(case) for case in cases[offset : offset + limit]],
    )
