"""Shared fixtures: tiny random model packages and small volumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from service.store.writer import write_package

from factories import draft, random_states

PackageFactory = Callable[..., Path]

# Test tensors are tiny: one thread avoids OpenMP stalls on a shared, busy machine.
torch.set_num_threads(1)


@pytest.fixture
def make_package(tmp_path: Path) -> PackageFactory:
    """Write a random-weights package into tmp_path/store and return its folder."""

    def make(task: str = "acl", seed: int = 0, version: str | None = None, **kw: object) -> Path:
        return write_package(
            tmp_path / "store", draft(task), random_states(seed), version=version, **kw
        )

    return make


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
