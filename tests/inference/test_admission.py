"""The waiting room: queue room is waited for in arrival order, for a bounded time."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import QueueFullError
from service.inference.admission import WaitingRoom
from service.inference.engine import Engine, EngineConfig


def engine(queue_slices: int = 10) -> Engine:
    """An engine whose worker never starts: only its bookkeeping of room is used."""
    return Engine({}, EngineConfig(max_batch_slices=queue_slices, max_queue_slices=queue_slices))


def test_room_is_given_at_once_while_there_is_some() -> None:
    async def scenario() -> None:
        room = WaitingRoom(engine(), wait_s=5.0, max_waiting=4)
        first, second = await room.reserve(4), await room.reserve(6)
        assert (first.slices, second.slices) == (4, 6) and room.waiting == 0

    asyncio.run(scenario())


def test_waiters_are_admitted_in_arrival_order_as_room_comes_free() -> None:
    async def scenario() -> None:
        room = WaitingRoom(engine(), wait_s=10.0, max_waiting=4)
        holder = await room.reserve(10)
        order: list[str] = []

        async def wait(name: str, slices: int) -> None:
            reservation = await room.reserve(slices)
            order.append(name)
            await asyncio.sleep(0)
            reservation.release()

        tasks = [asyncio.create_task(wait(name, 8)) for name in ("a", "b", "c")]
        while room.waiting < 3:
            await asyncio.sleep(0)
        small = asyncio.create_task(wait("late-but-small", 1))  # fits, but must queue behind
        while room.waiting < 4:
            await asyncio.sleep(0)
        assert order == []
        holder.release()
        await asyncio.wait_for(asyncio.gather(*tasks, small), timeout=10)
        assert order[:3] == ["a", "b", "c"]

    asyncio.run(scenario())


def test_a_waiter_gets_503_when_its_wait_is_over_and_leaves_the_line() -> None:
    async def scenario() -> None:
        queue = engine()
        room = WaitingRoom(queue, wait_s=0.05, max_waiting=4)
        holder = await room.reserve(10)
        with pytest.raises(QueueFullError, match=r"stayed full for 0\.05 s"):
            await room.reserve(5)
        assert room.waiting == 0
        holder.release()
        assert (await room.reserve(10)).slices == 10  # nothing was left held

    asyncio.run(scenario())


def test_past_the_waiting_limit_the_refusal_is_at_once() -> None:
    async def scenario() -> None:
        room = WaitingRoom(engine(), wait_s=30.0, max_waiting=1)
        await room.reserve(10)
        waiter = asyncio.create_task(room.reserve(1))
        while room.waiting < 1:
            await asyncio.sleep(0)
        with pytest.raises(QueueFullError, match="1 predictions are waiting") as refused:
            await asyncio.wait_for(room.reserve(1), timeout=1)
        assert refused.value.retry_after_s >= 1
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert room.waiting == 0

    asyncio.run(scenario())


def test_without_a_wait_a_full_queue_refuses_at_once() -> None:
    async def scenario() -> None:
        room = WaitingRoom(engine(), wait_s=0.0, max_waiting=8)
        await room.reserve(10)
        with pytest.raises(QueueFullError, match="full"):
            await asyncio.wait_for(room.reserve(1), timeout=1)

    asyncio.run(scenario())


def test_room_granted_to_a_cancelled_waiter_goes_back() -> None:
    async def scenario() -> None:
        queue = engine()
        room = WaitingRoom(queue, wait_s=30.0, max_waiting=4)
        holder = await room.reserve(10)
        waiter = asyncio.create_task(room.reserve(10))
        while room.waiting < 1:
            await asyncio.sleep(0)
        holder.release()  # schedules the grant on the loop ...
        waiter.cancel()  # ... and the waiter's client hangs up before it runs
        await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.sleep(0.01)
        assert (await asyncio.wait_for(room.reserve(10), timeout=1)).slices == 10

    asyncio.run(scenario())


def test_room_freed_by_the_worker_thread_wakes_a_waiter() -> None:
    async def scenario() -> None:
        room = WaitingRoom(engine(), wait_s=10.0, max_waiting=4)
        holder = await room.reserve(10)
        waiter = asyncio.create_task(room.reserve(10))
        while room.waiting < 1:
            await asyncio.sleep(0)
        await asyncio.to_thread(holder.release)  # as the engine's worker frees room
        assert (await asyncio.wait_for(waiter, timeout=5)).slices == 10

    asyncio.run(scenario())
