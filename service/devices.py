"""Choosing the torch device: `auto` is cuda when available, else cpu."""

from __future__ import annotations

import torch

from service.errors import MRNetError


def resolve_device(name: str) -> torch.device:
    """`auto`, `cpu`, `cuda` or `cuda:N`; a CUDA device that is not there is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise MRNetError(f"{name!r} is not a device; use auto, cpu or cuda.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MRNetError(f"Device {name!r} was asked for, but CUDA is not available here.")
    if device.type not in {"cpu", "cuda"}:
        raise MRNetError(f"Device {name!r} is not supported; use auto, cpu or cuda.")
    return device
