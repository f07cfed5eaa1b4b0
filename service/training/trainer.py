"""`mrnet train`: train the plane networks, fit the fusion, write a package.

Each finished plane is kept in the work folder (weights and its logits), so an
interrupted run resumes at the plane it was on, and planes may be trained by
separate runs. The package is written, through the package writer, once all
three planes are there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from service.datasets.reader import SplitReader
from service.domain import PLANES, Plane
from service.evaluation.metrics import auc_or_none
from service.model.network import MRNetPlane
from service.training.config import ADJUSTED_FITS, TrainConfig
from service.training.data import PlaneData, load_plane_data
from service.training.stages import (
    FindingRows,
    cross_validated_logits,
    finetune_epoch,
    finetune_optimizer,
    fit_head,
    head_logits,
    init_from_scratch,
    max_pooled,
    nuisance_labels,
    pooled_features,
    pretrain_optimizer,
    pretrain_slices,
    slice_embeddings,
    volume_logits,
)


def split_readers(config: TrainConfig, split: str) -> list[SplitReader]:
    """One reader (label CSV) per task of the run."""
    return [SplitReader(config.data, split, task) for task in config.tasks]


@dataclass
class PlaneRun:
    plane: Plane
    state: dict[str, torch.Tensor]
    train_logits: list[list[float]]  # (N, T)
    valid_logits: list[list[float]]  # (N, T)
    summary: dict[str, Any]
    # Out-of-fold train logits (N, T) for the fusion fit; None where too few exams (or old).
    train_cv_logits: list[list[float]] | None = None
    # Per-slice valid features (S, 256) by case, kept in memory for the evaluation (not saved).
    valid_embeddings: dict[str, torch.Tensor] | None = None


def _round_trip_float16(net: MRNetPlane) -> None:
    """Give the network the values its float16 package will hold, so metrics are honest."""
    with torch.no_grad():
        for tensor in net.parameters():
            tensor.copy_(tensor.half().float())


def _pretrain(net: MRNetPlane, train: PlaneData, config: TrainConfig, log: list[Any]) -> bool:
    if not train.has_slice_truth or config.pretrain_epochs < 1:
        return False
    optimizer = pretrain_optimizer(net, config.stages)
    for epoch in tqdm(
        range(1, config.pretrain_epochs + 1),
        desc=f"{train.plane} pretrain epochs",
        disable=not config.progress,
    ):
        loss = pretrain_slices(
            net, train, optimizer, config.stages, config.seed + epoch, config.progress
        )
        log.append({"stage": "pretrain-slices", "epoch": epoch, "loss": round(loss, 5)})
    return True


def mean_auc(labels: np.ndarray[Any, Any], logits: np.ndarray[Any, Any]) -> float | None:
    """The mean over tasks of the AUC, labels and logits (N, T); None where one is undefined."""
    aucs = [auc_or_none(labels[:, t], logits[:, t]) for t in range(labels.shape[1])]
    known = [a for a in aucs if a is not None]
    return float(np.mean(known)) if len(known) == len(aucs) else None


def head_rows(count: int, wanted: int | None, seed: int) -> list[int]:
    """The train rows the heads and the fusion are fitted on: all, or `wanted` drawn by seed.

    The same rows for every plane (same split, same seed), so the fusion sees
    each exam's three plane logits.
    """
    if wanted is None or wanted >= count:
        return list(range(count))
    return sorted(int(i) for i in np.random.default_rng(seed).permutation(count)[:wanted])


@dataclass
class Features:
    """Per-slice features of every volume of a split, for the network as it stands."""

    slices: list[torch.Tensor]  # N tensors (S, 256)
    pooled: torch.Tensor  # (N, 256)

    @classmethod
    def of(cls, net: MRNetPlane, data: PlaneData, progress: bool) -> Features:
        slices = slice_embeddings(net, data, progress)
        return cls(slices, max_pooled(slices))


def _finetune(
    net: MRNetPlane,
    train: PlaneData,
    valid: PlaneData,
    valid_features: Features,
    config: TrainConfig,
    log: list[Any],
) -> tuple[int, float | None, bool]:
    """Fine-tune, keeping the epoch (0 = after the head fit) with the best mean valid AUC.

    Returns the epoch, its AUC and whether the backbone changed from the one
    `valid_features` was computed with.
    """
    best_epoch = 0
    best_auc = mean_auc(valid.labels, head_logits(net, valid_features.pooled))
    log.append({"stage": "fit-head", "epoch": 0, "valid_auc": best_auc})
    if config.epochs < 1:
        return best_epoch, best_auc, False
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = finetune_optimizer(net, config.stages)
    for epoch in tqdm(
        range(1, config.epochs + 1), desc=f"{train.plane} epochs", disable=not config.progress
    ):
        loss = finetune_epoch(
            net, train, optimizer, config.stages, config.seed + 100 + epoch, config.progress
        )
        auc = mean_auc(valid.labels, volume_logits(net, valid, False))
        log.append({"stage": "finetune", "epoch": epoch, "loss": round(loss, 5), "valid_auc": auc})
        if auc is not None and (best_auc is None or auc > best_auc):
            best_epoch, best_auc = epoch, auc
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return best_epoch, best_auc, best_epoch > 0


def _cv_logits(
    net: MRNetPlane,
    pooled: torch.Tensor,
    labels: np.ndarray[Any, Any],
    config: TrainConfig,
    keep_direction: bool,
    located: list[FindingRows | None] | None = None,
) -> list[list[float]] | None:
    """Out-of-fold train logits (N, T), each task's head refitted as `fit_head` fits it."""
    weight = net.classifier.weight.detach().double().cpu().numpy()  # (T, 256)
    adjusted = config.head_fit in ADJUSTED_FITS and not keep_direction
    columns = []
    for t in range(labels.shape[1]):
        direction = weight[t] if keep_direction else None
        nuisance = nuisance_labels(config.tasks, labels, t) if adjusted else None
        column = cross_validated_logits(
            pooled,
            labels[:, t],
            config.seed,
            direction,
            c=config.head_c,
            nuisance=nuisance,
            located=None if located is None else located[t],
        )
        if column is None:
            return None
        columns.append(column)
    return np.stack(columns, axis=1).tolist()  # type: ignore[no-any-return]  # (N, T)


