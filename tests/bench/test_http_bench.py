"""`mrnet bench http` against a real uvicorn server: counts, levels, files and ratios.

Asserts counts, never timings: the machine running the suite may be busy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from api import support

import service.inference.engine as engine_module
from service.bench.exams import random_exams
from service.bench.probe import ProbeRequest, probe
from service.cli import main
from service.store.writer import write_package

from factories import draft, random_states

SLICES = 4  # per plane: one exam is 12 slices
TINY = ("--slices", str(SLICES), "--size", "64", "--exams", "2", "--drain-seconds", "30")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench-store")
    write_package(root, draft(), random_states(9))
    return root


def running_server(store: Path, **overrides: Any) -> AbstractContextManager[str]:
    return support.running_server(support.api_settings(store, **overrides))


def slow_batches(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every batch takes at least `seconds`, so requests pile up in the queue."""
    real: Callable[..., Any] = engine_module.run_batch

    def slow(*args: Any) -> Any:
        time.sleep(seconds)
        return real(*args)

    monkeypatch.setattr(engine_module, "run_batch", slow)


def bench_http(url: str, out: Path, *options: str) -> dict[str, Any]:
    assert main(["bench", "http", "--url", url, *TINY, "--out", str(out), *options]) == 0
    report: dict[str, Any] = json.loads((out / "bench-http.json").read_text())
    return report


def engine_report(path: Path) -> Path:
    """A `bench engine` report for the same exams: engine p50 100 ms, 10 exams/s."""
    exams = random_exams(2, SLICES, 64, seed=0).describe()
    runs = {
        "engine": {"exams_per_s": 10.0},
        "engine_serial": {"latency_ms": {"p50": 100.0}},
    }
    path.write_text(json.dumps({"exam_set": exams, "runs": runs}))
    return path


