"""The MRNet-v1.0 data set layout, read and written as it is.

```
<root>/<split>/{axial,coronal,sagittal}/<case_id>.npy
<root>/<split>-{abnormal,acl,meniscus}.csv     header-less "0000,1" lines
<root>/<split>-meta.json                        synthetic ground truth (our addition)
<root>/<split>/dicom/<case_id>/IM*.dcm          `mrnet synth --format dicom` (our addition)
<root>/<split>-series.csv                       `mrnet convert --dicom`: the series used (ours)
```
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Final

from service.domain import PLANES, Plane

SPLITS: Final[tuple[str, ...]] = ("train", "valid")

_CASE_ID = re.compile(r"^[0-9]{4,8}$")


def is_case_id(value: str) -> bool:
    """True for MRNet case ids: four (or more) decimal digits, nothing else."""
    return _CASE_ID.fullmatch(value) is not None


def format_case_id(number: int) -> str:
    return f"{number:04d}"


def volume_path(root: Path, split: str, plane: Plane, case_id: str) -> Path:
    """Where one series lives; callers validate `split` and `case_id` first."""
    if split not in SPLITS or plane not in PLANES or not is_case_id(case_id):
        raise ValueError(f"not a valid MRNet volume: {split}/{plane}/{case_id}")
    return root / split / plane / f"{case_id}.npy"


def study_path(root: Path, split: str, case_id: str) -> Path:
    """Where a synthetic case's DICOM study lives, one file per instance."""
    if split not in SPLITS or not is_case_id(case_id):
        raise ValueError(f"not a valid MRNet study: {split}/{case_id}")
    return root / split / "dicom" / case_id


def labels_path(root: Path, split: str, task: str) -> Path:
    return root / f"{split}-{task}.csv"


def meta_path(root: Path, split: str) -> Path:
    return root / f"{split}-meta.json"


def read_labels(path: Path) -> dict[str, int]:
    """Read a header-less MRNet label file into {case_id: 0 or 1}."""
    labels: dict[str, int] = {}
    with path.open(newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2 or not is_case_id(row[0].strip()) or row[1].strip() not in {"0", "1"}:
                raise ValueError(f"{path.name} line {line_number} is not 'case_id,0|1': {row!r}")
            labels[row[0].strip()] = int(row[1].strip())
    return labels


def write_labels(path: Path, labels: dict[str, int]) -> None:
    """Write labels the way MRNet ships them: no header, ids in order, LF endings."""
    with path.open("w", newline="") as handle:
        for case_id in sorted(labels):
            handle.write(f"{case_id},{labels[case_id]}\n")
