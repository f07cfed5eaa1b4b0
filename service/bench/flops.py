"""Work per slice, counted from the backbone's layer shapes (no profiler, no tracing).

Only the five convolutions are counted: ReLU, pooling, the average over the
last maps and the one linear unit are well under 1% of the work. A FLOP is
half a multiply-accumulate, as usual (FLOPs = 2 * MACs).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from service.model.network import alexnet_features


def _pair(value: int | tuple[int, ...]) -> int:
    """The first of a layer's (height, width) settings; AlexNet's are square."""
    return value if isinstance(value, int) else value[0]


def _out_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class FlopCount:
    """Multiply-accumulates per slice of one plane's backbone at one input size."""

    size: int
    in_channels: int  # 1: the first convolution folded to gray; 3: the slice repeated to RGB
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def input_label(self) -> str:
        return "1-channel folded" if self.in_channels == 1 else f"{self.in_channels}-channel"


def conv_macs(features: nn.Sequential, size: int, in_channels: int) -> int:
    """Multiply-accumulates of every Conv2d for one (in_channels, size, size) input."""
    macs, side, channels = 0, size, in_channels
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            if isinstance(layer.padding, str):
                raise ValueError(f"padding {layer.padding!r} is not counted; give it in pixels")
            kernel = _pair(layer.kernel_size)
            side = _out_side(side, kernel, _pair(layer.stride), _pair(layer.padding))
            macs += side * side * layer.out_channels * channels * kernel * kernel // layer.groups
            channels = layer.out_channels
        elif isinstance(layer, nn.MaxPool2d):
            kernel = _pair(layer.kernel_size)
            stride = _pair(layer.stride) if layer.stride is not None else kernel
            side = _out_side(side, kernel, stride, _pair(layer.padding))
        if side < 1:
            raise ValueError(f"a {size}x{size} input is too small for the backbone")
    return macs


def plane_flops(size: int, in_channels: int) -> FlopCount:
    """The MRNet plane backbone (torchvision's AlexNet features) on size x size slices."""
    return FlopCount(size, in_channels, conv_macs(alexnet_features(), size, in_channels))
