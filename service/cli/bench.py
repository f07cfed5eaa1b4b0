"""`mrnet bench`: `engine` (the engine against the published path), `http` (a load test)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.bench.config import EngineBenchConfig, LoadConfig
from service.cli.types import Subcommands, default_of, from_options

if TYPE_CHECKING:
    from service.bench.exams import ExamSet


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number above 0")
    return value


def _levels(text: str) -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4); an empty string means no closed-loop levels."""
    return tuple(_positive_int(part) for part in text.split(",") if part.strip())


def _exam_set(args: argparse.Namespace) -> ExamSet:
    from service.bench.exams import build_exam_set

    data = Path(args.data) if args.data else None
    return build_exam_set(
        args.exams, args.seed, args.slices, args.size, data, args.split, args.task, progress=True
    )


def _batch_slices(args: argparse.Namespace, exams: ExamSet) -> int:
    """--batch-exams as slices per plane, else --batch-slices (default: the service's)."""
    if args.batch_exams is not None:
        return int(args.batch_exams * exams.max_plane_slices)
    return int(args.batch_slices)


def run_engine(args: argparse.Namespace) -> int:
    from service.bench.engine import run_engine_bench
    from service.bench.report import engine_targets, format_engine, write_json

    exams = _exam_set(args)
    config = from_options(EngineBenchConfig, args, batch_slices=_batch_slices(args, exams))
    report = run_engine_bench(config, exams, _say)
    report["targets"] = engine_targets(report)
    print(format_engine(report))
    if args.json:
        write_json(Path(args.json), report)
    if not report["agreement"]["ok"]:
        _say("mrnet bench engine: error: the engine's scores differ from the reference's.")
        return 1
    return 0


def load_config(args: argparse.Namespace) -> LoadConfig:
    return from_options(LoadConfig, args, backoff_s=args.backoff_ms / 1000)


def run_http(args: argparse.Namespace) -> int:
    from service.bench.exams import encode_exams
    from service.bench.load import run_load_test
    from service.bench.machine import machine_info
    from service.bench.report import format_http, http_targets, markdown_http, read_json, write_json

    config = load_config(args)
    exams = _exam_set(args)
    report = run_load_test(config, encode_exams(exams), _say)
    report["exam_set"] = exams.describe()
    # The load generator's machine; the server's too when it serves on this one.
    report["machine"] = {**machine_info("cpu"), "role": "load generator"}
    engine = read_json(Path(args.engine_json)) if args.engine_json else None
    if engine is not None and engine["exam_set"] != report["exam_set"]:
        report["notes"].append("The engine report was measured on other exams than these.")
    report["targets"] = http_targets(report, engine)
    print(format_http(report))
    out = Path(args.out)
    write_json(out / "bench-http.json", report)
    (out / "bench-http.md").write_text(markdown_http(report))
    _say(f"wrote {out / 'bench-http.json'} and {out / 'bench-http.md'}")
    return 0


def _add_exam_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("exams (the same options give the same exams to both)")
    group.add_argument("--exams", type=_positive_int, default=8, help="distinct exams (default 8)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument(
        "--slices", type=_positive_int, help="noise volumes of S slices per plane, not synthetic"
    )
    group.add_argument("--size", type=_positive_int, default=256, help="--slices volume size")
    group.add_argument("--data", help="use the cases of an MRNet-layout data set instead")
    group.add_argument("--split", default="valid", choices=["train", "valid"])
    parser.add_argument("--task", default=_engine("task"), help="task (default acl)")


def _engine(name: str) -> Any:
    return default_of(EngineBenchConfig, name)


def _load(name: str) -> Any:
    return default_of(LoadConfig, name)


