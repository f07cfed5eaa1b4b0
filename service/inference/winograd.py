"""Winograd convolution F(m x m, r x r) for the CPU engine's stride-1 square convolutions.

An output tile of m x m pixels comes from an input tile of n x n (n = m + r - 1):
`Y = A^T [(G g G^T) * (B^T d B)] A` (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016). Per tile and channel pair that is n*n
multiplications where a direct convolution needs m*m*r*r: for AlexNet's 3x3
layers with m = 4, 36 instead of 144. The products over channels become n*n
matrix products, which is where the time goes; the transforms are small.

The matrices are built by Toom-Cook interpolation at 0, 1, -1, 2, -2, ... and
infinity, in float64, so one construction serves F(4x4, 3x3) and F(2x2, 5x5).
Results match the direct convolution to float32 rounding (about 1e-6 relative
on AlexNet's activations), not bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor


@dataclass(frozen=True)
class WinogradMatrices:
    """A^T (m, n), G (n, r) and B^T (n, n) for F(m, r), exact fractions rounded to float64."""

    output_t: npt.NDArray[np.float64]  # A^T
    kernel: npt.NDArray[np.float64]  # G
    input_t: npt.NDArray[np.float64]  # B^T


def _points(count: int) -> list[Fraction]:
    """0, 1, -1, 2, -2, ...: the small interpolation points that keep the transforms exact."""
    points = [Fraction(0)]
    step = 1
    while len(points) < count:
        points += [Fraction(step), Fraction(-step)]
        step += 1
    return points[:count]


def _poly_mul(a: list[Fraction], b: list[Fraction]) -> list[Fraction]:
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def matrices(m: int, r: int) -> WinogradMatrices:
    """Toom-Cook F(m, r) at n - 1 finite points and infinity (n = m + r - 1)."""
    n = m + r - 1
    points = _points(n - 1)
    output_t = [[p**i for p in points] + [Fraction(int(i == m - 1))] for i in range(m)]
    kernel, input_t = [], []
    for j, p in enumerate(points):
        others = [q for k, q in enumerate(points) if k != j]
        scale = math.prod((p - q for q in others), start=Fraction(1))
        kernel.append([p**k / scale for k in range(r)])
        row = [Fraction(1)]
        for q in others:
            row = _poly_mul(row, [-q, Fraction(1)])  # prod (x - q), lowest power first
        input_t.append(row + [Fraction(0)] * (n - len(row)))
    kernel.append([Fraction(int(k == r - 1)) for k in range(r)])  # infinity: the top coefficient
    last = [Fraction(1)]
    for q in points:
        last = _poly_mul(last, [-q, Fraction(1)])
    input_t.append(last)
    return WinogradMatrices(_floats(output_t), _floats(kernel), _floats(input_t))


def _floats(rows: list[list[Fraction]]) -> npt.NDArray[np.float64]:
    return np.array([[float(x) for x in row] for row in rows], dtype=np.float64)


class WinogradConv:
    """A stride-1 square convolution (O, C, r, r), prepared once, run on channels-last input."""

    def __init__(self, weight: Tensor, bias: Tensor | None, padding: int, tile: int) -> None:
        out_ch, in_ch, r, r2 = weight.shape
        if r != r2:
            raise ValueError(f"Winograd needs a square kernel, not {r}x{r2}")
        found = matrices(tile, r)
        self.tile, self.kernel_size, self.padding = tile, r, padding
        self.points = tile + r - 1
        kernel = torch.from_numpy(found.kernel)  # (n, r), float64
        transformed = kernel @ weight.detach().double().cpu() @ kernel.T  # (O, C, n, n)
        transformed = transformed.reshape(out_ch, in_ch, self.points**2).permute(2, 1, 0)
        self.weight = transformed.float().contiguous()  # (n*n, C, O)
        self.bias = torch.zeros(out_ch) if bias is None else bias.detach().float().cpu()
        self.input_t = torch.from_numpy(found.input_t).float()  # (n, n)
        self.output_t = torch.from_numpy(found.output_t).float()  # (m, n)

    def __call__(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, O, Ho, Wo); channels-last in memory on both sides."""
        out_h, out_w = (size + 2 * self.padding - self.kernel_size + 1 for size in x.shape[2:])
        rows, cols = -(-out_h // self.tile), -(-out_w // self.tile)  # tiles down and across
        tiles = self._tiles(x.permute(0, 2, 3, 1), rows, cols)  # (n, n, N*rows*cols*C)
        n = self.points
        spectra = torch.matmul(self.input_t, (self.input_t @ tiles.view(n, -1)).view(n, n, -1))
        spectra = spectra.view(n * n, x.shape[0] * rows * cols, -1)  # B^T d B: (n*n, tiles, C)
        products = torch.bmm(spectra, self.weight)  # (n*n, tiles, O)
        return self._untile(products, x.shape[0], rows, cols)[:, :, :out_h, :out_w]

    def _tiles(self, nhwc: Tensor, rows: int, cols: int) -> Tensor:
        """Overlapping n x n input tiles, m apart, tile position first: one copy."""
        m, n, pad = self.tile, self.points, self.padding
        batch, height, width, channels = nhwc.shape
        bottom, right = rows * m + n - m - height - pad, cols * m + n - m - width - pad
        padded = F.pad(nhwc, (0, 0, pad, right, pad, bottom))  # (N, Hp, Wp, C)
        s_n, s_h, s_w, s_c = padded.stride()
        shape = (n, n, batch, rows, cols, channels)
        return padded.as_strided(shape, (s_h, s_w, s_n, m * s_h, m * s_w, s_c)).contiguous()

    def _untile(self, products: Tensor, batch: int, rows: int, cols: int) -> Tensor:
        """A^T M A per tile, plus the bias: (N, O, rows*m, cols*m), channels-last."""
        m, n, out_ch = self.tile, self.points, products.shape[2]
        y = (self.output_t @ products.view(n, -1)).view(m, n, -1)
        y = torch.matmul(self.output_t, y).view(m, m, batch, rows, cols, out_ch)
        out = torch.empty(batch, rows, m, cols, m, out_ch)  # (N, rows, m, cols, m, O)
        torch.add(y.permute(2, 3, 0, 4, 1, 5), self.bias, out=out)
        return out.view(batch, rows * m, cols * m, out_ch).permute(0, 3, 1, 2)
