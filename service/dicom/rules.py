"""The series selection rules: per plane, SeriesDescription patterns in order of preference.

The rules are data (the ``MRNET_DICOM_SERIES_RULES`` setting, JSON): per plane,
regular expressions tried in order against SeriesDescription, case-insensitive,
with every run of characters other than letters and digits read as one space
(``t2_tse_fs_sag`` is seen as ``t2 tse fs sag``, so ``\b`` separates its words).
The default is MRNet's protocol: sagittal T2 fat-saturated, coronal T1 (without
fat saturation first), axial PD fat-saturated. This module imports no pydicom,
so the settings can validate rules cheaply.
"""

from __future__ import annotations

import re
from typing import Final

from service.domain import PLANES, Plane

SelectionRules = dict[Plane, list[str]]

DEFAULT_RULES: Final[SelectionRules] = {
    "sagittal": [
        r"\bT2\b.*\b(FS|FAT ?SAT|SPAIR|SPIR|STIR)\b",
        r"\b(FS|FAT ?SAT|SPAIR|SPIR|STIR)\b.*\bT2\b",
        r"\bT2\b",
    ],
    "coronal": [r"\bT1\b(?!.*\b(FS|FAT ?SAT|SPAIR|SPIR|STIR)\b)", r"\bT1\b"],
    "axial": [
        r"\b(PD|PROTON)\w*\b.*\b(FS|FAT ?SAT|SPAIR|SPIR|STIR)\b",
        r"\b(FS|FAT ?SAT|SPAIR|SPIR|STIR)\b.*\b(PD|PROTON)\w*\b",
        r"\b(PD|PROTON)\w*\b",
    ],
}
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def words(description: str) -> str:
    """A description as the rules see it: words separated by single spaces ("t2 tse fs")."""
    return _SEPARATORS.sub(" ", description).strip()


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
