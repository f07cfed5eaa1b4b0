"""The training stages of one plane network.

1. `pretrain_slices`: the backbone and head learn slice-level labels taken
   from the synthetic ground truth (stands in for the ImageNet start).
2. `fit_head`: each task's row of the linear unit is refitted on max-pooled
   volume features.
3. `finetune_epoch`: MRNet proper, one exam per step, weighted BCE per task
   (the sum), Adam.

Every stage trains all the run's tasks at once on the shared backbone: labels
are (N, T), logits (., T). `cross_validated_logits` gives the fusion honest
training logits: each exam scored by a head that did not see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from torch import Tensor
from tqdm import tqdm

from service.datasets.reader import TASK_FINDINGS, PlaneTruth
from service.evaluation.metrics import auc_or_none
from service.inference.cpu_plane import CpuPlane
from service.model.network import MRNetPlane
from service.model.preprocess import centre_crop
from service.training.augment import augment_slices, augment_volume
from service.training.config import StageConfig
from service.training.data import PlaneData, slice_labels


def positive_weight(labels: npt.NDArray[np.int64]) -> Tensor:
    """Weight of the positive class in BCE per task: negatives per positive, labels (N, T)."""
    positives = np.maximum(labels.sum(axis=0), 1)  # (T,)
    return torch.tensor((len(labels) - positives) / positives, dtype=torch.float32)  # (T,)


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
    refs = slice_labels(data, rng, config.easy_per_hard, config.pretrain_share)
    labels = np.array([ref.targets for ref in refs], dtype=np.int64).reshape(len(refs), -1)
    weight = positive_weight(labels).to(device)  # (T,)
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
        target = torch.tensor([r.targets for r in batch], dtype=torch.float32, device=device)
        logits = net.classifier(net.embed(stack))  # (B, T)
        loss = task_loss(logits, target, weight)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def slice_embeddings(net: MRNetPlane, data: PlaneData, progress: bool) -> list[Tensor]:
    """Each volume's per-slice features (S, 256), evaluation mode, no augmentation.

    On a CPU through the engine's copy of the network (Winograd 3x3 layers: the
    same features to 1e-7, in about half the time).
    """
    device = next(net.parameters()).device
    net.eval()
    scorer = CpuPlane(net) if device.type == "cpu" else net
    rows = []
    with torch.inference_mode():
        for index in tqdm(range(len(data)), desc="features", disable=not progress, leave=False):
            rows.append(scorer.embed(data.volume(index).to(device)).cpu())  # (S, 256)
    return rows


def pooled_features(net: MRNetPlane, data: PlaneData, progress: bool) -> Tensor:
    """Max-pooled volume features (N, 256) without augmentation."""
    return max_pooled(slice_embeddings(net, data, progress))


def max_pooled(embeddings: list[Tensor]) -> Tensor:
    return torch.stack([volume.amax(dim=0) for volume in embeddings])  # (N, 256)


def head_logits(net: MRNetPlane, pooled: Tensor) -> npt.NDArray[np.float64]:
    """Every task's logits (N, T) from max-pooled features (N, 256)."""
    with torch.no_grad():
        weight, bias = net.classifier.weight.double().cpu(), net.classifier.bias.double().cpu()
        return (pooled.double() @ weight.T + bias).numpy()


def task_loss(logits: Tensor, targets: Tensor, pos_weight: Tensor) -> Tensor:
    """Weighted BCE per task, summed over the tasks: logits and targets (B, T), weights (T,)."""
    per_task = F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=pos_weight, reduction="none"
    ).mean(dim=0)  # (T,)
    return per_task.sum()


DEFAULT_HEAD_C = 0.1
# The other findings' labels enter an adjusted head fit at this scale (0 or 10), so the
# L2 penalty barely holds their coefficients back and they take the label's share
# that goes with the other findings.
NUISANCE_SCALE = 10.0


def _head_model(c: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)


Head = tuple[npt.NDArray[np.float64], float]  # weights (256,) and bias of one task
Rows = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64] | None]


