"""Which package serves which task: the union of the tasks of a store's packages.

Every package of the store is a candidate (its newest version, or the version
pinned for it by name). A task carried by several candidates is served by the
newest one (`created_at`, then the name), unless a setting names the package
that serves it. Only manifests are read here; the runtime then loads the
packages that serve at least one task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.domain import TASKS
from service.errors import PackageError, PackageNotFoundError
from service.store.loader import list_packages, read_manifest, resolve_package
from service.store.manifest import Manifest

logger = logging.getLogger("mrnet.store")


@dataclass(frozen=True)
class Candidate:
    """One package of the store at the version that would be served."""

    name: str
    folder: Path
    manifest: Manifest

    @property
    def version(self) -> str:
        return self.manifest.version

    def age_key(self) -> tuple[datetime, str]:
        """Newest last: creation time, then the name (so a tie is still decided)."""
        try:
            created = datetime.fromisoformat(self.manifest.created_at)
        except ValueError:
            created = datetime.min
        return created.replace(tzinfo=created.tzinfo or UTC), self.name


@dataclass(frozen=True)
class Selection:
    """The tasks to serve, in order, and the package that serves each."""

    serving: dict[str, str]  # task -> package name
    candidates: dict[str, Candidate]  # package name -> the version chosen

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.serving)

    def packages(self) -> list[Candidate]:
        """The candidates that serve at least one task, by name."""
        names = sorted(set(self.serving.values()))
        return [self.candidates[name] for name in names]

    def tasks_of(self, name: str) -> tuple[str, ...]:
        return tuple(task for task, package in self.serving.items() if package == name)

    def describe(self) -> str:
        """E.g. "abnormal from triage/1, acl from acl/2"."""
        return ", ".join(
            f"{task} from {name}/{self.candidates[name].version}"
            for task, name in self.serving.items()
        )


def task_order(tasks: Sequence[str]) -> list[str]:
    """MRNet's tasks in their usual order (abnormal, acl, meniscus), then any others by name."""
    known = [task for task in TASKS if task in tasks]
    return known + sorted(set(tasks) - set(known))


def _candidates(
    store: Path, pinned_versions: Mapping[str, str], named: set[str]
) -> dict[str, Candidate]:
    """Each package's manifest; a broken package is skipped unless a setting names it."""
    names = list_packages(store)
    unknown = sorted(set(pinned_versions) - set(names))
    if unknown:
        raise PackageNotFoundError(
            f"MRNET_PINNED_VERSIONS pins {', '.join(unknown)}, but the model store {store} "
            f"has no such package; it has {', '.join(names) or 'none'}."
        )
    found: dict[str, Candidate] = {}
    for name in names:
        try:
            folder = resolve_package(store, name, pinned_versions.get(name))
            manifest, _ = read_manifest(folder)
        except PackageNotFoundError:
            if name in pinned_versions:
                raise
            continue  # a folder without versions
        except PackageError as error:
            if name in pinned_versions or name in named:
                raise
            logger.warning("skipped the package %s: %s", name, error)
            continue
        found[name] = Candidate(name, folder, manifest)
    return found


def _carrier(task: str, carriers: list[Candidate], pinned: str | None, store: Path) -> str:
    if pinned is not None:
        if pinned not in (c.name for c in carriers):
            raise PackageNotFoundError(
                f"MRNET_TASK_PACKAGES says the package {pinned!r} serves {task!r}, but no "
                f"readable package of that name in {store} carries {task!r}."
            )
        return pinned
    return max(carriers, key=Candidate.age_key).name


def select_packages(
    store: Path,
    tasks: Sequence[str] | None = None,
    pinned_versions: Mapping[str, str] | None = None,
    task_packages: Mapping[str, str] | None = None,
) -> Selection:
    """Decide which package serves each task; `tasks` restricts (default: every task found)."""
    pinned_versions, task_packages = pinned_versions or {}, task_packages or {}
    candidates = _candidates(store, pinned_versions, set(task_packages.values()))
    carriers: dict[str, list[Candidate]] = {}
    for candidate in candidates.values():
        for task in candidate.manifest.task_names:
            carriers.setdefault(task, []).append(candidate)
    found = task_order(list(carriers))
    wanted = task_order(list(dict.fromkeys(tasks))) if tasks else found
    missing = [task for task in wanted if task not in carriers]
    if missing or not wanted:
        raise PackageNotFoundError(
            f"The model store {store} has no package that carries "
            f"{', '.join(missing) or 'any task'}; its packages carry {', '.join(found) or 'none'}."
        )
    serving = {
        task: _carrier(task, carriers[task], task_packages.get(task), store) for task in wanted
    }
    return Selection(serving, candidates)
