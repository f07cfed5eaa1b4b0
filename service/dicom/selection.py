"""Choose one stack per plane: SeriesDescription rules first, then the most slices.

The rules are data (the ``MRNET_DICOM_SERIES_RULES`` setting, JSON): per plane,
regular expressions tried in order against SeriesDescription, case-insensitive.
A stack matching an earlier rule beats one matching a later rule or none; ties
go to the most slices, then the lowest SeriesNumber. The default is MRNet's
protocol: sagittal T2 fat-saturated, coronal T1, axial PD fat-saturated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from service.dicom.series import NotUsed, Stack
from service.domain import PLANES, Plane

SelectionRules = dict[Plane, list[str]]

_FAT_SAT = r"(FS|FAT.?SAT|SPAIR|SPIR|STIR)"
_WORD_END = r"(?![A-Z0-9])"
_WORD_START = r"(?<![A-Z0-9])"
DEFAULT_RULES: Final[SelectionRules] = {
    "sagittal": [
        rf"{_WORD_START}T2{_WORD_END}.*{_WORD_START}{_FAT_SAT}{_WORD_END}",
        rf"{_WORD_START}{_FAT_SAT}{_WORD_END}.*{_WORD_START}T2{_WORD_END}",
        rf"{_WORD_START}T2{_WORD_END}",
    ],
    "coronal": [
        rf"{_WORD_START}T1{_WORD_END}(?!.*{_WORD_START}{_FAT_SAT}{_WORD_END})",
        rf"{_WORD_START}T1{_WORD_END}",
    ],
    "axial": [
        rf"{_WORD_START}(PD|PROTON)\w*{_WORD_END}.*{_WORD_START}{_FAT_SAT}{_WORD_END}",
        rf"{_WORD_START}{_FAT_SAT}{_WORD_END}.*{_WORD_START}(PD|PROTON)\w*{_WORD_END}",
        rf"{_WORD_START}(PD|PROTON)\w*{_WORD_END}",
    ],
}


@dataclass(frozen=True)
class Choice:
    stack: Stack
    reason: str


def compile_rules(rules: SelectionRules) -> dict[Plane, list[re.Pattern[str]]]:
    """The rules as patterns; a bad expression is a ValueError naming it."""
    compiled: dict[Plane, list[re.Pattern[str]]] = {}
    for plane in PLANES:
        compiled[plane] = []
        for pattern in rules.get(plane, []):
            try:
                compiled[plane].append(re.compile(pattern, re.IGNORECASE))
            except re.error as error:
                raise ValueError(
                    f"the {plane} rule {pattern!r} is not a regular expression"
                ) from error
    return compiled


def _rank(stack: Stack, patterns: list[re.Pattern[str]]) -> tuple[int, int, int]:
    matched = next(
        (n for n, p in enumerate(patterns) if p.search(stack.series.description)), len(patterns)
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
