"""The MRNet plane network: AlexNet features, average pool per slice, max over slices.

Parameter names match torchvision's `alexnet()` (`features.0.weight` ...), so a
torchvision ImageNet AlexNet state dict loads into `features` as it is.

The forward pass is split so an engine can pack slices of several volumes into
one stack: `embed` runs the backbone per slice, `pool_volumes` takes the max
over each volume's slices by lengths, `classifier` maps 256 features to one
logit per task: a `Linear(256, T)` whose row t is task t's head, so the tasks
share the backbone and each task's attribution stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def gray_first_conv(conv: nn.Conv2d, slices: Tensor) -> Tensor:
    """`conv` on a gray stack (N, 1, H, W) as if each slice were repeated to its channels.

    The kernels are summed over channels, and the strided convolution is run
    as a stride-1 one on blocks: each `stride x stride` block of pixels becomes
    `stride**2` channels (pixel_unshuffle) and the kernel is zero-padded to a
    whole number of blocks. A one-channel input makes oneDNN pick a slow,
    plain-layout kernel (1.0 ms a slice for AlexNet's first layer on 2 cores);
    on 16 channels it runs a fast channels-last one (0.4 ms), and the output
    stays channels-last for the layers after it. Same sums, reordered.
    """
    stride, kernel, padding = _square(conv.stride), _square(conv.kernel_size), _square(conv.padding)
    blocks = -(-kernel // stride)  # kernel size in blocks, rounded up
    weight = conv.weight.sum(dim=1, keepdim=True)  # (O, 1, k, k)
    weight = F.pad(weight, (0, blocks * stride - kernel) * 2)  # (O, 1, K, K), K = blocks * stride
    out_ch = weight.shape[0]
    weight = weight.reshape(out_ch, blocks, stride, blocks, stride).permute(0, 2, 4, 1, 3)
    weight = weight.reshape(out_ch, stride * stride, blocks, blocks)  # (O, s*s, K/s, K/s)
    height, width = slices.shape[-2:]
    out_h = (height + 2 * padding - kernel) // stride + 1
    out_w = (width + 2 * padding - kernel) // stride + 1
    pad_h = -(height + 2 * padding) % stride + padding
    pad_w = -(width + 2 * padding) % stride + padding
    x = F.pad(slices, (padding, pad_w, padding, pad_h))  # (N, 1, Hb * s, Wb * s)
    n, rows, cols = x.shape[0], x.shape[2] // stride, x.shape[3] // stride
    x = x.reshape(n, rows, stride, cols, stride)  # (N, Hb, s, Wb, s)
    if conv.weight.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 1, 3, 2, 4).reshape(n, rows, cols, stride * stride)  # one copy
        x = x.permute(0, 3, 1, 2)  # (N, s*s, Hb, Wb), channels-last in memory
        weight = weight.contiguous(memory_format=torch.channels_last)
    else:
        x = x.permute(0, 2, 4, 1, 3).reshape(n, stride * stride, rows, cols)  # as pixel_unshuffle
    x = F.conv2d(x, weight, conv.bias)  # (N, O, >= out_h, >= out_w)
    return x[:, :, :out_h, :out_w]


def _square(value: tuple[int, ...] | str) -> int:
    if isinstance(value, str) or len(set(value)) != 1:
        raise ValueError(f"the first convolution must be square and numeric, not {value!r}")
    return value[0]


class PooledVolumes(NamedTuple):
    """Per-volume max over slices and the slice each feature came from."""

    features: Tensor  # (V, 256)
    argmax: list[Tensor]  # V tensors of (256,) slice indices within each volume


Shapes = Mapping[str, tuple[int, ...]]


def plane_shapes(num_tasks: int = 1) -> dict[str, tuple[int, ...]]:
    """Every tensor of `MRNetPlane(num_tasks)`'s state dict and its shape."""
    return {name: tuple(t.shape) for name, t in MRNetPlane(num_tasks).state_dict().items()}


def state_dict_problem(
    state: Mapping[str, Tensor], num_tasks: int = 1, expected: Shapes | None = None
) -> str | None:
    """Why `state` does not fit `MRNetPlane(num_tasks)`, or None when it does.

    The one check behind the writer, the loader and the checkpoint import; the
    import passes `expected`, the network's shapes under a checkpoint format's names.
    """
    expected = plane_shapes(num_tasks) if expected is None else expected
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        return f"missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name]):
            return f"{name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name])}"
    return None


class MRNetPlane(nn.Module):
    """One plane's model: slices (N, 3, H, W) -> per-volume logits, one per task."""

    def __init__(self, num_tasks: int = 1) -> None:
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"a plane network needs at least one task head, not {num_tasks}")
        self.features = alexnet_features()
        self.classifier = nn.Linear(NUM_FEATURES, num_tasks)

    @property
    def num_tasks(self) -> int:
        return self.classifier.out_features

    def head(self, index: int) -> tuple[Tensor, Tensor]:
        """Task `index`'s classifier weights (256,) and bias (), detached."""
        weight = self.classifier.weight.detach()[index]  # (256,)
        return weight, self.classifier.bias.detach()[index]

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
        x = gray_first_conv(first, slices)  # (N, 64, 63, 63)
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
        """Logits (V, T) for a packed stack of slices; one volume when `lengths` is None."""
        embeddings = self.embed(slices)  # (N, 256)
        pooled = self.pool_volumes(embeddings, lengths or [embeddings.shape[0]])
        return self.classifier(pooled.features)  # type: ignore[no-any-return]  # (V, T)
