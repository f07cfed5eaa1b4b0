"""The training stages of one plane network.

1. `pretrain_slices`: the backbone and head learn slice-level labels taken
   from the synthetic ground truth (stands in for the ImageNet start).
2. `fit_head`: the linear unit is refitted on max-pooled volume features.
3. `finetune_epoch`: MRNet proper, one exam per step, weighted BCE, Adam.

`cross_validated_logits` gives the fusion honest training logits: each exam
scored by a head that did not see it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from torch import Tensor
from tqdm import tqdm

from service.model.network import MRNetPlane
from service.model.preprocess import centre_crop
from service.training.augment import augment_slices, augment_volume
from service.training.config import StageConfig
from service.training.data import PlaneData, slice_labels


def positive_weight(labels: npt.NDArray[np.int64]) -> Tensor:
    """Weight of the positive class in BCE: negatives per positive."""
    positives = max(int(labels.sum()), 1)
    return torch.tensor((len(labels) - positives) / positives, dtype=torch.float32)


def init_from_scratch(net: MRNetPlane) -> None:
    """He initialisation for the convolutions, so a backbone without ImageNet weights learns."""
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.01)
            torch.nn.init.zeros_(module.bias)


def pretrain_optimizer(net: MRNetPlane, config: StageConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(net.parameters(), lr=config.pretrain_lr)


def finetune_optimizer(net: MRNetPlane, config: StageConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        net.parameters(), lr=config.finetune_lr, weight_decay=config.weight_decay
    )


def pretrain_slices(
    net: MRNetPlane,
    data: PlaneData,
    optimizer: torch.optim.Optimizer,
    config: StageConfig,
    seed: int,
    progress: bool,
) -> float:
    """One epoch of slice-level training; returns the mean loss."""
    device = next(net.parameters()).device
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    refs = slice_labels(data, rng, config.easy_per_hard)
    labels = np.array([ref.label for ref in refs], dtype=np.int64)
    weight = positive_weight(labels).to(device)
    net.train()
    losses = []
    starts = range(0, len(refs), config.slice_batch)
    for start in tqdm(starts, desc=f"pretrain {data.plane}", disable=not progress, leave=False):
        batch = refs[start : start + config.slice_batch]
        stack = torch.cat([data.volume(r.case)[r.index : r.index + 1] for r in batch])
        if config.pretrain_crop is not None and config.pretrain_crop < stack.shape[-1]:
            stack = centre_crop(stack, config.pretrain_crop)  # (B, 1, crop, crop)
        stack = augment_slices(stack, config.pretrain_augmentation, generator).to(
            device
        )  # (B, 1, h, w)
        target = torch.tensor([float(r.label) for r in batch], device=device)
        logits = net.classifier(net.embed(stack)).squeeze(1)  # (B,)
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def pooled_features(net: MRNetPlane, data: PlaneData, progress: bool) -> Tensor:
    """Max-pooled volume features (N, 256) without augmentation."""
    device = next(net.parameters()).device
    net.eval()
    rows = []
    with torch.inference_mode():
        for index in tqdm(range(len(data)), desc="features", disable=not progress, leave=False):
            rows.append(net.embed(data.volume(index).to(device)).amax(dim=0).cpu())  # (256,)
    return torch.stack(rows)  # (N, 256)


def _head_model() -> LogisticRegression:
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)


def fit_head(net: MRNetPlane, data: PlaneData, progress: bool) -> None:
    """Refit the linear unit on max-pooled features (class-balanced logistic regression)."""
    features = pooled_features(net, data, progress).double().numpy()
    model = _head_model().fit(features, data.labels)
    with torch.no_grad():
        net.classifier.weight.copy_(torch.from_numpy(model.coef_).to(net.classifier.weight))
        net.classifier.bias.copy_(torch.from_numpy(model.intercept_).to(net.classifier.bias))


def finetune_epoch(
    net: MRNetPlane,
    data: PlaneData,
    optimizer: torch.optim.Optimizer,
    config: StageConfig,
    seed: int,
    progress: bool,
) -> float:
    """One MRNet epoch: one augmented exam per step; returns the mean loss."""
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    order = np.random.default_rng(seed).permutation(len(data))
    weight = positive_weight(data.labels).to(device)
    net.train()
    losses = []
    for index in tqdm(order, desc=f"finetune {data.plane}", disable=not progress, leave=False):
        stack = augment_volume(data.volume(index), config.augmentation, generator).to(device)
        target = torch.tensor([float(data.labels[index])], device=device)
        loss = F.binary_cross_entropy_with_logits(net(stack)[:, 0], target, pos_weight=weight)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def cross_validated_logits(
    features: Tensor, labels: npt.NDArray[np.int64], seed: int, folds: int = 5
) -> npt.NDArray[np.float64] | None:
    """Out-of-fold logits (N,): each exam scored by a head refitted without its fold.

    A head fitted on all the training exams separates them perfectly (train AUC
    1.0 on every plane of the demo), so a fusion fitted on those logits cannot
    tell a strong plane from a weak one. None when a class has fewer exams than
    two folds need.
    """
    folds = min(folds, int(np.bincount(labels, minlength=2).min()))
    if folds < 2:
        return None
    x = features.double().numpy()  # (N, 256)
    logits = np.zeros(len(labels), dtype=np.float64)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, labels)
    for fit_rows, held_out in split:
        head = _head_model().fit(x[fit_rows], labels[fit_rows])
        logits[held_out] = head.decision_function(x[held_out])
    return logits


def volume_logits(net: MRNetPlane, data: PlaneData, progress: bool) -> npt.NDArray[np.float64]:
    """Each volume's logit (N,), evaluation mode, no augmentation."""
    device = next(net.parameters()).device
    net.eval()
    with torch.inference_mode():
        logits = [
            float(net(data.volume(i).to(device)))
            for i in tqdm(range(len(data)), desc="score", disable=not progress, leave=False)
        ]
    return np.array(logits, dtype=np.float64)
