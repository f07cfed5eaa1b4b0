"""A refusal probe: how soon the server answers an exam it cannot take, as a client sees it.

httpx, like most HTTP/1.1 clients, sends the whole body before it reads the
answer, so its time for a 503 includes pushing the upload. The probe sends a
prediction's headers with `Expect: 100-continue` and times the first status
line, as curl does for large bodies: a full queue answers 503 from the headers
alone. An admitted probe ("100 Continue") withdraws: it closes the connection
without sending the body, so it adds no inference work (the server counts a
499 for it).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from service.bench.client import Payload

ADMITTED = 100  # the probe's status when the server would have read the body


@dataclass(frozen=True)
class ProbeSample:
    status: int  # 503, ADMITTED, another final status, or 0 when no answer came
    latency_ms: float  # from connecting to the first status line
    error: str | None = None


@dataclass(frozen=True)
class ProbeRequest:
    """A prediction's request head, built once: where to send it and its bytes."""

    host: str
    port: int
    tls: bool
    head: bytes

    @classmethod
    def build(cls, url: str, payload: Payload, task: str, headers: dict[str, str]) -> ProbeRequest:
        files: dict[str, tuple[str, bytes, str]] = {
            p: (f"{p}.npy", data, "application/octet-stream") for p, data in payload.items()
        }
        request = httpx.Request(
            "POST", url.rstrip("/") + "/v1/predictions", files=files, data={"task": task}
        )
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        lines = [
            f"POST {request.url.raw_path.decode()} HTTP/1.1",
            f"Host: {request.url.netloc.decode()}",
            f"Content-Type: {request.headers['Content-Type']}",
            f"Content-Length: {request.headers['Content-Length']}",
            "Expect: 100-continue",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(parts.hostname or "127.0.0.1", port, tls, head)


async def probe(request: ProbeRequest, timeout_s: float) -> ProbeSample:
    """Send the head, time the first status line, and hang up; never raises."""
    begun = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            context = ssl.create_default_context() if request.tls else None
            reader, writer = await asyncio.open_connection(request.host, request.port, ssl=context)
            writer.write(request.head)
            await writer.drain()
            line = await reader.readline()
        latency = (time.perf_counter() - begun) * 1000
        return ProbeSample(int(line.split()[1]), latency)
    except (OSError, TimeoutError, ValueError, IndexError) as error:
        return ProbeSample(0, (time.perf_counter() - begun) * 1000, type(error).__name__)
    finally:
        if writer is not None:
            writer.close()
