"""The MRNet plane network: AlexNet features, average pool per slice, max over slices.

Parameter names match torchvision's `alexnet()` (`features.0.weight` ...), so a
torchvision ImageNet AlexNet state dict loads into `features` as it is.

The forward pass is split so an engine can pack slices of several volumes into
one stack: `embed` runs the backbone per slice, `pool_volumes` takes the max
over each volume's slices by lengths, `classifier` maps 256 features to a logit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F  # noqa: N812 (the usual alias)
from torch import Tensor, nn

NUM_FEATURES = 256


def alexnet_features() -> nn.Sequential:
    """torchvision's AlexNet `features`, layer for layer (indices matter for names)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


class PooledVolumes(NamedTuple):
    """Per-volume max over slices and the slice each feature came from."""

    features: Tensor  # (V, 256)
    argmax: list[Tensor]  # V tensors of (256,) slice indices within each volume


class MRNetPlane(nn.Module):
    """One plane's model: slices (N, 3, H, W) -> per-volume logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.classifier = nn.Linear(NUM_FEATURES, 1)

    def feature_maps(self, slices: Tensor) -> Tensor:
        """Last feature maps, the A_f(x, y) of the class activation map."""
        return self.features(slices)  # type: ignore[no-any-return]  # (N, 256, h, w)

    def feature_maps_gray(self, slices: Tensor) -> Tensor:
        """Same as `feature_maps` on a gray stack (N, 1, H, W) repeated to 3 channels.

        A slice repeated to three channels meets the first convolution's three
        kernels with the same values, so summing the kernels over channels gives
        the same result with a third of the first layer's work and no copy.
        """
        first = self.features[0]
        assert isinstance(first, nn.Conv2d)
        weight = first.weight.sum(dim=1, keepdim=True)  # (64, 1, 11, 11)
        x = F.conv2d(slices, weight, first.bias, stride=first.stride, padding=first.padding)
        return self.features[1:](x)  # type: ignore[no-any-return]  # (N, 256, h, w)

    def embed(self, slices: Tensor) -> Tensor:
        """Per-slice features: global average pool of the last maps."""
        maps = self.feature_maps_gray(slices) if slices.shape[1] == 1 else self.feature_maps(slices)
        return maps.mean(dim=(2, 3))  # (N, 256)

    @staticmethod
    def pool_volumes(embeddings: Tensor, lengths: Sequence[int]) -> PooledVolumes:
        """Max over each volume's slices; `lengths` splits the packed stack."""
        if sum(lengths) != embeddings.shape[0] or min(lengths, default=1) < 1:
            raise ValueError(f"lengths {list(lengths)} do not split {embeddings.shape[0]} slices")
        pooled, argmax = [], []
        for volume in torch.split(embeddings, list(lengths)):  # (S_v, 256) each
            values, indices = volume.max(dim=0)  # (256,), (256,)
            pooled.append(values)
            argmax.append(indices)
        return PooledVolumes(torch.stack(pooled), argmax)

    def forward(self, slices: Tensor, lengths: Sequence[int] | None = None) -> Tensor:
        """Logits (V,) for a packed stack of slices; one volume when `lengths` is None."""
        embeddings = self.embed(slices)  # (N, 256)
        pooled = self.pool_volumes(embeddings, lengths or [embeddings.shape[0]])
        return self.classifier(pooled.features).squeeze(1)  # type: ignore[no-any-return]
