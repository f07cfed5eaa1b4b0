"""A cap on the predictions one client address has in progress at once (429 past it).

The address is the peer's, or the one a trusted proxy forwarded (uvicorn's
`--forwarded-allow-ips`): behind a proxy that is not trusted every client has
the proxy's address, so the cap is off by default.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from service.api.problems import ProblemError


class ClientSlots:
    """Counts the predictions in progress per client address, on the event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: no cap
        self._held: Counter[str] = Counter()

    def held(self, address: str) -> int:
        return self._held[address]

    @contextmanager
    def hold(self, address: str) -> Iterator[None]:
        if self.limit and self._held[address] >= self.limit:
            raise ProblemError(
                429,
                "too-many-requests",
                "Too many requests",
                f"The client {address} already has {self.limit} predictions in progress, "
                "the most one address may have; send the next when one is answered.",
                headers={"Retry-After": "1"},
            )
        self._held[address] += 1
        try:
            yield
        finally:
            self._held[address] -= 1
            if not self._held[address]:
                del self._held[address]
