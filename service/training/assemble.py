"""Turn three trained planes into a package: per task a fusion, threshold and metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from service.datasets.reader import SplitReader, read_truth
from service.domain import PLANES, Plane
from service.evaluation.metrics import choose_threshold
from service.evaluation.report import Scorer, TaskScorer, evaluate
from service.model.network import MRNetPlane
from service.store.manifest import Metrics, PackageDraft, TaskHead, Threshold, Training
from service.store.writer import write_package
from service.training.config import ADJUSTED_FITS, TrainConfig
from service.training.fusion import fit_logistic_fusion
from service.training.trainer import (
    PlaneRun,
    fusion_training_logits,
    plane_logit_matrix,
)

DEMO_USE = (
    "For demonstration and software testing only. Trained on synthetic knee phantoms, "
    "not on patient data; not for clinical use."
)
REAL_USE = "Research use only. Validate on your own data before any use; not a medical device."


@dataclass
class Assembled:
    path: Path
    report: dict[str, Any]


def _networks(runs: dict[Plane, PlaneRun], device: torch.device) -> dict[Plane, MRNetPlane]:
    networks = {}
    for plane in PLANES:
        net = MRNetPlane(len(next(iter(runs.values())).valid_logits[0]))
        net.load_state_dict(runs[plane].state)
        networks[plane] = net.to(device).eval()
    return networks


def _data_origin(config: TrainConfig) -> dict[str, Any]:
    """For synthetic data, the command that makes the same data set again."""
    train, valid = read_truth(config.data, "train"), read_truth(config.data, "valid")
    extra = (train.model_extra or {}) if train is not None else {}
    if train is None or extra.get("generator") != "mrnet-synth":
        return {}
    command = (
        f"mrnet synth --out {config.data} --train {len(train.cases)} "
        f"--valid {len(valid.cases) if valid else 0} --seed {extra.get('seed')}"
    )
    return {"data_command": command, "data_generator_version": extra.get("generator_version")}


def _training_record(
    config: TrainConfig, runs: dict[Plane, PlaneRun], command: str, fusion_logits: str
) -> Training:
    """Seed, schedule and data origin; the sizes of the data are in its `data_command`."""
    pretrained = any(runs[p].summary.get("pretrained_on_slices") for p in PLANES)
    stages = ["pretrain-slices"] if pretrained else []
    stages += ["fit-head", "finetune-mrnet", "fit-fusion", "choose-threshold"]
    return Training(
        source="trained",
        command=command,
        data=str(config.data),
        seed=config.seed,
        epochs=config.epochs,
        stages=stages,
        pretrain_epochs=config.pretrain_epochs,
        tasks=list(config.tasks),
        head_fit=(
            "scale and bias of the slice-pretrained head, per task"
            if all(runs[p].summary.get("head_fit") == "direction" for p in PLANES)
            else "class-balanced logistic regression on max-pooled features, per task, "
            f"L2 with C chosen from {', '.join(map(str, config.head_c))} per plane and task by "
            "5-fold cross-validated AUC on the train exams (training.planes.*.head_c)"
            + (
                ", adjusted for the other findings' labels (acl for meniscus, meniscus for acl)"
                if config.head_fit in ADJUSTED_FITS
                else ""
            )
            + (
                ", also fitted on each positive exam without its finding's slices (a negative) "
                "and on those slices pasted into a negative exam (a positive)"
                if config.head_fit == "located"
                else ""
            )
        ),
        fusion_fitted_on=f"train logits, {fusion_logits}",
        **_data_origin(config),
        planes={
            p: {
                k: runs[p].summary[k]
                for k in ("best_epoch", "valid_auc", "head_c", "config", "history", "started_from")
                if k in runs[p].summary
            }
            for p in PLANES
        },
    )


def fit_labels(config: TrainConfig, runs: dict[Plane, PlaneRun], task: str) -> np.ndarray[Any, Any]:
    """One task's labels of the train exams the planes' logits were kept for."""
    reader = SplitReader(config.data, "train", task)
    fitted = [runs[p].summary.get("fit_cases", reader.case_ids) for p in PLANES]
    if any(cases != fitted[0] for cases in fitted):
        raise ValueError("the planes' heads were fitted on different train exams")
    return np.array([reader.labels[case] for case in fitted[0]], dtype=np.int64)


def _task_head(
    config: TrainConfig, runs: dict[Plane, PlaneRun], row: int, valid: SplitReader
) -> tuple[TaskScorer, Threshold, str]:
    """One task's fusion (on train logits) and threshold (on valid)."""
    train_labels = fit_labels(config, runs, config.tasks[row])
    fusion_logits, fusion_kind = fusion_training_logits(runs, row)
    fusion = fit_logistic_fusion(fusion_logits, train_labels)
    valid_probs = np.array(
        [
            fusion.probability(dict(zip(PLANES, plane_logits, strict=True)))
            for plane_logits in plane_logit_matrix(runs, "valid", row)
        ]
    )
    point = choose_threshold(valid.label_array(), valid_probs, config.min_sensitivity)
    threshold = Threshold(
        value=point.threshold,
        split="valid",
        sensitivity=point.sensitivity,
        specificity=point.specificity,
        method=f"highest specificity at sensitivity >= {config.min_sensitivity:.2f} on valid",
    )
    return TaskScorer(config.tasks[row], row, fusion, threshold.value), threshold, fusion_kind


def assemble(
    config: TrainConfig, runs: dict[Plane, PlaneRun], command: str, device: torch.device
) -> Assembled:
    valid = {task: SplitReader(config.data, "valid", task) for task in config.tasks}
    heads = [_task_head(config, runs, row, valid[task]) for row, task in enumerate(config.tasks)]
    cached = {p: runs[p].valid_embeddings for p in PLANES}
    scorer = Scorer(
        [_networks(runs, device)],
        config.spec,
        [head for head, _, _ in heads],
        {p: c for p, c in cached.items() if c is not None},
    )
    report = evaluate(scorer, valid, config.progress, config.bootstrap_rounds)
    synthetic = next(iter(valid.values())).truth is not None
    tasks = [
        TaskHead(
            task=scored.task,
            fusion=scored.fusion,
            threshold=threshold,
            metrics=Metrics.model_validate(report["tasks"][scored.task]),
        )
        for scored, threshold, _ in heads
    ]
    draft = PackageDraft(
        name=config.package_name,
        input=config.spec,
        tasks=tasks,
        training=_training_record(config, runs, command, heads[0][2]),
        intended_use=DEMO_USE if synthetic else REAL_USE,
    )
    path = write_package(config.out, draft, {p: runs[p].state for p in PLANES})
    (config.work_folder / "evaluation.json").write_text(json.dumps(report, indent=2))
    return Assembled(path, report)
