"""A bounded memo for async work: least recently used entries go first, one run per key.

Concurrent callers of a key that is being computed share that one run. The
run is a task of its own, so a caller that goes away (a closed connection)
does not cancel the work the others wait for. Failures are not remembered.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsyncMemo(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self._done: OrderedDict[K, V] = OrderedDict()
        self._running: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._done)

    def __contains__(self, key: K) -> bool:
        return key in self._done

    async def get(self, key: K, compute: Callable[[], Coroutine[Any, Any, V]]) -> tuple[V, bool]:
        """The value for `key` and whether it came without starting `compute`."""
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key], True
        running = self._running.get(key)
        if running is None:
            task = asyncio.create_task(compute())
            self._running[key] = task
            task.add_done_callback(partial(self._settle, key))
            return await asyncio.shield(task), False
        return await asyncio.shield(running), True

    def _settle(self, key: K, task: asyncio.Task[V]) -> None:
        del self._running[key]
        if task.cancelled() or task.exception() is not None:  # also marks it retrieved
            return
        self._done[key] = task.result()
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)
