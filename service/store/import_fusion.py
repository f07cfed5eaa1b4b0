"""Fit an imported package's fusion on a data set's train split."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor
from tqdm import tqdm

from service.datasets.layout import PLANES, Plane, labels_path, read_labels, volume_path
from service.datasets.npy import NpyFormatError, VolumeLimits, load_volume
from service.errors import DatasetError, InvalidVolumeError
from service.inference.predictor import score_plane
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec
from service.store.manifest import Metrics, PlaneMetrics
from service.store.writer import WeightsDtype
from service.training.fusion import fit_logistic_fusion

if TYPE_CHECKING:
    from service.store.importer import ImportedWeights

TRAIN_AUC_NOTE = (
    "AUCs on the train cases the fusion was fitted on; optimistic, not a validation metric."
)


def _network(state: Mapping[str, Tensor], dtype: WeightsDtype) -> MRNetPlane:
    """The plane network with the weights as the package will store them."""
    stored = torch.float16 if dtype == "float16" else torch.float32
    network = MRNetPlane()
    network.load_state_dict({k: v.to(stored).to(torch.float32) for k, v in state.items()})
    return network.eval()


def _case_logit(
    root: Path, case_id: str, plane: Plane, network: MRNetPlane, spec: InputSpec
) -> float:
    path = volume_path(root, "train", plane, case_id)
    try:
        return score_plane(network, spec, load_volume(path, VolumeLimits()), plane)[0].logit
    except OSError as error:
        raise DatasetError(
            f"Cannot read the train {plane} volume {path}: {error.strerror}."
        ) from error
    except NpyFormatError as error:
        raise DatasetError(f"The train {plane} volume {path} {error}.") from error
    except InvalidVolumeError as error:
        raise DatasetError(f"The train {plane} volume {path} {error.problem}.") from error


def _train_labels(root: Path, task: str) -> dict[str, int]:
    path = labels_path(root, "train", task)
    try:
        labels = read_labels(path)
    except OSError as error:
        raise DatasetError(f"Cannot read the labels {path}: {error.strerror}.") from error
    except ValueError as error:
        raise DatasetError(f"The labels file {path} is not valid: {error}.") from error
    if len(set(labels.values())) < 2:
        raise DatasetError(
            f"The labels {path} have {len(labels)} cases but not both classes, "
            "so no fusion can be fitted on them."
        )
    return labels


def fit_fusion(
    weights: ImportedWeights, root: Path, task: str, dtype: WeightsDtype, *, progress: bool = False
) -> tuple[Fusion, Metrics]:
    """Logistic regression on the train split's three plane logits, and its train AUCs."""
    labels = _train_labels(root, task)
    networks = {plane: _network(weights.states[plane], dtype) for plane in PLANES}
    spec, cases = weights.format.input, sorted(labels)
    logits = np.array([
        [_case_logit(root, case_id, plane, networks[plane], spec) for plane in PLANES]
        for case_id in tqdm(cases, desc="scoring train cases", unit="case", disable=not progress)
    ])  # fmt: skip  # (cases, 3)
    y = np.array([labels[case_id] for case_id in cases])
    fusion = fit_logistic_fusion(logits, y)
    planes = {
        p: PlaneMetrics(auc=float(roc_auc_score(y, logits[:, i]))) for i, p in enumerate(PLANES)
    }
    fused = float(
        roc_auc_score(y, [fusion.logit(dict(zip(PLANES, row, strict=True))) for row in logits])
    )
    metrics = Metrics(
        split="train", cases=len(cases), auc=fused, planes=planes, note=TRAIN_AUC_NOTE
    )
    return fusion, metrics
