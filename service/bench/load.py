"""`mrnet bench http`: a load test of a running server, closed loop and open loop, with httpx.

Closed loop: N clients, each posting its next exam as soon as the last one is
answered (after a 503 it waits `backoff_s`, or the answer's Retry-After when
`honor_retry_after` is set and that is longer). Open
loop: exams arrive at a fixed rate (Poisson or evenly spaced) whatever the
answers. Each level runs for `seconds`; then requests still in flight are
awaited for at most `drain_s` and cancelled after that, so a run ends within
its bound however the server behaves.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from service.bench.client import (
    REFUSALS,
    Payload,
    Sample,
    post_exam,
    served_model,
    server_cpu,
    wait_ready,
    warm_up,
)
from service.bench.config import LoadConfig
from service.bench.probe import ADMITTED, ProbeRequest, ProbeSample, probe
from service.bench.timing import percentile, summarize


@dataclass
class Level:
    name: str
    mode: Literal["closed", "open"]
    concurrency: int | None = None
    rate: float | None = None
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    cancelled: int = 0  # in flight when the level's drain ran out
    dropped: int = 0  # open loop: arrivals not sent because too many were in flight
    probes: list[ProbeSample] = field(default_factory=list)
    server_cpu_s: dict[str, float] = field(default_factory=dict)  # used during the level

    def summary(self) -> dict[str, Any]:
        ok = [s for s in self.samples if s.status == 200 and s.error is None]
        rejected = [s for s in self.samples if s.status == 503]
        limited = [s for s in self.samples if s.status == 429]
        failed = [s for s in self.samples if s.error is not None]
        return {
            "name": self.name,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "wall_s": round(self.wall_s, 3),
            "requests": len(self.samples),
            "ok": len(ok),
            "errors": len(failed),
            "rejected_503": len(rejected),
            "rejected_429": len(limited),
            "cancelled": self.cancelled,
            "dropped": self.dropped,
            "error_kinds": dict(Counter(s.error for s in failed if s.error)),
            "throughput_per_s": round(len(ok) / max(self.wall_s, 1e-9), 4),
            "latency_ms": summarize([s.latency_ms for s in ok]),
            "rejected_latency_ms": summarize([s.latency_ms for s in rejected]),
            "server_ms": _server_times(ok),
            "probe": _probe_summary(self.probes),
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_ms_per_refusal": _per_refusal(self.server_cpu_s, rejected + limited),
        }


def _per_refusal(cpu_s: dict[str, float], refused: list[Sample]) -> dict[str, float | None]:
    """CPU ms per refusal: the event loop's time over the refusals (it also parsed the
    admitted uploads, so this is an upper bound), and the whole process's (inference too)."""
    if not refused:
        return {name: None for name in cpu_s}
    return {name: round(seconds * 1000 / len(refused), 3) for name, seconds in cpu_s.items()}


def _probe_summary(probes: list[ProbeSample]) -> dict[str, Any]:
    refused = [p.latency_ms for p in probes if p.status == 503]
    return {
        "sent": len(probes),
        "refused_503": len(refused),
        "admitted": sum(p.status == ADMITTED for p in probes),
        "other": sum(p.status not in (503, ADMITTED) for p in probes),
        "refused_latency_ms": summarize(refused),
    }


def _server_times(ok: list[Sample]) -> dict[str, float | None]:
    queue = [s.queue_ms for s in ok if s.queue_ms is not None]
    inference = [s.inference_ms for s in ok if s.inference_ms is not None]
    return {
        "queue_p50": percentile(queue, 50),
        "queue_p99": percentile(queue, 99),
        "inference_p50": percentile(inference, 50),
        "inference_p99": percentile(inference, 99),
    }


