"""`mrnet train`: one network per plane, the fusion, a threshold, a new package."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from service.cli.types import Subcommands, default_of, from_options
from service.domain import PLANES
from service.training.config import StageConfig, TrainConfig


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The run's configuration: the options, and the dataclasses' defaults for the rest."""
    return from_options(
        TrainConfig, args, planes=tuple(args.planes), stages=from_options(StageConfig, args)
    )


def run(args: argparse.Namespace) -> int:
    from service.training.run import run_training

    command = shlex.join(["mrnet", *sys.argv[1:]])
    assembled = run_training(config_from(args), command)
    if assembled is None:
        return 0
    report = assembled.report
    print(
        f"Wrote {assembled.path}: valid AUC {report['auc']}, "
        f"attention hit rate {report.get('attention_hit_rate')}"
    )
    return 0


def _option(parser: argparse.ArgumentParser, flag: str, dest: str, text: str, **kw: Any) -> None:
    """An option filling the TrainConfig or StageConfig field `dest`, with its default."""
    config = StageConfig if dest in StageConfig.__dataclass_fields__ else TrainConfig
    default = default_of(config, dest)
    metavar = flag.removeprefix("--").upper()
    parser.add_argument(
        flag, dest=dest, default=default, metavar=metavar, help=f"{text} (default {default})", **kw
    )


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("train", help="train the three plane networks and write a package")
    parser.add_argument("--data", required=True, type=Path, help="data set root, MRNet-v1.0 layout")
    _option(parser, "--task", "task", "label task")
    _option(parser, "--out", "out", "model store", type=Path)
    parser.add_argument(
        "--planes",
        nargs="+",
        choices=PLANES,
        default=list(default_of(TrainConfig, "planes")),
        help="planes to train in this run (default all three)",
    )
    _option(parser, "--epochs", "epochs", "MRNet fine-tuning epochs", type=int)
    _option(
        parser,
        "--pretrain-epochs",
        "pretrain_epochs",
        "slice-level pretraining epochs where ground truth exists",
        type=int,
    )
    _option(parser, "--lr", "finetune_lr", "fine-tuning learning rate", type=float)
    _option(parser, "--pretrain-lr", "pretrain_lr", "pretraining learning rate", type=float)
    _option(
        parser,
        "--easy-negatives",
        "easy_per_hard",
        "pretraining slices away from the ligament per slice within it",
        type=float,
    )
    _option(parser, "--device", "device", "auto, cpu or cuda")
    _option(parser, "--seed", "seed", "random seed", type=int)
    _option(
        parser,
        "--min-sensitivity",
        "min_sensitivity",
        "operating point: best specificity at this sensitivity",
        type=float,
    )
    parser.add_argument(
        "--backbone-weights", type=Path, help="torchvision AlexNet weights to start from"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where finished planes are kept (runs/<task>-seed<S>)"
    )
    parser.add_argument("--resume", action="store_true", help="reuse finished planes")
    parser.set_defaults(handler=run)
