"""Choose one stack per plane: SeriesDescription rules first, then the most slices.

A stack matching an earlier rule of its plane (see `service.dicom.rules`) beats
one matching a later rule or none; ties go to the most slices, then the lowest
SeriesNumber.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.dicom.rules import SelectionRules, compile_rules, words
from service.dicom.series import NotUsed, Stack
from service.domain import PLANES, Plane


@dataclass(frozen=True)
class Choice:
    stack: Stack
    reason: str


def _rank(stack: Stack, patterns: list[re.Pattern[str]]) -> tuple[int, int, int]:
    matched = next(
        (n for n, p in enumerate(patterns) if p.search(words(stack.series.description))),
        len(patterns),
    )
    number = stack.series.number if stack.series.number is not None else 1 << 30
    return matched, -len(stack.frames), number


def _reason(stack: Stack, patterns: list[re.Pattern[str]], rivals: int) -> str:
    rank = _rank(stack, patterns)[0]
    why = (
        f"its description matches the rule {patterns[rank].pattern!r}"
        if rank < len(patterns)
        else "no description matches the rules; it has the most slices"
    )
    return why if rivals == 0 else f"{why} (chosen over {rivals} other {stack.plane} series)"


def choose(stacks: list[Stack], rules: SelectionRules) -> tuple[dict[Plane, Choice], list[NotUsed]]:
    """One stack per plane where there is one; the others as not used, with why."""
    compiled = compile_rules(rules)
    chosen: dict[Plane, Choice] = {}
    passed_over: list[NotUsed] = []
    for plane in PLANES:
        candidates = sorted(
            (s for s in stacks if s.plane == plane), key=lambda s: _rank(s, compiled[plane])
        )
        if not candidates:
            continue
        best, *others = candidates
        chosen[plane] = Choice(best, _reason(best, compiled[plane], len(others)))
        for other in others:
            reason = f"the {plane} {best.label} was preferred by the selection rules"
            passed_over.append(NotUsed(other.series, len(other.frames), reason, plane, other.part))
    return chosen, passed_over
