"""Request bodies that do not progress lose their place: a deadline, a stall limit, a minimum rate.

The clock of a body starts when the app first reads it (after admission), so
time spent waiting for queue room does not count against the client.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.api.problems import ProblemError


@dataclass(frozen=True)
class PaceLimits:
    timeout_s: float  # the whole body
    min_bytes_per_s: int  # average since the first read, once the grace period is over; 0: none
    grace_s: float
    stall_s: float  # no byte for this long


class BodyPace:
    """How far one request body has come, and when it is too late if nothing more arrives."""

    def __init__(self, limits: PaceLimits, now: float) -> None:
        self.limits = limits
        self.started = self.last_byte = now
        self.received = 0

    def record(self, size: int, now: float) -> None:
        if size:
            self.received += size
            self.last_byte = now

    def cutoff(self) -> float:
        """The time (time.monotonic()) past which the body is cut off unless bytes arrive."""
        limits = self.limits
        cutoff = min(self.started + limits.timeout_s, self.last_byte + limits.stall_s)
        if limits.min_bytes_per_s:
            rate_floor = max(limits.grace_s, self.received / limits.min_bytes_per_s)
            cutoff = min(cutoff, self.started + rate_floor)
        return cutoff

    def problem(self, now: float) -> ProblemError:
        """The 408 for a body cut off at `now`, naming the limit it crossed."""
        limits, elapsed = self.limits, now - self.started
        if elapsed >= limits.timeout_s:
            detail = f"The request body did not arrive within {limits.timeout_s:g} s."
        elif now - self.last_byte >= limits.stall_s:
            detail = f"The request body sent nothing for {limits.stall_s:g} s."
        else:
            rate = self.received / max(elapsed, 1e-9)
            detail = (
                f"The request body arrived at {rate:.0f} bytes/s, under the minimum of "
                f"{limits.min_bytes_per_s} bytes/s."
            )
        return ProblemError(
            408, "request-timeout", "Request timeout", detail, headers={"Connection": "close"}
        )
