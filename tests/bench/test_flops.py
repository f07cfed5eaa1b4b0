"""The FLOP count follows the backbone's layer shapes, checked by hand and against torchvision."""

from __future__ import annotations

import pytest

from service.bench.flops import plane_flops

# (output side, output channels, input channels, kernel) of AlexNet's five convolutions at 224
ALEXNET_224 = [
    (55, 64, 3, 11),
    (27, 192, 64, 5),
    (13, 384, 192, 3),
    (13, 256, 384, 3),
    (13, 256, 256, 3),
]
ALEXNET_256 = [
    (63, 64, 3, 11),
    (31, 192, 64, 5),
    (15, 384, 192, 3),
    (15, 256, 384, 3),
    (15, 256, 256, 3),
]
# AlexNet's three linear layers, which the plane model does not have
CLASSIFIER_MACS = 256 * 6 * 6 * 4096 + 4096 * 4096 + 4096 * 1000


def by_hand(layers: list[tuple[int, int, int, int]]) -> int:
    return sum(side * side * out * inp * k * k for side, out, inp, k in layers)


def test_alexnet_features_at_224_match_the_hand_count() -> None:
    count = plane_flops(224, 3)
    assert count.macs == by_hand(ALEXNET_224) == 655_566_528  # 0.656 GMACs
    assert count.flops == 2 * count.macs
    assert count.input_label == "3-channel"


def test_with_the_linear_layers_it_is_torchvisions_alexnet_figure() -> None:
    # torchvision documents AlexNet at 0.71 "GFLOPS", which are its multiply-accumulates
    assert round((plane_flops(224, 3).macs + CLASSIFIER_MACS) / 1e9, 2) == 0.71


def test_the_256_pixel_slice_count_follows_the_layer_shapes() -> None:
    assert plane_flops(256, 3).macs == by_hand(ALEXNET_256)
    assert plane_flops(256, 3).gflops == pytest.approx(1.737, abs=1e-3)


def test_folding_to_gray_saves_two_thirds_of_the_first_convolution_only() -> None:
    rgb, gray = plane_flops(256, 3), plane_flops(256, 1)
    assert rgb.macs - gray.macs == 2 * 63 * 63 * 64 * 11 * 11
    assert gray.input_label == "1-channel folded"


def test_an_input_too_small_for_the_backbone_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        plane_flops(16, 3)
