from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from service.inference.winograd import WinogradConv, matrices

# F(4x4, 3x3) as printed in Lavin and Gray (2016), with their row scaling.
LAVIN_BT = [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
]
LAVIN_G = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
]
LAVIN_AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]


def test_f4x4_3x3_matrices_are_the_published_ones() -> None:
    found = matrices(4, 3)
    np.testing.assert_array_equal(found.input_t, LAVIN_BT)
    np.testing.assert_allclose(found.kernel, LAVIN_G, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(found.output_t, LAVIN_AT)


@pytest.mark.parametrize(("m", "r"), [(2, 3), (4, 3), (6, 3), (2, 5), (1, 1)])
def test_one_dimensional_correlation_is_exact_in_float64(m: int, r: int) -> None:
    rng = np.random.default_rng(m * 10 + r)
    found = matrices(m, r)
    data, kernel = rng.standard_normal(m + r - 1), rng.standard_normal(r)
    got = found.output_t @ ((found.kernel @ kernel) * (found.input_t @ data))
    want = np.correlate(data, kernel, mode="valid")  # what a convolution layer computes
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("height", "width"), [(15, 15), (7, 9), (4, 4), (1, 3)])
def test_convolution_matches_conv2d_in_float32(height: int, width: int) -> None:
    torch.manual_seed(height * 100 + width)
    conv = torch.nn.Conv2d(24, 40, 3, padding=1)
    x = torch.relu(torch.randn(3, 24, height, width)).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        want = conv(x)
        got = WinogradConv(conv.weight, conv.bias, padding=1, tile=4)(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-4 * float(want.abs().max()), rtol=0)


def test_no_bias_and_no_padding() -> None:
    torch.manual_seed(3)
    weight = torch.randn(8, 5, 3, 3)
    x = torch.randn(2, 5, 10, 11).contiguous(memory_format=torch.channels_last)
    got = WinogradConv(weight, None, padding=0, tile=4)(x)
    torch.testing.assert_close(got, F.conv2d(x, weight), atol=1e-4, rtol=1e-4)


def test_output_is_channels_last_when_no_crop_is_needed() -> None:
    conv = torch.nn.Conv2d(4, 6, 3, padding=1)
    x = torch.randn(2, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got = WinogradConv(conv.weight, conv.bias, padding=1, tile=4)(x)
    assert got.is_contiguous(memory_format=torch.channels_last)


def test_a_non_square_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="square kernel"):
        WinogradConv(torch.zeros(2, 2, 3, 5), None, padding=1, tile=4)
