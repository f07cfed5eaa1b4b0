"""Write a synthetic data set in the MRNet-v1.0 layout, one process per core.

Every case is drawn from its own stream (seed, case number) and the split's
label plan from (seed, split), so the files are byte-identical whatever the
number of workers.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from tqdm import tqdm

from service.datasets.layout import (
    SPLITS,
    format_case_id,
    labels_path,
    meta_path,
    study_path,
    volume_path,
    write_labels,
)
from service.domain import PLANES, TASKS
from service.synth.cohort import PREVALENCE, CasePlan, sample_plans
from service.synth.dicom import StudyIdentity, write_study
from service.synth.render import render_case
from service.synth.sampling import sample_case
from service.synth.study import study_series

GENERATOR: Final = "mrnet-synth"
GENERATOR_VERSION: Final = 3
FORMATS: Final = ("npy", "dicom")  # npy is the data set; dicom adds a study per case


@dataclass(frozen=True)
class CaseJob:
    out: Path
    split: str
    number: int
    plan: CasePlan
    seed: int
    dicom: bool = False


@dataclass(frozen=True)
class SynthSummary:
    out: Path
    cases: dict[str, int]  # split -> number of cases
    positives: dict[str, dict[str, int]]  # split -> task -> positive cases
    seconds: float

    def describe(self) -> str:
        total = sum(self.cases.values())
        lines = [f"wrote {total} synthetic cases to {self.out} in {self.seconds:.1f} s"]
        for split, count in self.cases.items():
            tasks = ", ".join(f"{task} {n}" for task, n in self.positives[split].items())
            lines.append(f"  {split}: {count} cases; positives: {tasks}")
        return "\n".join(lines)


def _check_request(out: Path, n_train: int, n_valid: int, workers: int | None) -> None:
    if n_train < 1:
        raise ValueError(f"n_train must be at least 1, got {n_train}.")
    if n_valid < 0:
        raise ValueError(f"n_valid must be 0 or more, got {n_valid}.")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"{out} already exists and is not an empty directory; "
            "synth writes a new data set and never overwrites or mixes into one."
        )


def _jobs(out: Path, n_train: int, n_valid: int, seed: int, dicom: bool) -> list[CaseJob]:
    """Every case, numbered on from train into valid as MRNet does."""
    jobs: list[CaseJob] = []
    first = 0
    for index, (split, count) in enumerate(zip(SPLITS, (n_train, n_valid), strict=True)):
        plans = sample_plans(
            count, PREVALENCE[split], np.random.default_rng([seed, 10_000 + index])
        )
        jobs.extend(
            CaseJob(out, split, first + i, plan, seed, dicom) for i, plan in enumerate(plans)
        )
        first += count
    return jobs


def write_case(job: CaseJob) -> tuple[str, str, dict[str, Any]]:
    """Render one case and save its three series; returns (split, case id, meta entry)."""
    params = sample_case(job.number, job.plan, job.seed)
    case = render_case(params)
    case_id = format_case_id(job.number)
    for plane in PLANES:
        np.save(volume_path(job.out, job.split, plane, case_id), case.volumes[plane])
    if job.dicom:
        rng = np.random.default_rng([job.seed, 20_000, job.number])  # this case's own stream
        identity = StudyIdentity(
            case_id, params.pose.left_knee, (GENERATOR, str(job.seed), case_id)
        )
        directory = study_path(job.out, job.split, case_id)
        write_study(directory, study_series(params, case, rng), identity, rng)
    return job.split, case_id, case.meta


def _run(jobs: list[CaseJob], workers: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if workers == 1:
        yield from map(write_case, jobs)
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(write_case, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(cancel_futures=True)


def _write_split(out: Path, split: str, seed: int, cases: dict[str, dict[str, Any]]) -> None:
    for task in TASKS:
        labels = {case_id: int(meta["labels"][task]) for case_id, meta in cases.items()}
        write_labels(labels_path(out, split, task), labels)
    header = {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "split": split,
    }
    lines = [f" {json.dumps(key)}: {json.dumps(value)}," for key, value in header.items()]
    entries = [
        f"  {json.dumps(case_id)}: {json.dumps(cases[case_id])}" for case_id in sorted(cases)
    ]
    body = ",\n".join(entries)
    # One case per line: readable, diffable, and still plain JSON.
    text = (
        "{\n" + "\n".join(lines) + '\n "cases": {' + (f"\n{body}\n " if entries else "") + "}\n}\n"
    )
    meta_path(out, split).write_text(text)


def generate_dataset(
    out: Path,
    n_train: int,
    n_valid: int,
    seed: int,
    workers: int | None = None,
    progress: bool = True,
    formats: tuple[str, ...] = ("npy",),
) -> SynthSummary:
    """Write n_train + n_valid synthetic knee MRI exams with labels and ground truth under `out`.

    `formats` may add "dicom": each case also as a DICOM study under
    `<split>/dicom/<case_id>/`; the .npy volumes are always written.
    """
    _check_request(out, n_train, n_valid, workers)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}.")
    started = time.perf_counter()
    jobs = _jobs(out, n_train, n_valid, seed, "dicom" in formats)
    for split in SPLITS:
        for plane in PLANES:
            (out / split / plane).mkdir(parents=True, exist_ok=True)
    count = min(workers or os.cpu_count() or 1, len(jobs))
    cases: dict[str, dict[str, dict[str, Any]]] = {split: {} for split in SPLITS}
    bar = tqdm(total=len(jobs), unit="case", desc="synth", disable=not progress, file=sys.stderr)
    with bar:
        for split, case_id, meta in _run(jobs, count):
            cases[split][case_id] = meta
            bar.update(1)
    for split in SPLITS:
        _write_split(out, split, seed, cases[split])
    positives: dict[str, dict[str, int]] = {
        split: {task: sum(m["labels"][task] for m in cases[split].values()) for task in TASKS}
        for split in SPLITS
    }
    counts = {split: len(cases[split]) for split in SPLITS}
    return SynthSummary(out, counts, positives, time.perf_counter() - started)