@dataclass(frozen=True)
class FindingRows:
    """One task's features of each train exam inside and outside its finding's slices.

    `inside` (N, 256) is max-pooled over the slices that show the task's finding
    (slice truth), `outside` (N, 256) over the other slices; `shown` (N,) marks
    the exams that have both. They make two more rows per positive exam for a
    located head fit (`extra_rows`): the exam without its finding's slices, a
    negative, and those slices pasted into a negative exam (the elementwise max
    of the two pooled vectors, as max pooling over both exams' slices gives), a
    positive. The first teaches the head that what the exam shows elsewhere is
    not the finding, the second that the finding's slices alone are; so the
    attention, the share of each slice in the logit, goes to those slices.
    """

    inside: npt.NDArray[np.float64]
    outside: npt.NDArray[np.float64]
    shown: npt.NDArray[np.bool_]

    @classmethod
    def of(
        cls, slices: Sequence[Tensor], truths: Sequence[PlaneTruth | None], task: str
    ) -> FindingRows | None:
        """From per-slice features (S, 256) per exam and their slice truth.

        None for abnormal, whose head is fitted as `adjusted` fits it (located
        rows were measured for acl and meniscus only), and for a task whose
        finding shows in none of the exams.
        """
        if task not in TASK_FINDINGS or task == "abnormal":
            return None
        width = slices[0].shape[1]
        inside = np.zeros((len(slices), width), dtype=np.float64)
        outside = np.zeros_like(inside)
        shown = np.zeros(len(slices), dtype=bool)
        for i, (features, truth) in enumerate(zip(slices, truths, strict=True)):
            if truth is None:
                continue
            mask = np.array([truth.shows(task, s) for s in range(len(features))])  # (S,)
            if mask.any() and not mask.all():
                values = features.double().numpy()
                inside[i], outside[i] = values[mask].max(axis=0), values[~mask].max(axis=0)
                shown[i] = True
        return cls(inside, outside, shown) if shown.any() else None

    def subset(self, rows: npt.NDArray[np.int64]) -> FindingRows:
        return FindingRows(self.inside[rows], self.outside[rows], self.shown[rows])

    def extra_rows(
        self,
        features: npt.NDArray[np.float64],
        labels: npt.NDArray[np.int64],
        nuisance: npt.NDArray[np.float64] | None,
    ) -> Rows:
        """The removed (label 0) and pasted (label 1) rows of these exams; each positive exam
        whose finding shows is pasted into a negative one drawn with a fixed seed."""
        shown = np.flatnonzero(self.shown & (labels == 1))
        negatives = np.flatnonzero(labels == 0)
        if not len(shown) or not len(negatives):
            return features[:0], labels[:0], None if nuisance is None else nuisance[:0]
        partners = np.random.default_rng(0).choice(negatives, len(shown))
        pasted = np.maximum(features[partners], self.inside[shown])  # (M, 256)
        x = np.vstack([self.outside[shown], pasted])
        y = np.r_[np.zeros(len(shown)), np.ones(len(shown))].astype(labels.dtype)
        others = None if nuisance is None else np.vstack([nuisance[shown], nuisance[partners]])
        return x, y, others


def _with_rows(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    nuisance: npt.NDArray[np.float64] | None,
    located: FindingRows | None,
) -> Rows:
    """The exams' rows followed by their located rows (see `FindingRows`), if any."""
    if located is None:
        return features, labels, nuisance
    x, y, others = located.extra_rows(features, labels, nuisance)
    both = None if nuisance is None or others is None else np.vstack([nuisance, others])
    return np.vstack([features, x]), np.r_[labels, y], both


