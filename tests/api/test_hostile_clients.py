"""Slow and silent uploads over real sockets: they lose their place, honest clients are served.

Each hostile connection sends a prediction's headers with a large Content-Length
(so admission holds queue room for it), the start of a multipart body, and then
either nothing or a byte every 0.1 s.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from .support import api_settings, exam_volumes, running_server, samples, upload, value

CONNECTIONS = 20
DECLARED = 6 * 1024 * 1024  # a 256x256 exam's size: 48 slices held each (max_slices 16)
HOLDERS = 5
QUEUE_SLICES = HOLDERS * 48  # full with the holders: not even a small exam fits
FORWARDED = "203.0.113.7"  # TEST-NET-3: a header, as a trusted proxy would set it


def _head(port: int, forwarded: str | None) -> bytes:
    lines = [
        "POST /v1/predictions HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {DECLARED}",
        *([f"X-Forwarded-For: {forwarded}"] if forwarded else []),
    ]
    part = 'Content-Disposition: form-data; name="axial"; filename="axial.npy"\r\n\r\n'
    return ("\r\n".join(lines) + "\r\n\r\n--b\r\n" + part).encode()


class Hostile:
    """The hostile connections: `tick` reads what the server answered, then the even ones
    send a byte (they trickle) and the odd ones nothing (silent after the headers)."""

    def __init__(self, port: int, forwarded: str | None = None) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        self.answers: dict[int, bytes] = {}
        for sock in self.sockets:
            sock.sendall(_head(port, forwarded))
            sock.setblocking(False)

    def open(self) -> list[socket.socket]:
        return [s for i, s in enumerate(self.sockets) if i not in self.answers]

    def tick(self) -> None:
        readable, _, _ = select.select(self.open(), [], [], 0.1)
        for sock in readable:
            index = self.sockets.index(sock)
            try:
                self.answers[index] = sock.recv(65536)
            except ConnectionError:
                self.answers[index] = b""
        for index, sock in enumerate(self.sockets):
            if index % 2 == 0 and index not in self.answers:
                with suppress(BlockingIOError, ConnectionError):
                    sock.send(b"x")

    def statuses(self) -> list[int]:
        """The status of each answer so far (0 for a connection reset before one was read)."""
        return sorted(int(a.split(b" ", 2)[1]) if a else 0 for a in self.answers.values())

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@contextmanager
def hostile(port: int, forwarded: str | None = None) -> Iterator[Hostile]:
    connections = Hostile(port, forwarded)
    try:
        yield connections
    finally:
        connections.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _post_until_served(client: httpx.Client, crowd: Hostile, deadline_s: float) -> list[int]:
    """An honest client retrying every 0.2 s; the statuses it got, the last one 200."""
    files, statuses = upload(exam_volumes(3, lengths=(2, 2, 2))), []
    deadline = time.monotonic() + deadline_s
    while not statuses or statuses[-1] != 200:
        assert time.monotonic() < deadline, f"never served: {statuses}"
        statuses.append(client.post("/v1/predictions", files=files).status_code)
        for _ in range(2):
            crowd.tick()
    return statuses


def test_slow_and_silent_uploads_get_408_and_their_room_goes_back(store: Path) -> None:
    settings = api_settings(
        store,
        max_upload_bytes=8 * 1024 * 1024,
        max_queue_slices=QUEUE_SLICES,
        upload_grace_s=1.0,
        upload_min_bytes_per_s=1024,
    )
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        with hostile(_port(url)) as crowd:
            deadline = time.monotonic() + 15
            while len(crowd.answers) < CONNECTIONS - HOLDERS:  # the rest find no room
                assert time.monotonic() < deadline, crowd.statuses()
                crowd.tick()
            assert crowd.statuses() == [503] * (CONNECTIONS - HOLDERS)
            statuses = _post_until_served(client, crowd, deadline_s=20)
            while len(crowd.answers) < CONNECTIONS:
                assert time.monotonic() < deadline + 20, crowd.statuses()
                crowd.tick()
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {503}
        page = samples(client.get("/metrics").text)
        route = {"route": "/v1/predictions", "method": "POST"}
        assert value(page, "mrnet_requests_total", **route, status="408") == HOLDERS
        answered = [s for s in crowd.statuses() if s != 503]
        assert set(answered) <= {408, 0} and answered.count(408) >= 1  # 0: reset before read
        cut = [a.lower() for a in crowd.answers.values() if a.startswith(b"HTTP/1.1 408")]
        assert all(b"application/problem+json" in a and b"connection: close" in a for a in cut)
        assert all(b"bytes/s, under the minimum of 1024 bytes/s" in a for a in cut), cut
        assert value(page, "mrnet_queued_slices") == 0


def test_one_address_over_its_cap_gets_429_while_others_are_served(store: Path) -> None:
    settings = api_settings(
        store, max_upload_bytes=8 * 1024 * 1024, upload_grace_s=60.0, max_uploads_per_client=4
    )
    with (
        running_server(settings) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        hostile(_port(url), forwarded=FORWARDED) as crowd,
    ):
        deadline = time.monotonic() + 15
        while len(crowd.answers) < CONNECTIONS - 4:
            assert time.monotonic() < deadline, crowd.statuses()
            crowd.tick()
        assert crowd.statuses() == [429] * (CONNECTIONS - 4)
        assert all(b"retry-after: 1" in a.lower() for a in crowd.answers.values())
        served = client.post("/v1/predictions", files=upload(exam_volumes(4, (1, 2, 1))))
        crowd.tick()
        assert served.status_code == 200, served.text
        assert len(crowd.open()) == 4  # the four within the cap are still uploading
