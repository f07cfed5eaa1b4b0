"""`mrnet train`: one network per plane, the fusion, a threshold, a new package."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from service.cli.types import Subcommands
from service.domain import PLANES


def run(args: argparse.Namespace) -> int:
    from service.training.run import run_training
    from service.training.stages import StageConfig
    from service.training.trainer import TrainConfig

    config = TrainConfig(
        data=Path(args.data),
        task=args.task,
        out=Path(args.out),
        planes=tuple(args.planes),
        epochs=args.epochs,
        pretrain_epochs=args.pretrain_epochs,
        device=args.device,
        seed=args.seed,
        resume=args.resume,
        min_sensitivity=args.min_sensitivity,
        work_dir=Path(args.work_dir or f"runs/{args.task}-seed{args.seed}"),
        backbone_weights=Path(args.backbone_weights) if args.backbone_weights else None,
        stages=StageConfig(
            pretrain_lr=args.pretrain_lr, finetune_lr=args.lr, easy_per_hard=args.easy_negatives
        ),
    )
    command = shlex.join(["mrnet", *sys.argv[1:]])
    assembled = run_training(config, command)
    if assembled is None:
        return 0
    report = assembled.report
    print(
        f"Wrote {assembled.path}: valid AUC {report['auc']}, "
        f"attention hit rate {report.get('attention_hit_rate')}"
    )
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("train", help="train the three plane networks and write a package")
    parser.add_argument("--data", required=True, help="data set root in MRNet-v1.0 layout")
    parser.add_argument("--task", default="acl", help="label task (default acl)")
    parser.add_argument("--out", default="model_store", help="model store (default model_store)")
    parser.add_argument(
        "--planes",
        nargs="+",
        choices=PLANES,
        default=list(PLANES),
        help="planes to train in this run (default all three)",
    )
    parser.add_argument("--epochs", type=int, default=3, help="MRNet fine-tuning epochs")
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=12,
        help="slice-level pretraining epochs where ground truth exists",
    )
    parser.add_argument("--lr", type=float, default=1e-5, help="fine-tuning learning rate")
    parser.add_argument("--pretrain-lr", type=float, default=1e-4, help="pretraining rate")
    parser.add_argument(
        "--easy-negatives",
        type=float,
        default=0.25,
        help="pretraining slices away from the ligament per slice within it (default 0.25)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-sensitivity",
        type=float,
        default=0.90,
        help="operating point: best specificity at this sensitivity",
    )
    parser.add_argument("--backbone-weights", help="torchvision AlexNet weights to start from")
    parser.add_argument("--work-dir", help="where finished planes are kept (runs/<task>-seed<S>)")
    parser.add_argument("--resume", action="store_true", help="reuse finished planes")
    parser.set_defaults(handler=run)
