"""One prediction request over HTTP, and the checks before a load test (ready, model, key).

A failed request becomes a `Sample` with its status and error, never an exception,
so a load test counts failures instead of stopping at the first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.domain import Plane
from service.errors import MRNetError

Payload = dict[Plane, bytes]
REFUSALS = (503, 429)  # come back later: the queue is full, or this client has enough in flight
SERVER_CPU = {  # the server's own accounting on /metrics, in CPU seconds
    "process_cpu_seconds_total": "process",
    "mrnet_event_loop_cpu_seconds": "event_loop",
}


@dataclass(frozen=True)
class Sample:
    status: int  # 0 when no answer came
    latency_ms: float
    queue_ms: float | None = None
    inference_ms: float | None = None
    error: str | None = None  # set for every failure except a refusal (503, 429)
    retry_after_s: float | None = None  # a refusal's Retry-After, when it gave seconds


def _ms(begun: float) -> float:
    return (time.perf_counter() - begun) * 1000


async def post_exam(client: httpx.AsyncClient, payload: Payload, task: str) -> Sample:
    """One prediction request; a failure becomes a Sample, never an exception."""
    files: dict[str, tuple[str, bytes, str]] = {
        p: (f"{p}.npy", data, "application/octet-stream") for p, data in payload.items()
    }
    begun = time.perf_counter()
    try:
        response = await client.post("/v1/predictions", files=files, data={"task": task})
    except httpx.HTTPError as error:
        return Sample(0, _ms(begun), error=type(error).__name__)
    latency = _ms(begun)
    if response.status_code in REFUSALS:
        return Sample(response.status_code, latency, retry_after_s=_retry_after(response))
    if response.status_code != 200:
        return Sample(response.status_code, latency, error=f"HTTP {response.status_code}")
    try:
        timing = response.json()["timing_ms"]
        return Sample(200, latency, float(timing["queue"]), float(timing["inference"]))
    except (ValueError, KeyError, TypeError):
        return Sample(200, latency, error="a 200 answer without timing_ms")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers["Retry-After"]), 0.0)
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date, which this client does not follow


async def server_cpu(client: httpx.AsyncClient) -> dict[str, float]:
    """CPU seconds the server has used, whole process and event loop, from its /metrics."""
    try:
        response = await client.get("/metrics")
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    return {
        SERVER_CPU[sample.name]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name in SERVER_CPU
    }


async def wait_ready(client: httpx.AsyncClient, timeout_s: float) -> None:
    """Poll /health/ready until it answers 200, or fail with a sentence naming the server."""
    until = time.monotonic() + timeout_s
    while True:
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > until:
            raise MRNetError(f"The server at {client.base_url} was not ready in {timeout_s:g} s.")
        await asyncio.sleep(0.2)


async def served_model(client: httpx.AsyncClient, task: str) -> str:
    """'task/version on device (precision)' from /v1/models, or '-' when it cannot be read."""
    response = await client.get("/v1/models")
    if response.status_code != 200:
        return "-"
    for info in response.json().get("models", []):
        if info.get("task") == task:
            return f"{task}/{info['version']} on {info['device']} ({info['precision']})"
    return "-"


async def warm_up(client: httpx.AsyncClient, payload: Payload, task: str) -> None:
    """One request before the levels; a refusal (a wrong key, say) stops the run here."""
    sample = await post_exam(client, payload, task)
    if sample.status != 200 or sample.error is not None:
        raise MRNetError(
            f"The warm-up prediction at {client.base_url} failed "
            f"({sample.error or f'HTTP {sample.status}'}); check the URL, the task and the API key."
        )