def fit_task_head(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    direction: npt.NDArray[np.float64] | None,
    c: float | tuple[float, ...] = DEFAULT_HEAD_C,
    nuisance: npt.NDArray[np.float64] | None = None,
    located: FindingRows | None = None,
) -> Head:
    """One task's head on max-pooled features (N, 256), class-balanced logistic regression.

    Without a `direction` all 256 weights are fitted, as the published method
    fits its linear unit, with an L2 penalty of inverse strength `c`. With
    `nuisance` (N, K), the labels of other findings (see `nuisance_labels`),
    the fit is adjusted for them: they enter the regression beside the
    features, and their fitted effect at its training mean goes into the bias.
    The head then needs no weight on features of a finding that merely goes
    with its own (a torn ACL with a meniscal tear), which would put its
    attention on that other finding's slices. Several values of `c` are
    candidates: `choose_head_c` picks one by cross-validation. With a `direction`
    (the head that slice pretraining trained on the finding slices) only its
    scale and the bias are fitted, so the head reads only the features that
    mark the finding's slices; where that direction ranks the exams the wrong
    way round, the fit is free. With `located` (slice truth) each free fit
    also learns from the exams' located rows (`FindingRows`).

    On the demo's synthetic data (triage/1's axial backbone, 300 train and 100
    valid exams) the free fit at c = 0.1 ranked ACL exams far better than the
    scale fit (valid AUC 0.92 against 0.74) with as many attention hits inside
    the tear (0.82 against 0.84); c = 1 gave 0.93 and 0.76, c = 0.01 0.91 and 0.84.
    """
    if direction is not None:
        score = features @ direction  # (N,)
        model = _head_model().fit(score[:, None], labels)
        scale = float(model.coef_[0, 0])
        if scale > 0:
            return direction * scale, float(model.intercept_[0])
    if isinstance(c, tuple):
        c = choose_head_c(features, labels, c, nuisance, located=located)
    x, y, others = _with_rows(features, labels, nuisance, located)
    if nuisance is None or others is None or nuisance.shape[1] == 0:
        model = _head_model(c).fit(x, y)
        return model.coef_[0].astype(np.float64), float(model.intercept_[0])
    model = _head_model(c).fit(np.hstack([x, NUISANCE_SCALE * others]), y)
    weights = model.coef_[0].astype(np.float64)  # (256 + K,)
    width = features.shape[1]
    # The nuisance's effect at the mean of the exams (not of the located rows).
    mean_effect = float(NUISANCE_SCALE * nuisance.mean(axis=0) @ weights[width:])
    return weights[:width], float(model.intercept_[0]) + mean_effect


def choose_head_c(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    grid: tuple[float, ...],
    nuisance: npt.NDArray[np.float64] | None = None,
    folds: int = 5,
    located: FindingRows | None = None,
) -> float:
    """The `c` of `grid` whose free head ranks held-out train exams best (5-fold AUC).

    Each fold's head is scored as the package scores, without the nuisance
    labels; its located rows come from its own fit exams only. Ties go to the
    smaller `c`; with too few exams of a class for two folds, the largest. On
    the demo's synthetic data the planes differ: the coronal heads rank best at
    0.01, the sagittal ones at 0.1 or more.
    """
    folds = min(folds, int(np.bincount(labels, minlength=2).min()))
    if len(grid) == 1 or folds < 2:
        return max(grid)
    best, best_auc = min(grid), -1.0
    for c in sorted(grid):
        logits = _out_of_fold(features, labels, folds, 0, None, c, nuisance, located)
        auc = auc_or_none(labels, logits)
        if auc is not None and auc > best_auc + 1e-9:
            best, best_auc = c, auc
    return best


def nuisance_labels(
    tasks: tuple[str, ...], labels: npt.NDArray[np.int64], row: int
) -> npt.NDArray[np.float64] | None:
    """The labels (N, K) a head of `tasks[row]` is adjusted for: the other specific findings.

    acl is adjusted for meniscus and meniscus for acl; abnormal (any finding)
    for nothing, since every finding is evidence for it. None where there is none.
    """
    if tasks[row] == "abnormal":
        return None
    others = [t for t, task in enumerate(tasks) if t != row and task != "abnormal"]
    return labels[:, others].astype(np.float64) if others else None


