"""Tables, target ratios and files for the benchmark reports (plain dicts, as in the JSON)."""

from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import Any

Report = dict[str, Any]

ENGINE_SPEEDUP_TARGET = 1.3  # engine throughput / reference, on CPU
BATCHING_TARGET_CUDA = 4.0  # packed batches / one exam per batch, on CUDA at concurrency 16
FLOAT16_TARGET = 0.005  # |probability diff|, float16 autocast vs float32
HTTP_LATENCY_TARGET = 1.10  # HTTP p50 at concurrency 1 / engine p50 at concurrency 1
HTTP_THROUGHPUT_TARGET = 0.9  # HTTP throughput at concurrency 8 / engine throughput
REJECT_P99_TARGET_MS = 50.0  # p99 latency of 503 answers
TASKS_COST_TARGET = 1.15  # ms per exam, every task of a package / its one task alone


_COMPARE = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


def _target(name: str, value: float | None, op: str, bound: float, note: str = "") -> Report:
    met = None if value is None else bool(_COMPARE[op](value, bound))
    return {"name": name, "value": value, "target": f"{op} {bound:g}", "met": met, "note": note}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def engine_targets(report: Report) -> list[Report]:
    """The engine's ratios: speed-up over the reference, batching, precision."""
    runs = report["runs"]
    speedup = _ratio(runs["engine"]["exams_per_s"], runs["reference"]["exams_per_s"])
    batching = _ratio(runs["engine"]["exams_per_s"], runs["engine_one_exam"]["exams_per_s"])
    cuda = report["machine"]["device"].startswith("cuda")
    targets = [
        _target("engine / reference throughput", speedup, ">=", ENGINE_SPEEDUP_TARGET),
        _target(
            "packed / one exam per batch throughput",
            batching,
            ">=",
            BATCHING_TARGET_CUDA if cuda else 1.0,
            "" if cuda else "the 4x target is for CUDA at concurrency 16",
        ),
    ]
    cost = report.get("tasks_cost")
    if cost is not None:
        name = f"{cost['tasks']} tasks / one task ms per exam"
        note = f"{report['model']['backbones']} backbone(s), interleaved, same exams"
        targets.append(_target(name, cost["ratio"], "<=", TASKS_COST_TARGET, note))
    if cuda:
        worst = report["agreement"].get("float16_vs_float32_max_probability_diff")
        targets.append(
            _target("float16 vs float32 |probability diff|", worst, "<=", FLOAT16_TARGET)
        )
    return targets


def _level(report: Report, name: str) -> Report | None:
    found: Report | None = next((lv for lv in report["levels"] if lv["name"] == name), None)
    return found


def http_targets(report: Report, engine: Report | None) -> list[Report]:
    """The serving ratios; those against the engine only with an engine report."""
    rejected = report["rejected_latency_ms"]["p99"]
    targets = [_target("503 answers p99 ms", rejected, "<", REJECT_P99_TARGET_MS)]
    if rejected is None:
        targets[0]["note"] = "no 503 was answered; serve with a small MRNET_MAX_QUEUE_SLICES"
    else:
        targets[0]["note"] = "httpx: the upload is sent before the answer is read"
    if report.get("settings", {}).get("probe_rate"):
        probed = report["probe_refused_latency_ms"]["p99"]
        name = "503 answers p99 ms, 100-continue probe"
        targets.append(_target(name, probed, "<", REJECT_P99_TARGET_MS))
        if probed is None:
            targets[-1]["note"] = "no probe was refused"
    if engine is None:
        return targets
    one, eight = _level(report, "closed-1"), _level(report, "closed-8")
    serial = engine["runs"]["engine_serial"]["latency_ms"]["p50"]
    if one is not None:
        ratio = _ratio(one["latency_ms"]["p50"], serial)
        targets.append(_target("HTTP p50 c=1 / engine p50 c=1", ratio, "<=", HTTP_LATENCY_TARGET))
    if eight is not None:
        ratio = _ratio(eight["throughput_per_s"], engine["runs"]["engine"]["exams_per_s"])
        note = f"{eight['errors']} errors at c=8 (target 0)"
        targets.append(
            _target("HTTP throughput c=8 / engine", ratio, ">=", HTTP_THROUGHPUT_TARGET, note)
        )
        targets[-1]["met"] = targets[-1]["met"] and eight["errors"] == 0
    return targets


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_targets(targets: list[Report]) -> list[str]:
    lines = ["targets:"]
    for t in targets:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        note = f"  ({t['note']})" if t["note"] else ""
        lines.append(
            f"  {t['name']:42} {_num(t['value'], 3):>8}  {t['target']:>7}  {verdict}{note}"
        )
    return lines


