"""`mrnet evaluate`: a package's metrics on a split of a data set, for each of its tasks."""

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


def format_task(report: dict[str, Any], model: str = "-") -> str:
    """One task's report as a plain text table: fused first, then each plane."""
    ligament = "ligament_hit_rate" in report
    extra = f" {'ligament':>9}" if ligament else ""
    lines = [
        f"task {report['task']}  split {report['split']}  cases {report['cases']}  "
        f"positives {report['positives']}  model {model}",
        f"{'':10} {'AUC':>7} {'95% CI':>16} {'hit rate':>9}{extra}",
        f"{'fused':10} {_fmt(report['auc']):>7} {_fmt(report['auc_ci95']):>16} "
        f"{_fmt(report.get('attention_hit_rate')):>9}"
        + (f" {_fmt(report.get('ligament_hit_rate')):>9}" if ligament else ""),
    ]
    for plane, row in report["planes"].items():
        lines.append(
            f"{plane:10} {_fmt(row['auc']):>7} {_fmt(row['auc_ci95']):>16} "
            f"{_fmt(row.get('attention_hit_rate')):>9}"
            + (f" {_fmt(row.get('ligament_hit_rate')):>9}" if ligament else "")
        )
    lines.append(f"leading plane hit rate {_fmt(report.get('leading_plane_hit_rate'))}")
    lines.append(
        f"threshold {_fmt(report['threshold'])}: sensitivity "
        f"{_fmt(report['sensitivity'])}, specificity {_fmt(report['specificity'])}"
    )
    return "\n".join(lines)


def format_table(report: dict[str, Any]) -> str:
    """Every task's table, then the MRNet leaderboard figure."""
    model = report.get("model", "-")
    parts = [format_task(task, model) for task in report["tasks"].values()]
    parts.append(
        f"MRNet leaderboard (mean AUC of the three tasks): {_fmt(report['mrnet_mean_auc'])}"
    )
    return "\n\n".join(parts)


def _default_package(store: Path) -> str:
    """ "triage" where the store has it (or cannot say), else its only package."""
    from service.store.loader import list_packages

    names = list_packages(store)
    return names[0] if len(names) == 1 and "triage" not in names else "triage"


def run(args: argparse.Namespace) -> int:
    from service.datasets.reader import SplitReader
    from service.devices import resolve_device
    from service.evaluation.plots import write_plots
    from service.evaluation.report import Scorer, TaskScorer, evaluate
    from service.inference.cpu_plane import CpuPlane
    from service.store.loader import load_package

    name = args.package or args.task or _default_package(Path(args.store))
    package = load_package(Path(args.store), name, args.version, resolve_device(args.device))
    manifest = package.manifest
    tasks = [args.task] if args.task else list(manifest.task_names)
    located = {task: manifest.locate(task) for task in tasks}
    heads = [
        TaskScorer(
            task,
            located[task][1],
            manifest.head(task).fusion,
            manifest.head(task).threshold.value,
            located[task][0],
        )
        for task in tasks
    ]
    readers = {task: SplitReader(Path(args.data), args.split, task) for task in tasks}
    # On a CPU through the engine's copy of each network: the same features, faster.
    backbones = [
        {
            plane: CpuPlane(network) if package.device.type == "cpu" else network
            for plane, network in backbone.planes.items()
        }
        for backbone in package.backbones
    ]
    scorer = Scorer(backbones, manifest.input, heads)
    report = evaluate(scorer, readers, bootstrap_rounds=args.bootstrap_rounds)
    report["model"] = f"{manifest.name}/{manifest.version}"
    print(format_table(report))
    if args.json:
        path = Path(args.json)
        path.write_text(json.dumps(report, indent=2) + "\n")
        for plot in write_plots(report, path):
            print(f"wrote {plot}")
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("evaluate", help="a package's metrics on a data set split")
    parser.add_argument("--data", required=True, help="data set root in MRNet-v1.0 layout")
    parser.add_argument("--split", default="valid", choices=["train", "valid"])
    parser.add_argument(
        "--package",
        help="package (default: the --task's, else 'triage', else the store's only one)",
    )
    parser.add_argument("--task", help="only this task of the package (default: all of them)")
    parser.add_argument("--store", default="model_store", help="model store (default model_store)")
    parser.add_argument("--version", help="package version (default: the newest)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--json", help="also write the report as JSON here, and PNG plots next to it"
    )
    parser.add_argument(
        "--bootstrap-rounds", type=int, default=1000, help="AUC interval resamples (0: none)"
    )
    parser.set_defaults(handler=run)