class LoadTest:
    """Runs the levels against one client, each bounded by the run's overall deadline."""

    def __init__(
        self, client: httpx.AsyncClient, payloads: list[Payload], config: LoadConfig
    ) -> None:
        self.client, self.payloads, self.config = client, payloads, config
        self.probe_request = ProbeRequest.build(
            config.url, payloads[0], config.task, config.headers()
        )
        self.in_flight = 0
        self.deadline = time.monotonic() + config.total_bound_s

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    async def _send(self, index: int) -> Sample:
        self.in_flight += 1
        try:
            payload = self.payloads[index % len(self.payloads)]
            return await post_exam(self.client, payload, self.config.task)
        finally:
            self.in_flight -= 1

    async def _drain(self, tasks: list[asyncio.Task[Any]], stop_at: float) -> int:
        """Await the tasks until the drain runs out; cancel the rest; how many were in flight."""
        until = min(stop_at + self.config.drain_s, self.deadline)
        pending: set[asyncio.Task[Any]] = set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(until - time.monotonic(), 0.0))
        cancelled = self.in_flight
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return cancelled

    async def _measured(self, level: Level, run: Awaitable[None]) -> Level:
        """Run a level, with the server's CPU time before and after it."""
        before = await server_cpu(self.client)
        await run
        after = await server_cpu(self.client)
        level.server_cpu_s = {
            name: round(after[name] - before[name], 3) for name in after if name in before
        }
        return level

    async def closed(self, concurrency: int) -> Level:
        level = Level(f"closed-{concurrency}", "closed", concurrency=concurrency)
        return await self._measured(level, self._closed(level, concurrency))

    async def _closed(self, level: Level, concurrency: int) -> None:
        started = time.monotonic()
        stop_at = min(started + self.config.seconds, self.deadline)

        async def client(offset: int) -> None:
            index = offset  # every client sends once at least, however busy the machine
            while index == offset or time.monotonic() < stop_at:
                sample = await self._send(index)
                level.samples.append(sample)
                index += concurrency
                if sample.status in REFUSALS:
                    await asyncio.sleep(self._pause(sample))

        tasks = [asyncio.create_task(client(k)) for k in range(concurrency)]
        prober = asyncio.create_task(self._probe(level, stop_at))
        level.cancelled = await self._drain(tasks, stop_at)
        await prober
        level.wall_s = time.monotonic() - started

    async def _probe(self, level: Level, stop_at: float) -> None:
        """Refusal probes, evenly spaced, until the level stops (none at rate 0)."""
        if self.config.probe_rate <= 0:
            return
        gap = 1.0 / self.config.probe_rate
        while time.monotonic() + gap < stop_at:
            await asyncio.sleep(gap)
            level.probes.append(await probe(self.probe_request, min(self.config.timeout_s, 10.0)))

    def _pause(self, refused: Sample) -> float:
        if self.config.honor_retry_after and refused.retry_after_s is not None:
            return max(self.config.backoff_s, refused.retry_after_s)
        return self.config.backoff_s

    def _gaps(self, rate: float) -> Callable[[], float]:
        rng = random.Random(self.config.seed)
        if self.config.arrivals == "fixed":
            return lambda: 1.0 / rate
        return lambda: rng.expovariate(rate)

    async def open(self, rate: float) -> Level:
        level = Level(f"open-{rate:g}/s", "open", rate=rate)
        return await self._measured(level, self._open(level, rate))

    async def _open(self, level: Level, rate: float) -> None:
        started = time.monotonic()
        stop_at = min(started + self.config.seconds, self.deadline)
        gap, arrival = self._gaps(rate), started
        tasks: list[asyncio.Task[None]] = []

        async def record(index: int) -> None:
            level.samples.append(await self._send(index))

        while (arrival := arrival + gap()) < stop_at:
            await asyncio.sleep(max(arrival - time.monotonic(), 0.0))
            if self.in_flight >= self.config.max_in_flight:
                level.dropped += 1
                continue
            tasks.append(asyncio.create_task(record(len(tasks))))
        level.cancelled = await self._drain(tasks, stop_at)
        level.wall_s = time.monotonic() - started


def _progress_line(summary: dict[str, Any]) -> str:
    p50 = summary["latency_ms"]["p50"]
    return (
        f"{summary['name']}: {summary['ok']} ok, {summary['errors']} errors, "
        f"{summary['rejected_503']} 503s, {summary['rejected_429']} 429s, "
        f"{summary['cancelled']} cancelled, "
        f"{summary['throughput_per_s']:.3f} exams/s, p50 {'-' if p50 is None else f'{p50:.0f}'} ms"
    )


async def _levels(test: LoadTest, progress: Callable[[str], None]) -> tuple[list[Level], list[str]]:
    """Every closed-loop level, then the open-loop one; skipped once the bound is reached."""
    config, levels, notes = test.config, [], []
    plan: list[tuple[str, Any]] = [(f"closed-{c}", c) for c in config.concurrency]
    if config.rate:
        plan.append((f"open-{config.rate:g}/s", config.rate))
    for name, value in plan:
        if test.time_left() <= 0:
            notes.append(f"{name} was skipped: the run's time bound was reached.")
            continue
        progress(f"{name}: {min(config.seconds, test.time_left()):.0f} s")
        level = await (test.open(value) if name.startswith("open") else test.closed(value))
        levels.append(level)
        progress(_progress_line(level.summary()))
    return levels, notes


async def _run(
    config: LoadConfig, payloads: list[Payload], progress: Callable[[str], None]
) -> tuple[list[Level], str, list[str]]:
    size = max(max(config.concurrency, default=1), config.max_in_flight if config.rate else 1)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(
        base_url=config.url, headers=config.headers(), timeout=config.timeout_s, limits=limits
    ) as client:
        test = LoadTest(client, payloads, config)
        async with asyncio.timeout(config.total_bound_s + 5):  # a last guard; levels end sooner
            await wait_ready(client, min(config.ready_timeout_s, test.time_left()))
            model = await served_model(client, config.task)
            await warm_up(client, payloads[0], config.task)
            levels, notes = await _levels(test, progress)
    return levels, model, notes


def run_load_test(
    config: LoadConfig, payloads: list[Payload], progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run every level against the server; the report as a dict (no targets yet)."""
    levels, model, notes = asyncio.run(_run(config, payloads, progress))
    rejected = [s.latency_ms for level in levels for s in level.samples if s.status == 503]
    probed = [p.latency_ms for level in levels for p in level.probes if p.status == 503]
    settings = {k: v for k, v in vars(config).items() if k != "api_key"}
    settings["api_key"] = "set" if config.api_key else "not set"
    settings["concurrency"] = list(config.concurrency)
    return {
        "kind": "mrnet-bench-http",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "url": config.url,
        "model": model,
        "settings": settings,
        "levels": [level.summary() for level in levels],
        "rejected_latency_ms": summarize(rejected),
        "probe_refused_latency_ms": summarize(probed),
        "notes": notes,
    }