_ENGINE_HEADER = (
    f"{'run':44} {'exams':>5} {'exams/s':>8} {'slices/s':>9} {'ms/exam':>8} {'p50 ms':>8} "
    f"{'p99 ms':>8} {'ex/batch':>8} {'GFLOP/s':>8} {'of peak':>7}  FLOPs counted, dtype"
)


def machine_line(machine: Report) -> str:
    """The machine in one line: CPU model, its vector features, torch, threads, the GPU."""
    cpu = machine["cpu"]
    features = ", ".join(cpu["vector_flags"]) or "none found"
    line = (
        f"{machine.get('role', 'machine')}: {cpu['model']}, {cpu['cores']} cores, "
        f"vector features {features} "
        f"(torch dispatch {cpu['torch_capability']}); torch {machine['torch']}, "
        f"{machine['torch_threads']} threads, {machine['torch_interop_threads']} interop"
    )
    return f"{line}; GPU {machine['gpu']}" if machine.get("gpu") else line


def format_engine(report: Report) -> str:
    """The engine report as a plain text table, then agreement, peak and targets."""
    m = report["machine"]
    lines = [
        machine_line(m),
        f"device {m['device']}; "
        f"model {report['model'].get('name', report['model']['task'])}/"
        f"{report['model']['version']} ({', '.join(report['model'].get('tasks', []))}) "
        f"{report['model']['input_size']}px; exams: {report['exam_set']['source']} "
        f"x{report['exam_set']['exams']}",
        _ENGINE_HEADER,
    ]
    for run in report["runs"].values():
        lat = run["latency_ms"]
        lines.append(
            f"{run['label']:44} {run['exams']:>5} {run['exams_per_s']:>8.3f} "
            f"{run['slices_per_s']:>9.1f} {run['ms_per_exam']:>8.1f} {_num(lat['p50']):>8} "
            f"{_num(lat['p99']):>8} {run['mean_exams_per_batch']:>8.2f} "
            f"{run['gflops_per_s']:>8.1f} {run['peak_fraction']:>7.1%}  {run['flop_count']}, "
            f"{run['dtype']}"
        )
    lines.append(
        "GFLOP/s count each run's own input (FLOPs counted); 'of peak' is against the "
        "measured matmul peak of the run's dtype."
    )
    if report["model"].get("convolutions") == "winograd-f4x4":
        lines.append(
            "The engine's 3x3 layers run as Winograd F(4x4, 3x3): a quarter of the counted "
            "multiplications, so its GFLOP/s are direct-convolution equivalents."
        )
    cost = report.get("tasks_cost")
    if cost is not None:
        lines.append(
            f"{cost['tasks']} tasks cost {cost['ratio']:.3f}x the {cost['task']} task "
            f"alone on the same exams ({cost['ms_per_exam']:.1f} vs "
            f"{cost['one_task_ms_per_exam']:.1f} ms per exam, the fastest of "
            f"{cost['timings_per_side']} interleaved timings per side over {cost['exams']} exams; "
            f"mean-based {cost['mean_ratio']:.3f}x)."
        )
    lines += _agreement_lines(report["agreement"])
    for name, peak in report["peak"].items():
        lines.append(
            f"peak {name} matmul: {peak['gflops_per_s']:.1f} GFLOP/s "
            f"({peak['size']}^3, {peak['products']} products in {peak['seconds']:.2f} s)"
        )
    return "\n".join(lines + format_targets(engine_targets(report)))


def _agreement_lines(agreement: Report) -> list[str]:
    verdict = "ok" if agreement["ok"] else "DISAGREE"
    line = (
        f"agreement with the reference over {agreement['exams']} exams: "
        f"max |logit diff| {_sci(agreement['max_logit_diff'])}, "
        f"max |probability diff| {_sci(agreement['max_probability_diff'])}"
    )
    lines = [line]
    if "float16_vs_float32_max_probability_diff" in agreement:
        lines.append(
            "float16 autocast vs strict float32 max |probability diff| "
            f"{_sci(agreement['float16_vs_float32_max_probability_diff'])}"
        )
    lines.append(f"criterion {agreement['criterion']}: {verdict}")
    return lines


