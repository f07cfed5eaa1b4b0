"""Find, verify and load model packages.

Every weights file is checked against the manifest's sha256 before anything is
read from it; weights are safetensors only, so nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file

from service.domain import PLANES, Plane
from service.errors import PackageError, PackageNotFoundError
from service.model.network import MRNetPlane, state_dict_problem
from service.store.files import sha256_file
from service.store.manifest import MANIFEST_NAME, Manifest, is_task_name, is_version, version_key


@dataclass(frozen=True)
class LoadedBackbone:
    """Three plane networks; classifier row t is the head of `tasks[t]`."""

    tasks: tuple[str, ...]
    planes: dict[Plane, MRNetPlane]


@dataclass
class ModelPackage:
    """A verified package with its plane networks on one device, in eval mode."""

    manifest: Manifest
    path: Path
    digest: str  # sha256 of manifest.json, which pins every weights file
    backbones: list[LoadedBackbone]
    device: torch.device

    @property
    def planes(self) -> dict[Plane, MRNetPlane]:
        """The plane networks of a package with one backbone (every package trained here)."""
        if len(self.backbones) != 1:
            raise PackageError(
                f"The package {self.path} has {len(self.backbones)} backbones; "
                "look a task's networks up with locate()."
            )
        return self.backbones[0].planes

    def locate(self, task: str) -> tuple[dict[Plane, MRNetPlane], int]:
        """The plane networks that carry `task` and its classifier row; KeyError if absent."""
        backbone, row = self.manifest.locate(task)
        return self.backbones[backbone].planes, row


def list_packages(store: Path) -> list[str]:
    """The package names (folders) of a store, sorted."""
    if not store.is_dir():
        return []
    return sorted(p.name for p in store.iterdir() if p.is_dir() and is_task_name(p.name))


def list_versions(store: Path, name: str) -> list[str]:
    """Versions of a package, oldest first; folders that are not versions are skipped."""
    folder = store / name
    if not is_task_name(name) or not folder.is_dir():
        return []
    versions = [p.name for p in folder.iterdir() if p.is_dir() and is_version(p.name)]
    return sorted(versions, key=version_key)


def resolve_package(store: Path, name: str, version: str | None = None) -> Path:
    """The folder of the pinned version, or of the newest one."""
    versions = list_versions(store, name)
    if not versions:
        raise PackageNotFoundError(f"The model store {store} has no package {name!r}.")
    if version is None:
        return store / name / versions[-1]
    if version not in versions:
        raise PackageNotFoundError(
            f"The package {name!r} has no version {version!r} in {store}; "
            f"it has {', '.join(versions)}."
        )
    return store / name / version


def read_manifest(folder: Path) -> tuple[Manifest, str]:
    """The validated manifest and the sha256 of its bytes."""
    path = folder / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PackageError(f"Cannot read the manifest {path}: {error.strerror}.") from error
    try:
        manifest = Manifest.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        raise PackageError(f"The manifest {path} is not valid: {error}") from error
    if folder.name != manifest.version or folder.parent.name != manifest.name:
        raise PackageError(
            f"The manifest {path} says {manifest.name}/{manifest.version}, "
            f"but it lies in {folder.parent.name}/{folder.name}."
        )
    return manifest, hashlib.sha256(raw).hexdigest()


def verify_package(folder: Path) -> tuple[Manifest, str]:
    """Check that every weights file exists and matches its sha256."""
    manifest, digest = read_manifest(folder)
    for backbone in manifest.weights.backbones:
        for plane in PLANES:
            entry = backbone.planes[plane]
            path = folder / entry.file
            if not path.is_file():
                raise PackageError(f"The {plane} weights file {path} is missing.")
            actual = sha256_file(path)
            if actual != entry.sha256:
                raise PackageError(
                    f"The {plane} weights file {path} has sha256 {actual}, "
                    f"but the manifest expects {entry.sha256}; the package is refused."
                )
    return manifest, digest


def _load_plane(path: Path, plane: Plane, device: torch.device, num_tasks: int) -> MRNetPlane:
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as error:
        raise PackageError(
            f"The {plane} weights file {path} is not safetensors: {error}"
        ) from error
    problem = state_dict_problem(tensors, num_tasks)
    if problem is not None:
        raise PackageError(
            f"The {plane} weights file {path} does not fit a {num_tasks}-task network: {problem}."
        )
    network = MRNetPlane(num_tasks)
    network.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return network.to(device).eval()


def load_package(
    store: Path, name: str, version: str | None = None, device: str | torch.device = "cpu"
) -> ModelPackage:
    """Verify a package and build its plane networks on `device` (float32, eval mode)."""
    folder = resolve_package(store, name, version)
    manifest, digest = verify_package(folder)
    target = torch.device(device)
    backbones = [
        LoadedBackbone(
            tuple(backbone.tasks),
            {
                plane: _load_plane(
                    folder / backbone.planes[plane].file, plane, target, len(backbone.tasks)
                )
                for plane in PLANES
            },
        )
        for backbone in manifest.weights.backbones
    ]
    return ModelPackage(manifest, folder, digest, backbones, target)