def _located(
    config: TrainConfig, features: Features, data: PlaneData
) -> list[FindingRows | None] | None:
    """Each task's located rows for a "located" head fit on data with slice truth, else None."""
    if config.head_fit != "located" or not data.has_slice_truth:
        return None
    return [FindingRows.of(features.slices, data.truths, task) for task in config.tasks]


def train_plane(config: TrainConfig, plane: Plane, device: torch.device) -> PlaneRun:
    """Pretrain, fit the heads, fine-tune; the backbone's features are computed once a stage.

    The network is given its float16 values before its features are taken, so
    heads, logits and metrics are those of the package.
    """
    torch.manual_seed(config.seed * 10 + PLANES.index(plane))
    train = load_plane_data(split_readers(config, "train"), plane, config.spec, config.progress)
    valid = load_plane_data(split_readers(config, "valid"), plane, config.spec, config.progress)
    net = MRNetPlane(len(config.tasks))
    if config.backbone_weights is not None:
        load_backbone(net, plane_path(config.backbone_weights, plane))
    else:
        init_from_scratch(net)
    net = net.to(device)
    log: list[Any] = []
    pretrained = _pretrain(net, train, config, log)
    _round_trip_float16(net)
    fit = train.subset(head_rows(len(train), config.head_exams, config.seed))
    train_features = Features.of(net, fit, config.progress)
    keep_direction = pretrained and config.head_fit == "direction"
    adjust_for = config.tasks if config.head_fit in ADJUSTED_FITS else None
    located = _located(config, train_features, fit)
    head_c = fit_head(
        net, train_features.pooled, fit.labels, keep_direction, config.head_c, adjust_for, located
    )
    _round_trip_float16(net)
    valid_features = Features.of(net, valid, config.progress)
    best_epoch, best_auc, changed = _finetune(net, train, valid, valid_features, config, log)
    if changed:
        _round_trip_float16(net)
        train_features = Features.of(net, fit, config.progress)
        valid_features = Features.of(net, valid, config.progress)
        located = _located(config, train_features, fit)
    cv_logits = _cv_logits(net, train_features.pooled, fit.labels, config, keep_direction, located)
    summary = {
        "plane": plane,
        **_started_from(config, plane),
        "fit_cases": fit.case_ids,
        "best_epoch": best_epoch,
        "valid_auc": best_auc,
        "pretrained_on_slices": pretrained,
        "head_fit": "direction" if keep_direction else config.head_fit,
        "head_c": dict(zip(config.tasks, head_c, strict=True)),
        "history": log,
        "config": config.fingerprint(),
    }
    return PlaneRun(
        plane=plane,
        state={k: v.detach().cpu() for k, v in net.state_dict().items()},
        train_logits=head_logits(net, train_features.pooled).tolist(),  # (N, T)
        valid_logits=head_logits(net, valid_features.pooled).tolist(),
        summary=summary,
        train_cv_logits=cv_logits,
        valid_embeddings=dict(zip(valid.case_ids, valid_features.slices, strict=True)),
    )


def add_cv_logits(config: TrainConfig, run: PlaneRun, device: torch.device) -> PlaneRun:
    """A finished plane from before out-of-fold logits were kept, with them computed now."""
    train = load_plane_data(split_readers(config, "train"), run.plane, config.spec, config.progress)
    net = MRNetPlane(len(config.tasks))
    net.load_state_dict(run.state)
    recorded = "direction" if run.summary.get("pretrained_on_slices") else "free"
    keep = run.summary.get("head_fit", recorded) == "direction"
    pooled = pooled_features(net.to(device), train, config.progress)
    return replace(run, train_cv_logits=_cv_logits(net, pooled, train.labels, config, keep))


