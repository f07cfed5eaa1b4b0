"""The published MRNet inference path, re-created as the baseline the engine is measured against.

As in the MRNet authors' code: one exam at a time, each plane's eager float32
forward in the default memory format, the gray slice repeated to 3 channels
(a real copy, as `np.stack((vol,) * 3, axis=1)`), torchvision's AlexNet
features, adaptive average pool, max over slices, one linear unit. No batching
across exams, no channels-last, no folding of the first convolution. The
weights are the package's, so both paths compute the same logits; the input
preprocessing is the package's too (`prepare_volume`), on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from service.domain import PLANES, Plane
from service.model.fusion import Fusion
from service.model.network import NUM_FEATURES, alexnet_features
from service.model.preprocess import InputSpec, prepare_volume
from service.store.loader import ModelPackage


class PublishedMRNet(nn.Module):
    """One plane's model as published: a (1, S, 3, H, W) series -> a (1, 1) logit."""

    def __init__(self) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(NUM_FEATURES, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.squeeze(x, dim=0)  # (S, 3, H, W): one series, batch size 1 only
        x = self.features(x)  # (S, 256, h, w)
        x = self.gap(x).view(x.size(0), -1)  # (S, 256)
        x = torch.max(x, 0, keepdim=True)[0]  # (1, 256)
        return self.classifier(x)  # type: ignore[no-any-return]  # (1, 1)


@dataclass(frozen=True)
class ReferenceScore:
    logits: dict[Plane, float]
    probability: float


@dataclass
class ReferenceModel:
    """The three published plane models with a package's weights, fusion and preprocessing."""

    planes: dict[Plane, PublishedMRNet]
    spec: InputSpec
    fusion: Fusion
    device: torch.device

    @classmethod
    def from_package(
        cls, package: ModelPackage, device: torch.device, task: str | None = None
    ) -> ReferenceModel:
        """The published models of one task (default: the package's first), its head alone."""
        task = task or package.manifest.task_names[0]
        networks, row = package.locate(task)
        planes = {}
        for plane in PLANES:
            model = PublishedMRNet()
            state = dict(networks[plane].state_dict())
            state["classifier.weight"] = state["classifier.weight"][row : row + 1]  # (1, 256)
            state["classifier.bias"] = state["classifier.bias"][row : row + 1]  # (1,)
            model.load_state_dict({k: v.float().cpu().contiguous() for k, v in state.items()})
            planes[plane] = model.to(device).eval()
        fusion = package.manifest.head(task).fusion
        return cls(planes, package.manifest.input, fusion, device)

    def series(self, volume: npt.NDArray[np.generic]) -> Tensor:
        """A volume as the published loader hands it to the model: (1, S, 3, H, W) float32."""
        gray = prepare_volume(volume, self.spec).slices  # (S, 1, h, w)
        return gray.repeat(1, 3, 1, 1).unsqueeze(0)  # (1, S, 3, h, w), a copy

    def score(self, volumes: Mapping[Plane, npt.NDArray[np.generic]]) -> ReferenceScore:
        logits: dict[Plane, float] = {}
        with torch.no_grad():
            for plane in PLANES:
                series = self.series(volumes[plane]).to(self.device)
                logits[plane] = float(self.planes[plane](series).item())
        probability = self.fusion.probability({p: logits[p] for p in PLANES})
        return ReferenceScore(logits, probability)
