"""AsyncMemo: bounded in entries, least recently used out, one run per key, failures forgotten."""

from __future__ import annotations

import asyncio

import pytest

from service.memo import AsyncMemo


def test_values_are_remembered_and_the_least_recently_used_goes_first() -> None:
    async def scenario() -> list[str]:
        memo: AsyncMemo[str, str] = AsyncMemo(max_entries=2)
        runs: list[str] = []

        async def compute(key: str) -> str:
            runs.append(key)
            return key.upper()

        assert await memo.get("a", lambda: compute("a")) == ("A", False)
        assert await memo.get("a", lambda: compute("a")) == ("A", True)
        await memo.get("b", lambda: compute("b"))
        await memo.get("a", lambda: compute("a"))  # "a" is now the most recent
        await memo.get("c", lambda: compute("c"))  # so "b" goes
        assert len(memo) == 2 and "a" in memo and "b" not in memo
        await memo.get("b", lambda: compute("b"))
        return runs

    assert asyncio.run(scenario()) == ["a", "b", "c", "b"]


def test_concurrent_callers_share_one_run() -> None:
    async def scenario() -> tuple[int, list[tuple[int, bool]]]:
        memo: AsyncMemo[str, int] = AsyncMemo(max_entries=4)
        runs, started, release = 0, asyncio.Event(), asyncio.Event()

        async def compute() -> int:
            nonlocal runs
            runs += 1
            started.set()
            await release.wait()
            return 7

        callers = [asyncio.create_task(memo.get("k", compute)) for _ in range(5)]
        await started.wait()  # the run is under way, and every caller has asked for it
        assert not any(c.done() for c in callers)
        release.set()
        return runs, list(await asyncio.gather(*callers))

    runs, answers = asyncio.run(scenario())
    assert runs == 1
    assert sorted(answers) == [(7, False)] + [(7, True)] * 4


def test_a_failure_reaches_every_caller_and_is_not_remembered() -> None:
    async def scenario() -> int:
        memo: AsyncMemo[str, int] = AsyncMemo(max_entries=4)
        calls, started, release = 0, asyncio.Event(), asyncio.Event()

        async def fail() -> int:
            nonlocal calls
            calls += 1
            started.set()
            await release.wait()
            raise RuntimeError("boom")

        callers = [asyncio.create_task(memo.get("k", fail)) for _ in range(3)]
        await started.wait()
        release.set()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert "k" not in memo
        with pytest.raises(RuntimeError):
            await memo.get("k", fail)
        return calls

    assert asyncio.run(scenario()) == 2


def test_a_caller_that_goes_away_does_not_cancel_the_run() -> None:
    async def scenario() -> tuple[int, bool]:
        memo: AsyncMemo[str, int] = AsyncMemo(max_entries=4)
        started, release = asyncio.Event(), asyncio.Event()

        async def compute() -> int:
            started.set()
            await release.wait()
            return 3

        first = asyncio.create_task(memo.get("k", compute))
        await started.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first  # the caller is gone while the run is still waiting
        second = asyncio.create_task(memo.get("k", compute))  # joins before the run resumes
        release.set()
        value, shared = await second
        return value, shared

    assert asyncio.run(scenario()) == (3, True)


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AsyncMemo[str, int](max_entries=0)
