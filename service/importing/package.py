"""Write the checkpoints of one or several tasks as one model package.

The published code bases release one network per task and plane, so the
package has one backbone per task (its three planes, each with one head).
All checkpoints must come from one code base: a package has one input spec.
Each task gets its fusion (given, fitted on the task's train labels of a data
set, or by default the mean of the three plane logits: coefficients 1/3,
intercept 0) and its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from service.domain import PLANES, Plane
from service.errors import PackageError
from service.importing.checkpoints import ImportedWeights, read_checkpoints
from service.importing.fusion import fit_fusion
from service.model.fusion import Fusion
from service.store.manifest import (
    Metrics,
    PackageDraft,
    TaskHead,
    Threshold,
    Training,
    is_task_name,
    is_version,
)
from service.store.selection import task_order
from service.store.writer import BackboneStates, WeightsDtype, write_package

DEFAULT_FUSION: Final = Fusion(coefficients={plane: 1 / 3 for plane in PLANES}, intercept=0.0)
DEFAULT_FUSION_METHOD: Final = (
    "not fitted: the mean of the three plane logits (coefficients 1/3 each, intercept 0)"
)
TaskPaths = Mapping[str, Mapping[Plane, Path]]  # task -> plane -> checkpoint file


@dataclass(frozen=True)
class ImportOptions:
    """Everything an import needs besides the files; `command` is recorded.

    `fusion` and `threshold` apply to every task that `fusions` and
    `thresholds` do not name.
    """

    command: str
    task: str = "acl"  # the task of a one-task import (`import_checkpoints`)
    name: str | None = None  # the package; default: the task, or the tasks joined by '-'
    format: str = "auto"
    dtype: WeightsDtype = "float16"
    version: str | None = None
    fusion: Fusion | None = None  # explicit coefficients, or
    fusion_data: Path | None = None  # an MRNet-layout data set to fit them on, or neither
    fusions: Mapping[str, Fusion] = field(default_factory=dict)
    threshold: float = 0.5
    thresholds: Mapping[str, float] = field(default_factory=dict)
    intended_use: str | None = None

    def package_name(self, tasks: list[str]) -> str:
        return self.name or "-".join(tasks)

    def threshold_of(self, task: str) -> float:
        return self.thresholds.get(task, self.threshold)


@dataclass(frozen=True)
class ImportResult:
    path: Path
    format: str
    fusion_methods: dict[str, str]  # task -> how its fusion was chosen
    options: ImportOptions

    @property
    def tasks(self) -> list[str]:
        return list(self.fusion_methods)

    @property
    def fusion_method(self) -> str:
        """The fusion method of a one-task import."""
        return next(iter(self.fusion_methods.values()))

    def describe(self) -> str:
        o, name = self.options, self.path.parent.name
        lines = [
            f"Imported {self.format} checkpoints as {name} version {self.path.name} "
            f"({o.dtype} weights) for {', '.join(self.tasks)}."
        ]
        lines += [
            f"{task}: fusion {method}; threshold {o.threshold_of(task):g}."
            for task, method in self.fusion_methods.items()
        ]
        return "\n".join(lines)


def _check_options(store: Path, tasks: list[str], options: ImportOptions) -> None:
    """Refuse bad options before any checkpoint is read or any volume scored."""
    named = [*tasks, *options.fusions, *options.thresholds]
    bad = [task for task in named if not is_task_name(task)]
    if bad:
        raise PackageError(f"{bad[0]!r} is not a task name (lower case letters, digits).")
    strays = sorted((set(options.fusions) | set(options.thresholds)) - set(tasks))
    if strays:
        raise PackageError(
            f"A fusion or threshold is given for {', '.join(strays)}, but no checkpoints are; "
            f"the imported tasks are {', '.join(tasks)}."
        )
    for value in [options.threshold, *options.thresholds.values()]:
        if not 0.0 <= value <= 1.0:
            raise PackageError(f"The threshold {value} is not between 0 and 1.")
    name = options.package_name(tasks)
    if not is_task_name(name):
        raise PackageError(f"{name!r} is not a package name (lower case letters, digits, '-').")
    if options.version is not None and not is_version(options.version):
        raise PackageError(f"{options.version!r} is not a package version (digits, dot separated).")
    if options.version is not None and (store / name / options.version).exists():
        raise PackageError(f"The package {store / name / options.version} already exists.")
    if (options.fusion is not None or options.fusions) and options.fusion_data is not None:
        raise PackageError("Give fusion coefficients or data to fit them on, not both.")


def _read(paths: TaskPaths, tasks: list[str], format_name: str) -> dict[str, ImportedWeights]:
    """Every task's three checkpoints, all in one format (a package has one input spec)."""
    weights: dict[str, ImportedWeights] = {}
    for task in tasks:
        missing = [plane for plane in PLANES if plane not in paths[task]]
        if missing:
            raise PackageError(f"The {task} checkpoints lack the {', '.join(missing)} plane.")
        weights[task] = read_checkpoints(paths[task], format_name)
        first = weights[tasks[0]].format
        if weights[task].format != first:
            raise PackageError(
                f"The {task} checkpoints are in the {weights[task].format.name} format, but the "
                f"{tasks[0]} ones are {first.name}; all tasks must come from one code base."
            )
    return weights


