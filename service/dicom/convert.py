"""`mrnet convert --dicom`: a folder of DICOM studies into the MRNet-v1.0 layout.

Each entry of the folder is one study: a sub-folder (its files read at any
depth, non-DICOM files skipped) or a ``.zip``. Studies are numbered in name
order; each becomes three uint8 volumes chosen and oriented as the service
does for an upload, and ``<split>-series.csv`` records which series were used
(and why a study could not be converted). Labels, when given, become the
header-less MRNet label files, so the result is browsable, evaluable and
trainable with the existing commands.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.datasets.layout import format_case_id, labels_path, volume_path, write_labels
from service.dicom.archive import is_dicom
from service.dicom.caps import Part, StudyCaps
from service.dicom.rules import SelectionRules
from service.dicom.study import Study, read_study
from service.domain import PLANES, TASKS
from service.errors import StudyError

SERIES_COLUMNS = (
    "case_id",
    "study",
    "plane",
    "series_instance_uid",
    "series_number",
    "series_description",
    "slices",
    "pixel_spacing_mm",
    "slice_spacing_mm",
    "problem",
)


@dataclass
class Conversion:
    converted: dict[str, str] = field(default_factory=dict)  # study name -> case id
    failed: dict[str, str] = field(default_factory=dict)  # study name -> why

    def describe(self) -> str:
        lines = [f"converted {len(self.converted)} studies, {len(self.failed)} failed"]
        lines += [f"  {name}: {problem}" for name, problem in self.failed.items()]
        return "\n".join(lines)


def series_csv_path(root: Path, split: str) -> Path:
    return root / f"{split}-series.csv"


def _parts(entry: Path) -> list[Part]:
    if entry.is_file():
        return [Part(f"archive {entry.name!r}", entry.read_bytes(), kind="zip")]
    parts = []
    for path in sorted(p for p in entry.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if is_dicom(data):
            parts.append(Part(f"file {path.relative_to(entry).as_posix()!r}", data))
    return parts


def studies(folder: Path) -> Iterator[tuple[str, Path]]:
    """The studies of a folder, named: its sub-folders and .zip files (without .zip)."""
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            yield entry.name, entry
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            yield entry.stem, entry


def _rows(case_id: str, name: str, study: Study) -> list[dict[str, object]]:
    return [
        {
            "case_id": case_id,
            "study": name,
            "plane": plane,
            "series_instance_uid": used.series_instance_uid,
            "series_number": used.series_number,
            "series_description": used.series_description,
            "slices": used.slices,
            "pixel_spacing_mm": " ".join(f"{v:g}" for v in used.pixel_spacing_mm),
            "slice_spacing_mm": f"{used.slice_spacing_mm:g}",
            "problem": "",
        }
        for plane, used in sorted(study.used.items())
    ]


def _write(root: Path, split: str, case_id: str, study: Study) -> None:
    for plane in PLANES:
        path = volume_path(root, split, plane, case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, study.volumes[plane])


def convert_folder(
    folder: Path,
    root: Path,
    split: str,
    rules: SelectionRules,
    caps: StudyCaps,
    size: int = 256,
    labels: Mapping[str, Mapping[str, int]] | None = None,
) -> Conversion:
    """Convert every study of `folder` into `root`'s `split`; labels: task -> study -> 0/1."""
    result = Conversion()
    rows: list[dict[str, object]] = []
    number = 0
    for name, entry in studies(folder):
        try:
            study = read_study(_parts(entry), rules, caps, size)
        except StudyError as error:
            result.failed[name] = str(error)
            rows.append({**dict.fromkeys(SERIES_COLUMNS, ""), "study": name, "problem": str(error)})
            continue
        case_id = format_case_id(number)
        number += 1
        _write(root, split, case_id, study)
        result.converted[name] = case_id
        rows.extend(_rows(case_id, name, study))
    with series_csv_path(root, split).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SERIES_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for task, by_study in (labels or {}).items():
        if task in TASKS:
            known = {result.converted[s]: v for s, v in by_study.items() if s in result.converted}
            write_labels(labels_path(root, split, task), known)
    return result


def read_study_labels(path: Path) -> dict[str, dict[str, int]]:
    """A labels CSV with a header: ``study`` and one column per task (0 or 1)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "study" not in fields:
            raise ValueError(f"{path.name} has no 'study' column (columns: {', '.join(fields)})")
        tasks = [f for f in fields if f != "study"]
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"{path.name} has columns {unknown}; tasks are {', '.join(TASKS)}")
        labels: dict[str, dict[str, int]] = {task: {} for task in tasks}
        for line, row in enumerate(reader, start=2):
            for task in tasks:
                value = (row.get(task) or "").strip()
                if value not in {"0", "1", ""}:
                    raise ValueError(f"{path.name} line {line}: {task} is {value!r}, not 0 or 1")
                if value:
                    labels[task][row["study"]] = int(value)
    return labels
