"""Admission: queue room for an exam, waited for in arrival order for a bounded time.

A request that finds the queue full does not get its 503 at once: it waits (at
most `wait_s`, at most `max_waiting` of them) for room, in the order they came.
A waiter holds its connection and nothing else: its body is not read until it
is admitted. Clients that retry a refusal at once would otherwise turn every
spare cycle into refusals; a waiting room answers them at the pace the worker
frees room, and a 503 still comes within `wait_s` when it stays full.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import dataclass

from service.errors import QueueFullError
from service.inference.engine import Engine, Reservation


@dataclass(eq=False)
class _Waiter:
    slices: int
    granted: asyncio.Future[Reservation]


class WaitingRoom:
    """Hands out the engine's reservations: at once while there is room, else first come first."""

    def __init__(self, engine: Engine, wait_s: float, max_waiting: int) -> None:
        self._engine = engine
        self.wait_s, self.max_waiting = wait_s, max_waiting
        self._waiting: deque[_Waiter] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        engine.on_room(self._room_freed)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def retry_after_s(self) -> int:
        """What a refused client is told to wait: longer while more are waiting."""
        return max(1, math.ceil(self.wait_s * len(self._waiting) / max(self.max_waiting, 1)))

    async def reserve(self, slices: int) -> Reservation:
        """Room for `slices`, or QueueFullError once the wait is over (or nobody may wait)."""
        if not self._waiting:
            try:
                return self._engine.reserve(slices)
            except QueueFullError:
                if self.wait_s <= 0 or self.max_waiting <= 0:
                    raise
        if len(self._waiting) >= self.max_waiting:
            raise QueueFullError(
                f"The inference queue is full and {len(self._waiting)} predictions are waiting "
                "for room, as many as may; try again shortly.",
                self.retry_after_s,
            )
        return await self._wait(slices)

    async def _wait(self, slices: int) -> Reservation:
        self._loop = asyncio.get_running_loop()
        waiter = _Waiter(slices, self._loop.create_future())
        self._waiting.append(waiter)
        self._grant()  # room may have come free since the caller looked
        try:
            async with asyncio.timeout(self.wait_s):
                return await asyncio.shield(waiter.granted)
        except TimeoutError:
            self._give_up(waiter)
            raise QueueFullError(
                f"The inference queue stayed full for {self.wait_s:g} s; try again shortly.",
                self.retry_after_s,
            ) from None
        except BaseException:  # the request was cancelled (its client hung up)
            self._give_up(waiter)
            raise

    def _give_up(self, waiter: _Waiter) -> None:
        """A waiter stops waiting: it leaves the line, and room granted to it too late goes back."""
        with contextlib.suppress(ValueError):
            self._waiting.remove(waiter)
        if waiter.granted.done() and not waiter.granted.cancelled():
            waiter.granted.result().release()
        else:
            waiter.granted.cancel()

    def _grant(self) -> None:
        """On the loop: admit waiters from the front while their exams fit."""
        while self._waiting:
            head = self._waiting[0]
            if head.granted.done():
                self._waiting.popleft()
                continue
            try:
                reservation = self._engine.reserve(head.slices)
            except QueueFullError:
                return
            self._waiting.popleft()
            head.granted.set_result(reservation)

    def _room_freed(self) -> None:
        """From any thread: look at the line again on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._grant)
