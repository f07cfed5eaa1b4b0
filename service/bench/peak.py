"""The machine's measured matrix-multiply peak: one large product repeated for a fixed time."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MatmulPeak:
    dtype: str
    size: int  # n of the n x n x n product
    products: int
    seconds: float

    @property
    def gflops_per_s(self) -> float:
        return 2 * self.size**3 * self.products / self.seconds / 1e9

    def describe(self) -> dict[str, float | int | str]:
        return {
            "dtype": self.dtype,
            "size": self.size,
            "products": self.products,
            "seconds": round(self.seconds, 3),
            "gflops_per_s": round(self.gflops_per_s, 1),
        }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(
    device: torch.device,
    seconds: float,
    dtype: torch.dtype = torch.float32,
    size: int | None = None,
) -> MatmulPeak:
    """Products of two random n x n matrices for `seconds` (after one untimed warm-up)."""
    n = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.matmul(a, b)
    _sync(device)
    products, started = 0, time.perf_counter()
    while True:
        torch.matmul(a, b, out=out)
        products += 1
        _sync(device)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return MatmulPeak(str(dtype).removeprefix("torch."), n, products, elapsed)
