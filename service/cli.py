"""The `mrnet` command line: one subcommand per job, each a thin adapter."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def _synth(args: argparse.Namespace) -> int:
    from service.synth.generate import generate_dataset

    summary = generate_dataset(
        Path(args.out),
        n_train=args.train,
        n_valid=args.valid,
        seed=args.seed,
        workers=args.workers,
        progress=True,
    )
    print(summary.describe())
    return 0


def _add_synth(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "synth", help="write a synthetic knee MRI data set in the MRNet-v1.0 layout"
    )
    parser.add_argument("--out", required=True, help="directory to write (created)")
    parser.add_argument("--train", type=int, default=80, help="train cases (default 80)")
    parser.add_argument("--valid", type=int, default=40, help="valid cases (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.set_defaults(handler=_synth)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrnet", description="MRNet knee MRI triage service and tools."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_synth(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
