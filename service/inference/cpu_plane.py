"""The CPU engine's copy of a plane network: same weights, faster 3x3 convolutions.

On a CPU the engine's float32 convolutions already run at the machine's
multiply-add peak, so the remaining speed comes from doing fewer of them:
AlexNet's three 3x3 layers run as Winograd F(4x4, 3x3) (36 multiplications per
4x4 output tile instead of 144), the first layer runs on blocks of the gray
slice (see `gray_first_conv`), and the 5x5 layer stays direct (its Winograd
forms measured slower: too much data for too few channels). Measured on 2
cores, per 256x256 slice: the three 3x3 layers 4.1 ms direct, 2.6 ms Winograd.
"""

from __future__ import annotations

from typing import TypeGuard

import torch
from torch import Tensor, nn

from service.inference.winograd import WinogradConv
from service.model.network import MRNetPlane, gray_first_conv

WINOGRAD_TILE = 4  # F(4x4, 3x3): 1e-5 relative error at most; F(6x6, 3x3) reaches 1e-3


def _is_winograd_layer(layer: nn.Module) -> TypeGuard[nn.Conv2d]:
    return (
        isinstance(layer, nn.Conv2d)
        and layer.kernel_size == (3, 3)
        and layer.stride == (1, 1)
        and layer.padding == (1, 1)
        and layer.dilation == (1, 1)
        and layer.groups == 1
    )


class CpuPlane(MRNetPlane):
    """An `MRNetPlane` with the same state dict whose inference `embed` takes the fast path.

    The Winograd weights are computed once, here, from the weights as loaded: a
    package is not changed after loading. They take 4x the memory of the 3x3
    weights (34 MB a plane for AlexNet). `winograd=False` keeps the direct 3x3
    convolutions. Training (autograd on) and 3-channel input take
    `MRNetPlane`'s own path.
    """

    def __init__(self, network: MRNetPlane, winograd: bool = True) -> None:
        super().__init__(network.num_tasks)
        self.load_state_dict(network.state_dict())
        self.eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.winograd = winograd
        self._winograd = {
            index: WinogradConv(layer.weight, layer.bias, 1, WINOGRAD_TILE)
            for index, layer in enumerate(self.features)
            if winograd and _is_winograd_layer(layer)
        }

    def embed(self, slices: Tensor) -> Tensor:
        if slices.shape[1] != 1 or torch.is_grad_enabled() or slices.device.type != "cpu":
            return super().embed(slices)
        first = self.features[0]
        assert isinstance(first, nn.Conv2d)
        x = gray_first_conv(first, slices)  # (N, 64, 63, 63), channels-last
        for index, layer in enumerate(self.features):
            if index > 0:
                fast = self._winograd.get(index)
                x = fast(x) if fast is not None else layer(x)
        return x.mean(dim=(2, 3))  # (N, 256)