def test_closed_and_open_loop_levels_are_served_without_errors(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    levels = ("--concurrency", "1,2", "--rate", "10", "--arrivals", "fixed", "--seconds", "0.5")
    engine = ("--engine-json", str(engine_report(tmp_path / "engine.json")))
    with running_server(store) as url:
        report = bench_http(url, tmp_path / "out", *levels, *engine)
    assert [lv["name"] for lv in report["levels"]] == ["closed-1", "closed-2", "open-10/s"]
    for level in report["levels"]:
        assert level["ok"] >= 1 and level["requests"] == level["ok"]
        assert level["errors"] == level["rejected_503"] == level["cancelled"] == 0
        assert level["latency_ms"]["count"] == level["ok"]
        assert level["server_ms"]["queue_p50"] is not None
        assert level["server_ms"]["inference_p50"] is not None
    open_loop = report["levels"][2]
    assert 4 <= open_loop["requests"] + open_loop["dropped"] <= 5  # 10/s for 0.5 s, evenly
    assert report["model"] == "acl/1 on cpu (float32)"
    assert report["settings"]["api_key"] == "not set"
    assert report["notes"] == []  # the engine report is for the same exams
    ratios = {t["name"]: t for t in report["targets"]}
    p50 = report["levels"][0]["latency_ms"]["p50"]
    assert ratios["HTTP p50 c=1 / engine p50 c=1"]["value"] == pytest.approx(p50 / 100, abs=1e-3)
    assert ratios["503 answers p99 ms"]["value"] is None  # no 503 was answered
    markdown = (tmp_path / "out" / "bench-http.md").read_text()
    assert "| closed-2 |" in markdown and "| open-10/s |" in markdown
    printed = capsys.readouterr().out
    assert "closed-1" in printed
    machine = report["machine"]
    assert machine["role"] == "load generator" and machine["cpu"]["torch_capability"]
    heading = f"load generator: {machine['cpu']['model']}"
    assert heading in markdown and heading in printed


def test_a_full_queue_is_counted_as_503s_not_errors(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_batches(monkeypatch, 0.3)
    # the queue holds one exam: with one running and one waiting, the others are refused
    tiny_queue = {"max_slices": SLICES, "max_batch_slices": SLICES, "max_queue_slices": 3 * SLICES}
    with running_server(store, **tiny_queue) as url:
        report = bench_http(url, tmp_path, "--concurrency", "4", "--seconds", "1")
    (level,) = report["levels"]
    assert level["rejected_503"] >= 1 and level["ok"] >= 1
    assert level["errors"] == 0
    assert level["requests"] == level["ok"] + level["rejected_503"]
    assert level["rejected_latency_ms"]["count"] == level["rejected_503"]
    assert report["rejected_latency_ms"]["count"] == level["rejected_503"]
    (reject,) = [t for t in report["targets"] if t["name"] == "503 answers p99 ms"]
    assert reject["value"] is not None


def test_clients_can_follow_retry_after(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_batches(monkeypatch, 0.3)
    tiny_queue = {"max_slices": SLICES, "max_batch_slices": SLICES, "max_queue_slices": 3 * SLICES}
    options = ("--concurrency", "4", "--seconds", "1", "--honor-retry-after")
    with running_server(store, **tiny_queue) as url:
        report = bench_http(url, tmp_path, *options)
    (level,) = report["levels"]
    assert report["settings"]["honor_retry_after"] is True
    # a 503 says Retry-After: 1, so in a 1 s level each of the 4 clients is refused once at most
    assert 1 <= level["rejected_503"] <= 4
    assert level["errors"] == 0


def test_refusal_probes_are_answered_from_the_headers(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_batches(monkeypatch, 0.3)
    tiny_queue = {"max_slices": SLICES, "max_batch_slices": SLICES, "max_queue_slices": 3 * SLICES}
    options = ("--concurrency", "4", "--seconds", "1.5", "--probe-rate", "10")
    with running_server(store, **tiny_queue) as url:
        report = bench_http(url, tmp_path, *options)
        with httpx.Client(base_url=url) as client:
            page = support.samples(client.get("/metrics").text)
    (level,) = report["levels"]
    probe = level["probe"]
    assert probe["sent"] >= 5 and probe["other"] == 0
    assert probe["refused_503"] >= 1
    assert probe["refused_503"] + probe["admitted"] == probe["sent"]
    assert report["probe_refused_latency_ms"]["count"] == probe["refused_503"]
    # an admitted probe withdraws before its body: the server counts a 499, not an error
    withdrawn = (
        support.value(
            page, "mrnet_requests_total", route="/v1/predictions", method="POST", status="499"
        )
        if probe["admitted"]
        else 0
    )
    assert withdrawn == probe["admitted"]
    (target,) = [t for t in report["targets"] if t["name"].endswith("100-continue probe")]
    assert target["value"] == report["probe_refused_latency_ms"]["p99"]
    assert "probe 503s" in (tmp_path / "bench-http.md").read_text()


def test_a_probe_without_a_server_is_a_sample_not_an_exception() -> None:
    payload = {"axial": b"a", "coronal": b"c", "sagittal": b"s"}
    request = ProbeRequest.build(
        f"http://127.0.0.1:{support.free_port()}", payload, "acl", {"Authorization": "Bearer k"}
    )
    head = request.head.decode()
    assert head.startswith("POST /v1/predictions HTTP/1.1\r\n")
    assert "Expect: 100-continue\r\n" in head and "Authorization: Bearer k\r\n" in head
    assert head.endswith("\r\n\r\n") and "Content-Length: " in head
    sample = asyncio.run(probe(request, timeout_s=5))
    assert sample.status == 0 and sample.error is not None


def test_requests_still_in_flight_when_the_drain_ends_are_cancelled(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_batches(monkeypatch, 1.0)
    with running_server(store) as url:
        options = ("--concurrency", "2", "--seconds", "0.1", "--drain-seconds", "0.2")
        started = time.monotonic()
        report = bench_http(url, tmp_path, *options)
        assert time.monotonic() - started < 30
    (level,) = report["levels"]
    assert level["cancelled"] == 2 and level["requests"] == 0


def test_a_wrong_api_key_stops_the_run_with_a_message(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(store, api_keys=["right-key"]) as url:
        code = main(
            ["bench", "http", "--url", url, *TINY, "--api-key", "wrong", "--out", str(tmp_path)]
        )
    assert code == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert not (tmp_path / "bench-http.json").exists()
