"""Builders shared by the tests: random-weight packages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from service.datasets.layout import write_labels
from service.domain import PLANES, Plane
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec
from service.store.manifest import PackageDraft, TaskHead, Threshold, Training


def random_states(seed: int, num_tasks: int = 1) -> dict[Plane, dict[str, torch.Tensor]]:
    """Plane state dicts with random weights, reproducible for a seed."""
    torch.manual_seed(seed)
    return {plane: MRNetPlane(num_tasks).state_dict() for plane in PLANES}


def head(task: str = "acl") -> TaskHead:
    return TaskHead(
        task=task,
        fusion=Fusion(coefficients={"axial": 0.5, "coronal": 0.8, "sagittal": 1.2}, intercept=-0.3),
        threshold=Threshold(value=0.5, method="fixed for tests"),
    )


def draft(
    task: str = "acl", size: int = 64, tasks: tuple[str, ...] | None = None, name: str | None = None
) -> PackageDraft:
    """A manifest draft for test packages; 64x64 input keeps the tests fast.

    One task (`task`, also the package name) unless `tasks` lists several.
    """
    heads = [head(t) for t in (tasks or (task,))]
    return PackageDraft(
        name=name or task,
        input=InputSpec(size=size),
        tasks=heads,
        training=Training(source="test", command="pytest"),
        intended_use="Random weights for tests; not a model.",
    )


def write_tiny_dataset(
    root: Path,
    n_train: int = 8,
    n_valid: int = 6,
    size: int = 64,
    seed: int = 0,
    findings: bool = False,
) -> Path:
    """A small MRNet-layout data set: noise volumes, positives with a bright block.

    Every case gets a ground-truth entry: the "ACL" cuts slices 2..5 of every
    plane and an ACL positive's block sits in slices 3..4. Without `findings`
    the three tasks share the ACL label (the ACL-only ground truth of older
    data sets). With `findings`, cases with an odd number also have a "meniscal
    tear" (a block in the other corner, slices 5..6; the menisci cut 4..6),
    abnormal is either tear, and each plane's truth has `finding_slices`.
    """
    rng = np.random.default_rng(seed)
    ids = {"train": range(n_train), "valid": range(n_train, n_train + n_valid)}
    for split, numbers in ids.items():
        labels: dict[str, dict[str, int]] = {task: {} for task in ("abnormal", "acl", "meniscus")}
        cases = {}
        for number in numbers:
            case_id = f"{number:04d}"
            acl = int(number % 3 == 0)
            meniscus = int(number % 2 == 1) if findings else acl
            case_labels = {"abnormal": int(acl or meniscus), "acl": acl, "meniscus": meniscus}
            for task, value in case_labels.items():
                labels[task][case_id] = value
            planes = {}
            for plane in PLANES:
                slices = int(rng.integers(7, 10))
                volume = rng.integers(0, 120, (slices, size, size), dtype=np.uint8)
                if acl:
                    volume[3:5, size // 4 : size // 2, size // 4 : size // 2] = 250
                if findings and meniscus:
                    volume[5:7, size // 2 : 3 * size // 4, size // 2 : 3 * size // 4] = 250
                folder = root / split / plane
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"{case_id}.npy", volume)
                tear = [3, 4] if acl else []
                planes[plane] = {"num_slices": slices, "acl_slices": [2, 5], "tear_slices": tear}
                if findings:
                    spans = {"acl_tear": [3, 4]} if acl else {}
                    spans |= {"meniscus_tear": [5, 6]} if meniscus else {}
                    planes[plane] |= {"meniscus_slices": [4, 6], "finding_slices": spans}
            truth_labels = case_labels if findings else {"acl": acl}
            cases[case_id] = {"labels": truth_labels, "findings": [], "planes": planes}
        for task, task_labels in labels.items():
            write_labels(root / f"{split}-{task}.csv", task_labels)
        meta = {"generator": "tests", "split": split, "cases": cases}
        (root / f"{split}-meta.json").write_text(json.dumps(meta))
    return root