def _register_engine(bench: Subcommands) -> None:
    parser = bench.add_parser(
        "engine", help="the engine against the published one-exam-at-a-time path"
    )
    _add_exam_options(parser)
    parser.add_argument(
        "--store", type=Path, default=Path("model_store"), help="model store (default model_store)"
    )
    parser.add_argument(
        "--package",
        help="package name (default: the newest that carries --task); with several tasks, "
        "also timed as --task alone on the same backbone",
    )
    parser.add_argument("--version", help="package version (default: the newest)")
    parser.add_argument("--device", default=_engine("device"), help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=_positive_int, help="torch threads (default: cores)")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=_engine("concurrency"),
        help=f"engine submitters (default {_engine('concurrency')})",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--batch-slices",
        type=_positive_int,
        default=_engine("batch_slices"),
        help=f"slices per plane per batch (default {_engine('batch_slices')}, the service's)",
    )
    budget.add_argument(
        "--batch-exams", type=_positive_int, help="batch budget as this many of the largest exams"
    )
    parser.add_argument(
        "--queue-delay-ms",
        type=float,
        default=_engine("queue_delay_ms"),
        help=f"default {_engine('queue_delay_ms')}",
    )
    parser.add_argument(
        "--seconds",
        type=_positive_float,
        default=_engine("seconds"),
        help=f"per timed run (default {_engine('seconds')})",
    )
    parser.add_argument("--peak-seconds", type=_positive_float, default=_engine("peak_seconds"))
    parser.add_argument(
        "--tolerance", type=_positive_float, default=_engine("tolerance"), help="float32 logits"
    )
    parser.add_argument(
        "--cpu-winograd",
        action=argparse.BooleanOptionalAction,
        default=_engine("cpu_winograd"),
        help="CPU engine: Winograd 3x3 layers, as the service",
    )
    parser.add_argument("--json", help="also write the report as JSON here")
    parser.set_defaults(handler=run_engine)


def _register_http(bench: Subcommands) -> None:
    parser = bench.add_parser("http", help="load-test a running server over HTTP")
    _add_exam_options(parser)
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--api-key", default=os.environ.get("MRNET_API_KEY"), help="or MRNET_API_KEY"
    )
    parser.add_argument(
        "--concurrency", type=_levels, default=_load("concurrency"), help="closed-loop levels"
    )
    parser.add_argument("--rate", type=_positive_float, help="open-loop arrivals per second")
    parser.add_argument("--arrivals", default=_load("arrivals"), choices=["poisson", "fixed"])
    parser.add_argument(
        "--seconds",
        type=_positive_float,
        default=_load("seconds"),
        help=f"per level (default {_load('seconds')})",
    )
    parser.add_argument(
        "--drain-seconds",
        dest="drain_s",
        type=float,
        default=_load("drain_s"),
        help="wait for in-flight requests, then cancel",
    )
    parser.add_argument(
        "--timeout",
        dest="timeout_s",
        type=_positive_float,
        default=_load("timeout_s"),
        help="one request, s",
    )
    parser.add_argument(
        "--backoff-ms", type=float, default=_load("backoff_s") * 1000, help="pause after a 503"
    )
    parser.add_argument(
        "--honor-retry-after",
        action="store_true",
        help="after a 503, pause for its Retry-After when that is longer than --backoff-ms",
    )
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=_load("probe_rate"),
        help="closed loop: refusal probes per second (Expect: 100-continue, no body)",
    )
    parser.add_argument(
        "--max-in-flight", type=_positive_int, default=_load("max_in_flight"), help="open loop"
    )
    parser.add_argument(
        "--ready-timeout",
        dest="ready_timeout_s",
        type=_positive_float,
        default=_load("ready_timeout_s"),
    )
    parser.add_argument(
        "--max-total-seconds",
        dest="max_total_s",
        type=_positive_float,
        help="hard bound, all levels",
    )
    parser.add_argument("--engine-json", help="a `bench engine --json` report, for the ratios")
    parser.add_argument("--out", default="runs/bench", help="folder for JSON and markdown")
    parser.set_defaults(handler=run_http)


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("bench", help="benchmark the engine or a running server")
    bench = parser.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    _register_engine(bench)
    _register_http(bench)