def fit_head(
    net: MRNetPlane,
    pooled: Tensor,
    labels: npt.NDArray[np.int64],
    keep_direction: bool,
    c: float | tuple[float, ...] = DEFAULT_HEAD_C,
    adjust_for: tuple[str, ...] | None = None,
    located: Sequence[FindingRows | None] | None = None,
) -> list[float | None]:
    """Refit each task's row of the linear unit on max-pooled features (N, 256), labels (N, T).

    See `fit_task_head`; `keep_direction` fits the scale of the present rows only;
    `adjust_for`, the run's tasks, adjusts each free fit for the other findings;
    `located`, one per task, adds its located rows to each free fit.
    Returns each task's `c` (chosen where `c` lists candidates; None for a scale fit).
    """
    features = pooled.double().numpy()  # (N, 256)
    weight = net.classifier.weight.detach().double().cpu().numpy()  # (T, 256)
    chosen: list[float | None] = []
    with torch.no_grad():
        for t in range(labels.shape[1]):
            direction = weight[t] if keep_direction else None
            nuisance = nuisance_labels(adjust_for, labels, t) if adjust_for else None
            rows = located[t] if located is not None else None
            grid = c if isinstance(c, tuple) else (c,)
            task_c = (
                None
                if direction is not None
                else choose_head_c(features, labels[:, t], grid, nuisance, located=rows)
            )
            chosen.append(task_c)
            fit_c = c if task_c is None else task_c
            row, bias = fit_task_head(features, labels[:, t], direction, fit_c, nuisance, rows)
            net.classifier.weight[t].copy_(torch.from_numpy(row).to(net.classifier.weight))
            net.classifier.bias[t] = bias
    return chosen


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
    weight = positive_weight(data.labels).to(device)  # (T,)
    net.train()
    losses = []
    for index in tqdm(order, desc=f"finetune {data.plane}", disable=not progress, leave=False):
        stack = augment_volume(data.volume(index), config.augmentation, generator).to(device)
        target = torch.tensor(data.labels[index : index + 1], dtype=torch.float32, device=device)
        loss = task_loss(net(stack), target, weight)  # (1, T) logits
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def cross_validated_logits(
    features: Tensor,
    labels: npt.NDArray[np.int64],
    seed: int,
    direction: npt.NDArray[np.float64] | None = None,
    folds: int = 5,
    c: float | tuple[float, ...] = DEFAULT_HEAD_C,
    nuisance: npt.NDArray[np.float64] | None = None,
    located: FindingRows | None = None,
) -> npt.NDArray[np.float64] | None:
    """One task's out-of-fold logits (N,): each exam scored by a head refitted without its fold.

    The head is refitted as `fit_task_head` fits it (with `direction`: its scale
    only; with `nuisance` (N, K): adjusted for it, and the held-out fold scored
    without it, as the package scores; with `located`: its fit exams' located
    rows). A head fitted on all the training exams separates them perfectly
    (train AUC 1.0 on every plane of the ACL demo), so a fusion fitted on those
    logits cannot tell a strong plane from a weak one. None when a class has
    fewer exams than two folds need.
    """
    folds = min(folds, int(np.bincount(labels, minlength=2).min()))
    if folds < 2:
        return None
    x = features.double().numpy()  # (N, 256)
    return _out_of_fold(x, labels, folds, seed, direction, c, nuisance, located)


def _out_of_fold(
    x: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    folds: int,
    seed: int,
    direction: npt.NDArray[np.float64] | None,
    c: float | tuple[float, ...],
    nuisance: npt.NDArray[np.float64] | None,
    located: FindingRows | None,
) -> npt.NDArray[np.float64]:
    """Logits (N,) of each exam from a head fitted (`fit_task_head`) on the other folds'
    exams, their nuisance labels and located rows; scored without the nuisance."""
    logits = np.zeros(len(labels), dtype=np.float64)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, labels)
    for fit_rows, held_out in split:
        others = None if nuisance is None else nuisance[fit_rows]
        rows = None if located is None else located.subset(fit_rows)
        weight, bias = fit_task_head(x[fit_rows], labels[fit_rows], direction, c, others, rows)
        logits[held_out] = x[held_out] @ weight + bias
    return logits


def volume_logits(net: MRNetPlane, data: PlaneData, progress: bool) -> npt.NDArray[np.float64]:
    """Each volume's logits (N, T), evaluation mode, no augmentation."""
    device = next(net.parameters()).device
    net.eval()
    with torch.inference_mode():
        logits = [
            net(data.volume(i).to(device))[0].double().cpu().numpy()  # (T,)
            for i in tqdm(range(len(data)), desc="score", disable=not progress, leave=False)
        ]
    return np.array(logits, dtype=np.float64).reshape(len(data), -1)
