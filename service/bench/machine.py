"""The machine a benchmark ran on, so a table always says what made it (see report.machine_line).

The CPU model and vector features matter most: the CPU engine's numbers
depend on AVX-512 (on an AVX2-only machine of the same size a prediction
takes about 2 s instead of 0.6 s).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

CPUINFO = Path("/proc/cpuinfo")
# The vector extensions oneDNN and MKL choose kernels by, x86 and Arm.
VECTOR_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2",
)  # fmt: skip


def _cpuinfo(path: Path) -> dict[str, str]:
    """The first processor's `key: value` lines of /proc/cpuinfo (empty where there is none)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_info(path: Path = CPUINFO) -> dict[str, Any]:
    """CPU model, the vector flags it has, and what torch dispatches to on it."""
    info = _cpuinfo(path)
    flags = set((info.get("flags") or info.get("Features") or "").split())
    model = info.get("model name") or info.get("Model") or platform.processor()
    return {
        "model": model or platform.machine(),
        "vector_flags": [flag for flag in VECTOR_FLAGS if flag in flags],
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
    }


def machine_info(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Where the numbers came from: device, CPU, torch and its thread counts, the GPU's name."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    cpu = cpu_info()
    return {
        "device": str(device),
        "name": torch.cuda.get_device_name(device) if cuda else cpu["model"],
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
