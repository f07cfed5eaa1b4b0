"""`mrnet convert`: a folder of DICOM studies into the MRNet-v1.0 layout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.cli.types import Subcommands


def run(args: argparse.Namespace) -> int:
    from service.config import Settings
    from service.dicom.convert import convert_folder, read_study_labels

    folder, root = Path(args.dicom), Path(args.out)
    if not folder.is_dir():
        print(f"mrnet convert: error: {folder} is not a folder", file=sys.stderr)
        return 1
    try:
        labels = read_study_labels(Path(args.labels)) if args.labels else None
    except (OSError, ValueError) as error:
        print(f"mrnet convert: error: {error}", file=sys.stderr)
        return 1
    settings = Settings()
    root.mkdir(parents=True, exist_ok=True)
    result = convert_folder(
        folder, root, args.split, settings.series_rules(), settings.study_caps(), args.size, labels
    )
    print(result.describe())
    return 0 if result.converted else 1


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "convert", help="turn a folder of DICOM studies into the MRNet-v1.0 layout"
    )
    parser.add_argument(
        "--dicom", required=True, help="folder with one sub-folder (or .zip) per study"
    )
    parser.add_argument("--out", required=True, help="data set root to write (created)")
    parser.add_argument("--split", default="valid", choices=("train", "valid"))
    parser.add_argument("--size", type=int, default=256, help="slice size (default 256)")
    parser.add_argument(
        "--labels", help="CSV with a header: study, then a column per task (0 or 1)"
    )
    parser.set_defaults(handler=run)
