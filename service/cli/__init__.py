"""The `mrnet` command line: one module per subcommand, each a thin adapter."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from service.cli import bench, convert, evaluate, import_checkpoint, serve, synth, train
from service.errors import MRNetError

Handler = Callable[[argparse.Namespace], int]
SUBCOMMANDS = (serve, synth, convert, train, evaluate, import_checkpoint, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrnet", description="MRNet knee MRI triage service and tools."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MRNetError as error:
        print(f"mrnet {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
