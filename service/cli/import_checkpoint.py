"""`mrnet import-checkpoint`: per-plane checkpoints of public MRNet code as a model package."""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from service.cli.types import Subcommands

if TYPE_CHECKING:
    from service.domain import Plane
    from service.model.fusion import Fusion

TASK_NAME = r"[a-z][a-z0-9_-]{0,31}"  # the manifest's task pattern, without importing it

# The names of service.importing.checkpoints.FORMATS, kept here so `mrnet --help` needs no torch.
FORMAT_CHOICES = ("auto", "nicholasbien", "ahmedbesbes", "mrnet-service")


def _for_task(text: str) -> tuple[str | None, str]:
    """'acl=rest' -> ('acl', 'rest'); a value without a task name before '=' -> (None, text)."""
    task, sign, rest = text.partition("=")
    if sign and re.fullmatch(TASK_NAME, task):
        return task, rest
    return None, text


def fusion_coefficients(text: str) -> tuple[str | None, tuple[float, float, float, float]]:
    """'[TASK=]a,c,s,intercept' -> the task (or None: every task) and four finite numbers."""
    task, rest = _for_task(text)
    try:
        values = tuple(float(part) for part in rest.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not four numbers '[TASK=]axial,coronal,sagittal,intercept'"
        )
    return task, (values[0], values[1], values[2], values[3])


def probability(text: str) -> tuple[str | None, float]:
    """'[TASK=]p' -> the task (or None: every task) and a probability."""
    task, rest = _for_task(text)
    try:
        value = float(rest)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return task, value


def checkpoint_file(text: str) -> tuple[str | None, str]:
    """'[TASK=]FILE' -> the task (or None: the --task) and the file."""
    task, rest = _for_task(text)
    if not rest:
        raise argparse.ArgumentTypeError(f"{text!r} names no file")
    return task, rest


def _task_paths(args: argparse.Namespace) -> dict[str, dict[Plane, Path]]:
    """task -> plane -> file, from the repeated --axial, --coronal and --sagittal."""
    from service.domain import PLANES
    from service.errors import PackageError

    paths: dict[str, dict[Plane, Path]] = {}
    for plane in PLANES:
        for task, file in getattr(args, plane):
            mine = paths.setdefault(task or args.task, {})
            if plane in mine:
                raise PackageError(f"Two {plane} checkpoints are given for {task or args.task}.")
            mine[plane] = Path(file)
    for task, planes in paths.items():
        missing = [plane for plane in PLANES if plane not in planes]
        if missing:
            raise PackageError(
                f"The {task} checkpoints lack the {', '.join(missing)} plane: give "
                f"--{missing[0]} {task}=FILE."
            )
    return paths


def _fusions(args: argparse.Namespace) -> tuple[Fusion | None, dict[str, Fusion]]:
    from service.model.fusion import Fusion

    every, per_task = None, {}
    for task, (axial, coronal, sagittal, intercept) in args.fusion or []:
        coefficients = {"axial": axial, "coronal": coronal, "sagittal": sagittal}
        fusion = Fusion(coefficients=coefficients, intercept=intercept)
        if task is None:
            every = fusion
        else:
            per_task[task] = fusion
    return every, per_task


def run(args: argparse.Namespace) -> int:
    from service.importing.package import ImportOptions, import_task_checkpoints

    fusion, fusions = _fusions(args)
    thresholds = dict(args.threshold or [])
    options = ImportOptions(
        command=shlex.join(sys.argv),
        task=args.task,
        name=args.name,
        format=args.format,
        dtype=args.dtype,
        version=args.version,
        fusion=fusion,
        fusions=fusions,
        fusion_data=Path(args.fusion_data) if args.fusion_data else None,
        threshold=thresholds.pop(None, 0.5),
        thresholds=thresholds,
        intended_use=args.intended_use,
    )
    paths = _task_paths(args)
    result = import_task_checkpoints(Path(args.out), paths, options, progress=True)
    print(result.path)
    print(result.describe())
    return 0


def _add_package_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task", default="acl",
        help="task of the checkpoints given without TASK= (default acl)",
    )  # fmt: skip
    parser.add_argument(
        "--name", default=None,
        help="package name (default: the task, or the tasks joined by '-')",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="model store directory (created)")
    parser.add_argument("--version", default=None, help="package version (default: the next)")
    parser.add_argument(
        "--dtype", choices=("float16", "float32"), default="float16",
        help="precision of the stored weights (default float16)",
    )  # fmt: skip
    fusion = parser.add_mutually_exclusive_group()
    fusion.add_argument(
        "--fusion", type=fusion_coefficients, action="append", metavar="[TASK=]A,C,S,INTERCEPT",
        help="fusion coefficients of the axial, coronal and sagittal logits, and intercept; "
        "for every task, or with TASK= for one (repeat per task)",
    )  # fmt: skip
    fusion.add_argument(
        "--fusion-data", metavar="DIR",
        help="MRNet-layout data set whose train split the fusion is fitted on "
        "(without --fusion or --fusion-data: the mean of the plane logits)",
    )  # fmt: skip
    parser.add_argument(
        "--threshold", type=probability, action="append", metavar="[TASK=]P",
        help="operating threshold on the fused probability (default 0.5); for every task, "
        "or with TASK= for one (repeat per task)",
    )  # fmt: skip
    parser.add_argument("--intended-use", default=None, help="intended use for the manifest")


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "import-checkpoint",
        help="turn per-plane MRNet checkpoints (state dicts) of one or more tasks into a "
        "model package",
        description=(
            "Read three per-plane state dicts per task with torch.load(weights_only=True) and "
            "write one model package (one backbone per task) with the preprocessing their code "
            "was trained with. One task: --axial FILE --coronal FILE --sagittal FILE --task acl. "
            "Several: --axial acl=FILE --axial meniscus=FILE ... (each plane once per task). "
            "Formats: "
            "nicholasbien (model.features.*, classifier.*), ahmedbesbes "
            "(pretrained_model.features.*, classifer.*), mrnet-service (features.*, "
            "classifier.*; this service's preprocessing)."
        ),
    )
    for plane in ("axial", "coronal", "sagittal"):
        parser.add_argument(
            f"--{plane}", required=True, action="append", type=checkpoint_file,
            metavar="[TASK=]FILE", help=f"{plane} state dict (repeat with TASK= per task)",
        )  # fmt: skip
    parser.add_argument(
        "--format", choices=FORMAT_CHOICES, default="auto",
        help="checkpoint format (default auto: detected from the keys)",
    )  # fmt: skip
    _add_package_options(parser)
    parser.set_defaults(handler=run)
