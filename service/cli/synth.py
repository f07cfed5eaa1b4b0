"""`mrnet synth`: a synthetic knee MRI data set in the MRNet-v1.0 layout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.cli.types import Subcommands


def run(args: argparse.Namespace) -> int:
    from service.synth.generate import generate_dataset

    try:
        summary = generate_dataset(
            Path(args.out),
            n_train=args.train,
            n_valid=args.valid,
            seed=args.seed,
            workers=args.workers,
            progress=True,
            formats=tuple(part.strip() for part in args.format.split(",") if part.strip()),
        )
    except ValueError as error:
        print(f"mrnet synth: error: {error}", file=sys.stderr)
        return 1
    print(summary.describe())
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "synth", help="write a synthetic knee MRI data set in the MRNet-v1.0 layout"
    )
    parser.add_argument("--out", required=True, help="directory to write (created)")
    parser.add_argument("--train", type=int, default=80, help="train cases (default 80)")
    parser.add_argument("--valid", type=int, default=40, help="valid cases (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument(
        "--format",
        default="npy",
        help="comma-separated: npy (always written) and dicom, which adds each case as a "
        "DICOM study under <split>/dicom/<case_id>/ (default npy)",
    )
    parser.set_defaults(handler=run)