def _started_from(config: TrainConfig, plane: Plane) -> dict[str, Any]:
    """Where the start weights are a plane trained here, that plane's own record.

    A plane trained in stages (a run from another run's network) then keeps the
    schedule and loss history of every stage, each inside the next.
    """
    if config.backbone_weights is None:
        return {}
    record = plane_path(config.backbone_weights, plane).with_suffix(".json")
    if not record.is_file():
        return {}
    earlier = json.loads(record.read_text())
    kept = ("best_epoch", "valid_auc", "config", "history", "started_from")
    return {"started_from": {k: earlier[k] for k in kept if k in earlier}}


def plane_path(path: Path, plane: Plane) -> Path:
    """`path` with "{plane}" in it replaced by the plane: one start per plane."""
    return Path(str(path).replace("{plane}", plane))


def load_backbone(net: MRNetPlane, path: Path) -> None:
    """Load torchvision AlexNet `features.*` weights (state dict or safetensors) into `net`."""
    if path.suffix == ".safetensors":
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    features = {
        k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")
    }
    if not features:
        raise ValueError(f"{path} holds no 'features.*' tensors of a torchvision AlexNet.")
    net.features.load_state_dict(features)


def save_plane_run(work_dir: Path, run: PlaneRun) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in run.state.items()},
        str(work_dir / f"{run.plane}.safetensors"),
    )
    record = {
        **run.summary,
        "train_logits": run.train_logits,
        "valid_logits": run.valid_logits,
        "train_cv_logits": run.train_cv_logits,
    }
    (work_dir / f"{run.plane}.json").write_text(json.dumps(record, indent=1))


# A plane's own schedule: planes trained by separate runs may differ in these (each
# plane's record keeps its own), including the weights the plane started from.
SCHEDULE_KEYS = (
    "epochs",
    "pretrain_epochs",
    "easy_per_hard",
    "pretrain_crop",
    "pretrain_share",
    "pretrain_lr",
    "finetune_lr",
    "backbone_weights",
)
# What runs recorded before an option existed were trained with.
PRE_OPTION_DEFAULTS = {
    "easy_per_hard": 0.25,
    "pretrain_lr": 1e-4,
    "finetune_lr": 1e-5,
    "pretrain_crop": 128,
    "pretrain_share": 1.0,
    "head_exams": None,
    "head_fit": "direction",  # runs before the option refitted the pretrained head's scale
    "head_c": [1.0],
}


def _upgrade_record(config: dict[str, Any]) -> dict[str, Any]:
    """A plane record's fingerprint in today's keys (one-task runs recorded "task")."""
    config = {**PRE_OPTION_DEFAULTS, **config}
    if "task" in config:
        config["tasks"] = [config.pop("task")]
    return config


def _matrix(logits: list[Any] | None) -> list[list[float]] | None:
    """Logits (N, T); one-task records kept a flat list (N,)."""
    if logits is None:
        return None
    return [row if isinstance(row, list) else [row] for row in logits]


def load_plane_run(
    work_dir: Path, plane: Plane, config: TrainConfig, same_schedule: bool = True
) -> PlaneRun | None:
    """A finished plane from an earlier run on the same data, task and seed, if there is one.

    With `same_schedule` its epochs must match too; without, a plane trained with
    another schedule is taken as it is (its own schedule stays in its record).
    """
    record_path, weights_path = work_dir / f"{plane}.json", work_dir / f"{plane}.safetensors"
    if not record_path.is_file() or not weights_path.is_file():
        return None
    record = json.loads(record_path.read_text())
    ignored = () if same_schedule else SCHEDULE_KEYS

    def essential(fingerprint: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fingerprint.items() if k not in ignored}

    if essential(_upgrade_record(record.get("config", {}))) != essential(config.fingerprint()):
        return None
    train_logits = _matrix(record.pop("train_logits"))
    valid_logits = _matrix(record.pop("valid_logits"))
    cv_logits = _matrix(record.pop("train_cv_logits", None))
    assert train_logits is not None and valid_logits is not None
    state = load_file(str(weights_path))
    return PlaneRun(plane, state, train_logits, valid_logits, record, cv_logits)


def plane_logit_matrix(
    runs: dict[Plane, PlaneRun], split: str, task: int = 0
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One task's logits (N, 3), planes in PLANES order."""
    columns = [runs[p].train_logits if split == "train" else runs[p].valid_logits for p in PLANES]
    return np.array(columns, dtype=np.float64)[:, :, task].T  # (N, 3)


def fusion_training_logits(
    runs: dict[Plane, PlaneRun], task: int = 0
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], str]:
    """One task's train logits (N, 3) the fusion is fitted on, and which kind they are."""
    columns = [runs[p].train_cv_logits for p in PLANES]
    if all(column is not None for column in columns):
        matrix = np.array(columns, dtype=np.float64)[:, :, task].T  # (N, 3)
        return matrix, "out-of-fold (heads refitted without the exam's fold)"
    return plane_logit_matrix(runs, "train", task), "in-sample"
