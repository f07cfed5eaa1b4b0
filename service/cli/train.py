"""`mrnet train`: one network per plane shared by the tasks, per task a fusion and threshold."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from service.cli.types import Subcommands, default_of, from_options
from service.domain import PLANES
from service.training.config import HEAD_FITS, StageConfig, TrainConfig


def config_from(args: argparse.Namespace) -> TrainConfig:
    """The run's configuration: the options, and the dataclasses' defaults for the rest."""
    stages = from_options(StageConfig, args, pretrain_crop=args.pretrain_crop or None)
    return from_options(
        TrainConfig, args, tasks=parse_tasks(args), planes=tuple(args.planes), stages=stages
    )


def float_list(text: str) -> tuple[float, ...]:
    """ "0.01,0.1" as (0.01, 0.1): an option's comma-separated numbers."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from error


def parse_tasks(args: argparse.Namespace) -> tuple[str, ...]:
    """`--tasks a,b,c` (several, in this order) or `--task t` (one; default acl)."""
    if args.tasks:
        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
        if args.task is not None and args.task not in tasks:
            raise SystemExit(f"--task {args.task} is not among --tasks {args.tasks}")
    else:
        tasks = (args.task or "acl",)
    if len(set(tasks)) != len(tasks) or not tasks:
        raise SystemExit(f"--tasks must name each task once, not {args.tasks!r}")
    return tasks


def run(args: argparse.Namespace) -> int:
    from service.training.run import run_training

    command = shlex.join(["mrnet", *sys.argv[1:]])
    assembled = run_training(config_from(args), command)
    if assembled is None:
        return 0
    print(f"Wrote {assembled.path}")
    for task, report in assembled.report["tasks"].items():
        print(
            f"  {task}: valid AUC {report['auc']}, "
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
    parser.add_argument("--task", help="one label task (default acl)")
    parser.add_argument(
        "--tasks",
        help="several tasks on shared backbones, comma-separated (e.g. abnormal,acl,meniscus)",
    )
    parser.add_argument(
        "--name", help="package name (default: the task, or 'triage' for several tasks)"
    )
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
        "pretraining slices away from ligament and menisci, per slice through them",
        type=float,
    )
    _option(
        parser,
        "--pretrain-crop",
        "pretrain_crop",
        "centre crop of the slices in pretraining, 0 for whole slices",
        type=int,
    )
    _option(
        parser,
        "--pretrain-share",
        "pretrain_share",
        "share of the slices other than tears drawn each pretraining epoch",
        type=float,
    )
    parser.add_argument(
        "--head-exams",
        type=int,
        help="fit the heads and the fusion on this many train exams (default: all)",
    )
    _option(
        parser,
        "--head-fit",
        "head_fit",
        "refit each head on all 256 pooled features adjusted for the other findings' labels, "
        "also learning from each positive exam without its finding's slices and from those "
        "slices pasted into a negative exam where the data has slice truth (located, the "
        "default), adjusted only (adjusted), without the adjustment (free), or after "
        "pretraining only the pretrained head's scale (direction)",
        choices=HEAD_FITS,
    )
    _option(
        parser,
        "--head-c",
        "head_c",
        "inverse L2 strength of the head fit: one value, or comma-separated candidates "
        "chosen per plane and task by cross-validated AUC",
        type=float_list,
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
        "--work-dir", type=Path, help="where finished planes are kept (runs/<name>-seed<S>)"
    )
    parser.add_argument("--resume", action="store_true", help="reuse finished planes")
    parser.set_defaults(handler=run)
