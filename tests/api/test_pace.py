"""A request body's pace: when it is cut off, and the 408 that says which limit it crossed."""

from __future__ import annotations

import pytest

from service.api.pace import BodyPace, PaceLimits

LIMITS = PaceLimits(timeout_s=100.0, min_bytes_per_s=1000, grace_s=5.0, stall_s=20.0)


def test_nothing_sent_is_cut_off_when_the_grace_period_ends() -> None:
    pace = BodyPace(LIMITS, now=0.0)
    assert pace.cutoff() == pytest.approx(5.0)
    problem = pace.problem(5.0)
    assert problem.status == 408 and "0 bytes/s" in problem.detail
    assert "1000 bytes/s" in problem.detail
    assert problem.headers["Connection"] == "close"


def test_bytes_buy_time_at_the_minimum_rate() -> None:
    pace = BodyPace(LIMITS, now=0.0)
    pace.record(10_000, now=1.0)  # 10 s worth at 1000 bytes/s
    assert pace.cutoff() == pytest.approx(10.0)
    pace.record(5_000, now=9.0)
    assert pace.cutoff() == pytest.approx(15.0)


def test_a_burst_then_silence_is_cut_off_by_the_stall_limit() -> None:
    pace = BodyPace(LIMITS, now=0.0)
    pace.record(1_000_000, now=1.0)  # far ahead of the rate
    assert pace.cutoff() == pytest.approx(21.0)  # 20 s after the last byte
    assert "sent nothing for 20 s" in pace.problem(21.0).detail


def test_the_whole_body_has_a_deadline_however_fast_it_comes() -> None:
    pace = BodyPace(LIMITS, now=0.0)
    for second in range(1, 100):
        pace.record(1_000_000, now=float(second))
    assert pace.cutoff() == pytest.approx(100.0)
    assert "within 100 s" in pace.problem(100.0).detail


def test_without_a_minimum_rate_only_the_stall_and_deadline_apply() -> None:
    pace = BodyPace(PaceLimits(100.0, 0, 5.0, 20.0), now=0.0)
    assert pace.cutoff() == pytest.approx(20.0)
