"""Fit an imported package's fusion on a data set's train split."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor
from tqdm import tqdm

from service.datasets.layout import labels_path
from service.datasets.reader import SplitReader
from service.domain import PLANES, Plane
from service.errors import DatasetError, InvalidVolumeError
from service.inference.predictor import score_plane
from service.model.fusion import Fusion
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec
from service.store.manifest import Metrics, PlaneMetrics
from service.store.writer import WeightsDtype
from service.training.fusion import fit_logistic_fusion

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
    reader: SplitReader, case_id: str, plane: Plane, network: MRNetPlane, spec: InputSpec
) -> float:
    try:
        return score_plane(network, spec, reader.volume(case_id, plane), plane)[0].logit
    except InvalidVolumeError as error:
        raise DatasetError(f"The train {plane} volume of case {case_id} {error.problem}") from error


def _train_reader(root: Path, task: str) -> SplitReader:
    reader = SplitReader(root, "train", task)
    if len(set(reader.labels.values())) < 2:
        raise DatasetError(
            f"The labels {labels_path(root, 'train', task)} have {len(reader)} cases but not "
            "both classes, so no fusion can be fitted on them."
        )
    return reader


def fit_fusion(
    states: Mapping[Plane, Mapping[str, Tensor]],
    spec: InputSpec,
    root: Path,
    task: str,
    dtype: WeightsDtype,
    *,
    progress: bool = False,
) -> tuple[Fusion, Metrics]:
    """Logistic regression on the train split's three plane logits, and its train AUCs."""
    reader = _train_reader(root, task)
    networks = {plane: _network(states[plane], dtype) for plane in PLANES}
    cases = reader.case_ids
    logits = np.array([
        [_case_logit(reader, case_id, plane, networks[plane], spec) for plane in PLANES]
        for case_id in tqdm(cases, desc="scoring train cases", unit="case", disable=not progress)
    ])  # fmt: skip  # (cases, 3)
    y = reader.label_array()
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
