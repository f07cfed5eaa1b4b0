"""`mrnet import-checkpoint`: per-plane checkpoints of public MRNet code as a model package."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

from service.cli.types import Subcommands

# The names of service.importing.checkpoints.FORMATS, kept here so `mrnet --help` needs no torch.
FORMAT_CHOICES = ("auto", "nicholasbien", "ahmedbesbes", "mrnet-service")


def fusion_coefficients(text: str) -> tuple[float, float, float, float]:
    """'a,c,s,intercept' -> four finite numbers."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not four numbers 'axial,coronal,sagittal,intercept'"
        )
    return values[0], values[1], values[2], values[3]


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return value


def run(args: argparse.Namespace) -> int:
    from service.domain import PLANES
    from service.importing.checkpoints import ImportOptions, import_checkpoints
    from service.model.fusion import Fusion

    fusion = None
    if args.fusion is not None:
        axial, coronal, sagittal, intercept = args.fusion
        coefficients = {"axial": axial, "coronal": coronal, "sagittal": sagittal}
        fusion = Fusion(coefficients=coefficients, intercept=intercept)
    options = ImportOptions(
        command=shlex.join(sys.argv),
        task=args.task,
        format=args.format,
        dtype=args.dtype,
        version=args.version,
        fusion=fusion,
        fusion_data=Path(args.fusion_data) if args.fusion_data else None,
        threshold=args.threshold,
        intended_use=args.intended_use,
    )
    paths = {plane: Path(getattr(args, plane)) for plane in PLANES}
    result = import_checkpoints(Path(args.out), paths, options, progress=True)
    print(result.path)
    print(result.describe())
    return 0


def _add_package_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="acl", help="task the weights score (default acl)")
    parser.add_argument("--out", required=True, help="model store directory (created)")
    parser.add_argument("--version", default=None, help="package version (default: the next)")
    parser.add_argument(
        "--dtype", choices=("float16", "float32"), default="float16",
        help="precision of the stored weights (default float16)",
    )  # fmt: skip
    fusion = parser.add_mutually_exclusive_group()
    fusion.add_argument(
        "--fusion", type=fusion_coefficients, metavar="A,C,S,INTERCEPT",
        help="fusion coefficients of the axial, coronal and sagittal logits, and intercept",
    )  # fmt: skip
    fusion.add_argument(
        "--fusion-data", metavar="DIR",
        help="MRNet-layout data set whose train split the fusion is fitted on "
        "(without --fusion or --fusion-data: the mean of the plane logits)",
    )  # fmt: skip
    parser.add_argument(
        "--threshold", type=probability, default=0.5,
        help="operating threshold on the fused probability (default 0.5)",
    )  # fmt: skip
    parser.add_argument("--intended-use", default=None, help="intended use for the manifest")


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "import-checkpoint",
        help="turn per-plane MRNet checkpoints (state dicts) into a model package",
        description=(
            "Read three per-plane state dicts with torch.load(weights_only=True) and write a "
            "model package with the preprocessing their code was trained with. Formats: "
            "nicholasbien (model.features.*, classifier.*), ahmedbesbes "
            "(pretrained_model.features.*, classifer.*), mrnet-service (features.*, "
            "classifier.*; this service's preprocessing)."
        ),
    )
    for plane in ("axial", "coronal", "sagittal"):
        parser.add_argument(f"--{plane}", required=True, metavar="FILE", help=f"{plane} state dict")
    parser.add_argument(
        "--format", choices=FORMAT_CHOICES, default="auto",
        help="checkpoint format (default auto: detected from the keys)",
    )  # fmt: skip
    _add_package_options(parser)
    parser.set_defaults(handler=run)