def _sci(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def format_http(report: Report) -> str:
    """The load test as a plain text table, one row per level."""
    header = (
        f"{'level':10} {'reqs':>6} {'ok':>6} {'errors':>6} {'503':>5} {'exams/s':>8} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'503 p99':>8} {'queue p50':>9} "
        f"{'infer p50':>9} {'probe 503s':>10} {'probe p99':>9} {'cpu s':>6} {'loop s':>6} "
        f"{'ms/refusal':>10}"
    )
    lines = [f"server {report['url']}  model {report.get('model', '-')}", header]
    if "machine" in report:
        lines.insert(0, machine_line(report["machine"]))
    for lv in report["levels"]:
        lat, server = lv["latency_ms"], lv["server_ms"]
        lines.append(
            f"{lv['name']:10} {lv['requests']:>6} {lv['ok']:>6} {lv['errors']:>6} "
            f"{lv['rejected_503']:>5} {lv['throughput_per_s']:>8.3f} {_num(lat['p50']):>8} "
            f"{_num(lat['p90']):>8} {_num(lat['p99']):>8} "
            f"{_num(lv['rejected_latency_ms']['p99']):>8} {_num(server['queue_p50']):>9} "
            f"{_num(server['inference_p50']):>9} {_probe_count(lv):>10} "
            f"{_num(_probe(lv)['refused_latency_ms']['p99']):>9} {_cpu(lv, 'process'):>6} "
            f"{_cpu(lv, 'event_loop'):>6} {_per_refusal(lv):>10}"
        )
    lines += [f"note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines + format_targets(report["targets"]))


def markdown_http(report: Report) -> str:
    """The load test as a markdown table, then its targets."""
    lines = [
        f"Server `{report['url']}`, model {report.get('model', '-')}, "
        f"exams: {report['exam_set']['source']} x{report['exam_set']['exams']}.",
        "",
        *([machine_line(report["machine"]) + ".", ""] if "machine" in report else []),
        "| level | requests | ok | errors | 503 | exams/s | p50 ms | p90 ms | p99 ms "
        "| 503 p99 ms | server queue p50 ms | server inference p50 ms "
        "| probe 503s / sent | probe 503 p99 ms | server CPU s | event loop CPU s "
        "| event loop CPU ms per refusal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in report["levels"]:
        lat, server = lv["latency_ms"], lv["server_ms"]
        cells = [
            lv["name"], lv["requests"], lv["ok"], lv["errors"], lv["rejected_503"],
            f"{lv['throughput_per_s']:.3f}", _num(lat["p50"]), _num(lat["p90"]),
            _num(lat["p99"]), _num(lv["rejected_latency_ms"]["p99"]),
            _num(server["queue_p50"]), _num(server["inference_p50"]),
            _probe_count(lv), _num(_probe(lv)["refused_latency_ms"]["p99"]),
            _cpu(lv, "process"), _cpu(lv, "event_loop"), _per_refusal(lv),
        ]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "| target | value | wanted | result |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        verdict = {True: "met", False: "**not met**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['name']} | {_num(t['value'], 3)} | {t['target']} | {verdict} |")
    return "\n".join(lines) + "\n"


def _cpu(level: Report, name: str) -> str:
    """CPU seconds the server used during the level ("-": its /metrics did not say)."""
    seconds = level.get("server_cpu_s", {}).get(name)
    return "-" if seconds is None else f"{seconds:.2f}"


def _per_refusal(level: Report) -> str:
    per = level.get("server_cpu_ms_per_refusal", {}).get("event_loop")
    return "-" if per is None else f"{per:.2f}"


def _probe(level: Report) -> Report:
    empty = {"sent": 0, "refused_503": 0, "refused_latency_ms": {"p99": None}}
    probe: Report = level.get("probe", empty)
    return probe


def _probe_count(level: Report) -> str:
    probe = _probe(level)
    return f"{probe['refused_503']}/{probe['sent']}" if probe["sent"] else "-"


def write_json(path: Path, report: Report) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def read_json(path: Path) -> Report:
    loaded: Report = json.loads(path.read_text())
    return loaded
