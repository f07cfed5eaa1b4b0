"""`mrnet evaluate`: a package's metrics on a split of a data set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from service.cli.types import Subcommands


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return "-" if value is None else str(value)


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain text table: fused first, then each plane."""
    lines = [
        f"task {report['task']}  split {report['split']}  cases {report['cases']}  "
        f"positives {report['positives']}  model {report.get('model', '-')}",
        f"{'':10} {'AUC':>7} {'95% CI':>16} {'hit rate':>9}",
        f"{'fused':10} {_fmt(report['auc']):>7} {_fmt(report['auc_ci95']):>16} "
        f"{_fmt(report.get('attention_hit_rate')):>9}",
    ]
    for plane, row in report["planes"].items():
        lines.append(
            f"{plane:10} {_fmt(row['auc']):>7} {_fmt(row['auc_ci95']):>16} "
            f"{_fmt(row.get('attention_hit_rate')):>9}"
        )
    lines.append(
        f"threshold {_fmt(report['threshold'])}: sensitivity "
        f"{_fmt(report['sensitivity'])}, specificity {_fmt(report['specificity'])}"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from service.datasets.reader import SplitReader
    from service.devices import resolve_device
    from service.evaluation.report import Scorer, evaluate
    from service.store.loader import load_package

    package = load_package(Path(args.store), args.task, args.version, resolve_device(args.device))
    manifest = package.manifest
    head = manifest.head(args.task)
    scorer = Scorer(package.planes, manifest.input, head.fusion, head.threshold.value)
    reader = SplitReader(Path(args.data), args.split, args.task)
    report = evaluate(scorer, reader, bootstrap_rounds=args.bootstrap_rounds)
    report["model"] = f"{manifest.name}/{manifest.version}"
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("evaluate", help="a package's metrics on a data set split")
    parser.add_argument("--data", required=True, help="data set root in MRNet-v1.0 layout")
    parser.add_argument("--split", default="valid", choices=["train", "valid"])
    parser.add_argument("--task", default="acl")
    parser.add_argument("--store", default="model_store", help="model store (default model_store)")
    parser.add_argument("--version", help="package version (default: the newest)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the report as JSON here")
    parser.add_argument(
        "--bootstrap-rounds", type=int, default=1000, help="AUC interval resamples (0: none)"
    )
    parser.set_defaults(handler=run)