def _fusion(
    task: str, weights: ImportedWeights, options: ImportOptions, progress: bool
) -> tuple[Fusion, Metrics, str]:
    given = options.fusions.get(task, options.fusion)
    if given is not None:
        return given, Metrics(), "given at import"
    if options.fusion_data is None:
        return DEFAULT_FUSION, Metrics(), DEFAULT_FUSION_METHOD
    root = options.fusion_data
    fusion, metrics = fit_fusion(
        weights.states, weights.format.input, root, task, options.dtype, progress=progress
    )
    return fusion, metrics, f"fitted by logistic regression on the {task} train labels of {root}"


def _draft(
    weights: dict[str, ImportedWeights],
    options: ImportOptions,
    heads: list[TaskHead],
    methods: dict[str, str],
) -> PackageDraft:
    fmt = next(iter(weights.values())).format
    training = Training(
        source="imported",
        command=options.command,
        stages=[f"import:{fmt.name}"],
        format=fmt.name,
        checkpoints={task: imported.sources for task, imported in weights.items()},
        fusion=methods,
    )
    return PackageDraft(
        name=options.package_name(list(weights)),
        input=fmt.input,
        tasks=heads,
        training=training,
        intended_use=options.intended_use
        or f"Imported from {fmt.name} checkpoints; verify on your own validation data "
        "before any use.",
    )


def import_task_checkpoints(
    store: Path, paths: TaskPaths, options: ImportOptions, *, progress: bool = False
) -> ImportResult:
    """Convert each task's three plane checkpoints into one new package version in `store`."""
    tasks = task_order(list(paths))
    if not tasks:
        raise PackageError("No checkpoints were given.")
    _check_options(store, tasks, options)
    weights = _read(paths, tasks, options.format)
    heads, methods = [], {}
    for task in tasks:
        fusion, metrics, methods[task] = _fusion(task, weights[task], options, progress)
        threshold = Threshold(value=options.threshold_of(task), method="given at import")
        heads.append(TaskHead(task=task, fusion=fusion, threshold=threshold, metrics=metrics))
    try:
        draft = _draft(weights, options, heads, methods)
    except ValidationError as error:
        raise PackageError(f"The imported package would not be valid: {error}") from error
    backbones = [BackboneStates((task,), weights[task].states) for task in tasks]
    path = write_package(store, draft, backbones, dtype=options.dtype, version=options.version)
    return ImportResult(path, next(iter(weights.values())).format.name, methods, options)


def import_checkpoints(
    store: Path, paths: Mapping[Plane, Path], options: ImportOptions, *, progress: bool = False
) -> ImportResult:
    """Convert one task's (`options.task`) three plane checkpoints into a new package."""
    return import_task_checkpoints(store, {options.task: paths}, options, progress=progress)
