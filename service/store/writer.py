"""Write model packages: the one way training and import produce them.

A package is written into a hidden folder beside its final place and renamed
into place at the end, so an interrupted write never leaves a broken version.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save_file

from service.domain import PLANES, Plane
from service.errors import PackageError
from service.model.network import state_dict_problem
from service.store.files import sha256_file
from service.store.loader import list_versions
from service.store.manifest import (
    ARCHITECTURE,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    Backbone,
    Manifest,
    PackageDraft,
    Weights,
    WeightsFile,
    is_version,
)

WeightsDtype = Literal["float16", "float32"]
_TORCH_DTYPES = {"float16": torch.float16, "float32": torch.float32}


def next_version(store: Path, name: str) -> str:
    """One more than the newest whole-number version, "1" for a new package."""
    whole = [int(v.split(".")[0]) for v in list_versions(store, name)]
    return str(max(whole, default=0) + 1)


PlaneStates = Mapping[Plane, Mapping[str, torch.Tensor]]


@dataclass(frozen=True)
class BackboneStates:
    """The state dicts of one backbone's three planes and its tasks, in classifier row order."""

    tasks: tuple[str, ...]
    states: PlaneStates


def _write_backbone(
    folder: Path, backbone: BackboneStates, dtype: WeightsDtype, prefix: str
) -> Backbone:
    files: dict[Plane, WeightsFile] = {}
    num_tasks = len(backbone.tasks)
    for plane in PLANES:
        problem = state_dict_problem(backbone.states[plane], num_tasks)
        if problem is not None:
            raise PackageError(
                f"The {plane} state dict does not fit a {num_tasks}-task network: {problem}."
            )
        tensors = {
            name: tensor.detach().to("cpu", _TORCH_DTYPES[dtype]).contiguous()
            for name, tensor in backbone.states[plane].items()
        }
        path = folder / f"{prefix}{plane}.safetensors"
        metadata = {"plane": plane, "architecture": ARCHITECTURE, "tasks": ",".join(backbone.tasks)}
        save_file(tensors, str(path), metadata=metadata)
        files[plane] = WeightsFile(file=path.name, sha256=sha256_file(path))
    return Backbone(tasks=list(backbone.tasks), planes=files)


def _write_weights(
    folder: Path, backbones: Sequence[BackboneStates], dtype: WeightsDtype
) -> Weights:
    """One backbone: `<plane>.safetensors`; several: `<first task>-<plane>.safetensors`."""
    written = [
        _write_backbone(folder, b, dtype, "" if len(backbones) == 1 else f"{b.tasks[0]}-")
        for b in backbones
    ]
    return Weights(dtype=dtype, backbones=written)


def write_package(
    store: Path,
    draft: PackageDraft,
    states: PlaneStates | Sequence[BackboneStates],
    *,
    dtype: WeightsDtype = "float16",
    version: str | None = None,
) -> Path:
    """Write a new version of the package `draft.name` and return its folder.

    `states` are the three planes' state dicts of one backbone that carries every
    task of the draft, in its order, or several backbones, each with its tasks.
    """
    backbones = (
        [BackboneStates(draft.task_names, states)] if isinstance(states, Mapping) else states
    )
    if version is not None and not is_version(version):
        raise PackageError(f"{version!r} is not a package version (digits, dot separated).")
    task_folder = store / draft.name
    task_folder.mkdir(parents=True, exist_ok=True)
    version = version or next_version(store, draft.name)
    final = task_folder / version
    if final.exists():
        raise PackageError(f"The package {final} already exists; versions are never overwritten.")
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=task_folder))
    try:
        weights = _write_weights(staging, backbones, dtype)
        manifest = Manifest(
            **draft.model_dump(),
            schema_version=SCHEMA_VERSION,
            version=version,
            architecture=ARCHITECTURE,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            weights=weights,
        )
        text = json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n"
        (staging / MANIFEST_NAME).write_text(text)
        for path in staging.iterdir():  # readable by a service running as another user
            path.chmod(0o644)
        staging.chmod(0o755)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
