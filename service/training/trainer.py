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
from service.training.config import TrainConfig
from service.training.data import PlaneData, load_plane_data
from service.training.stages import (
    cross_validated_logits,
    finetune_epoch,
    finetune_optimizer,
    fit_head,
    init_from_scratch,
    pooled_features,
    pretrain_optimizer,
    pretrain_slices,
    volume_logits,
)


@dataclass
class PlaneRun:
    plane: Plane
    state: dict[str, torch.Tensor]
    train_logits: list[float]
    valid_logits: list[float]
    summary: dict[str, Any]
    # Out-of-fold train logits for the fusion fit; None where too few exams (or an old run).
    train_cv_logits: list[float] | None = None


def _round_trip_float16(net: MRNetPlane) -> None:
    """Give the network the values its float16 package will hold, so metrics are honest."""
    with torch.no_grad():
        for tensor in net.parameters():
            tensor.copy_(tensor.half().float())


def _pretrain(net: MRNetPlane, train: PlaneData, config: TrainConfig, log: list[Any]) -> bool:
    if config.task != "acl" or not train.has_slice_truth or config.pretrain_epochs < 1:
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


def _finetune(
    net: MRNetPlane, train: PlaneData, valid: PlaneData, config: TrainConfig, log: list[Any]
) -> tuple[int, float | None]:
    """Fine-tune, keeping the epoch (0 = after the head fit) with the best validation AUC."""
    best_epoch, best_auc = 0, auc_or_none(valid.labels, volume_logits(net, valid, False))
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    log.append({"stage": "fit-head", "epoch": 0, "valid_auc": best_auc})
    optimizer = finetune_optimizer(net, config.stages)
    for epoch in tqdm(
        range(1, config.epochs + 1), desc=f"{train.plane} epochs", disable=not config.progress
    ):
        loss = finetune_epoch(
            net, train, optimizer, config.stages, config.seed + 100 + epoch, config.progress
        )
        auc = auc_or_none(valid.labels, volume_logits(net, valid, False))
        log.append({"stage": "finetune", "epoch": epoch, "loss": round(loss, 5), "valid_auc": auc})
        if auc is not None and (best_auc is None or auc > best_auc):
            best_epoch, best_auc = epoch, auc
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return best_epoch, best_auc


def train_plane(config: TrainConfig, plane: Plane, device: torch.device) -> PlaneRun:
    torch.manual_seed(config.seed * 10 + PLANES.index(plane))
    train = load_plane_data(
        SplitReader(config.data, "train", config.task), plane, config.spec, config.progress
    )
    valid = load_plane_data(
        SplitReader(config.data, "valid", config.task), plane, config.spec, config.progress
    )
    net = MRNetPlane()
    if config.backbone_weights is not None:
        load_backbone(net, config.backbone_weights)
    else:
        init_from_scratch(net)
    net = net.to(device)
    log: list[Any] = []
    pretrained = _pretrain(net, train, config, log)
    fit_head(net, train, config.progress)
    best_epoch, best_auc = _finetune(net, train, valid, config, log)
    _round_trip_float16(net)
    cv_logits = cross_validated_logits(
        pooled_features(net, train, config.progress), train.labels, config.seed
    )
    summary = {
        "plane": plane,
        "best_epoch": best_epoch,
        "valid_auc": best_auc,
        "pretrained_on_slices": pretrained,
        "history": log,
        "config": config.fingerprint(),
    }
    return PlaneRun(
        plane=plane,
        state={k: v.detach().cpu() for k, v in net.state_dict().items()},
        train_logits=volume_logits(net, train, config.progress).tolist(),
        valid_logits=volume_logits(net, valid, config.progress).tolist(),
        summary=summary,
        train_cv_logits=None if cv_logits is None else cv_logits.tolist(),
    )


def add_cv_logits(config: TrainConfig, run: PlaneRun, device: torch.device) -> PlaneRun:
    """A finished plane from before out-of-fold logits were kept, with them computed now."""
    train = load_plane_data(
        SplitReader(config.data, "train", config.task), run.plane, config.spec, config.progress
    )
    net = MRNetPlane()
    net.load_state_dict(run.state)
    features = pooled_features(net.to(device), train, config.progress)
    cv_logits = cross_validated_logits(features, train.labels, config.seed)
    return replace(run, train_cv_logits=None if cv_logits is None else cv_logits.tolist())


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


SCHEDULE_KEYS = ("epochs", "pretrain_epochs", "easy_per_hard")
# What runs recorded before an option existed were trained with.
PRE_OPTION_DEFAULTS = {"easy_per_hard": 0.25}


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

    recorded = {**PRE_OPTION_DEFAULTS, **record.get("config", {})}
    if essential(recorded) != essential(config.fingerprint()):
        return None
    train_logits, valid_logits = record.pop("train_logits"), record.pop("valid_logits")
    cv_logits = record.pop("train_cv_logits", None)
    state = load_file(str(weights_path))
    return PlaneRun(plane, state, train_logits, valid_logits, record, cv_logits)


def plane_logit_matrix(
    runs: dict[Plane, PlaneRun], split: str
) -> np.ndarray[Any, np.dtype[np.float64]]:
    columns = [runs[p].train_logits if split == "train" else runs[p].valid_logits for p in PLANES]
    return np.array(columns, dtype=np.float64).T  # (N, 3)


def fusion_training_logits(
    runs: dict[Plane, PlaneRun],
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], str]:
    """The train logits (N, 3) the fusion is fitted on, and which kind they are."""
    columns = [runs[p].train_cv_logits for p in PLANES]
    if all(column is not None for column in columns):
        return np.array(
            columns, dtype=np.float64
        ).T, "out-of-fold (heads refitted without the exam's fold)"
    return plane_logit_matrix(runs, "train"), "in-sample"
