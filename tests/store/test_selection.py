"""Which package serves which task: the union of a store's packages, newest or pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.errors import PackageError, PackageNotFoundError
from service.store.selection import select_packages, task_order
from service.store.writer import write_package

from factories import draft, random_states


def _write(store: Path, name: str, tasks: tuple[str, ...], created: str, seed: int = 0) -> Path:
    folder = write_package(
        store, draft(tasks=tasks, name=name), random_states(seed, num_tasks=len(tasks))
    )
    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text())
    data["created_at"] = created  # written within one second: set the order the test needs
    manifest.write_text(json.dumps(data))
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """acl/1 (old), triage/1 (newer: abnormal, acl, meniscus)."""
    root = tmp_path / "store"
    _write(root, "acl", ("acl",), "2026-01-01T00:00:00+00:00")
    _write(root, "triage", ("abnormal", "acl", "meniscus"), "2026-06-01T00:00:00+00:00")
    return root


def test_the_union_of_tasks_is_served_by_the_newest_package(store: Path) -> None:
    selection = select_packages(store)
    assert selection.serving == {"abnormal": "triage", "acl": "triage", "meniscus": "triage"}
    assert [c.name for c in selection.packages()] == ["triage"]  # acl/1 serves nothing: not loaded
    assert selection.describe() == (
        "abnormal from triage/1, acl from triage/1, meniscus from triage/1"
    )


def test_a_newer_one_task_package_takes_its_task_over(store: Path) -> None:
    _write(store, "acl", ("acl",), "2026-09-01T00:00:00+00:00")
    selection = select_packages(store)
    assert selection.serving == {"abnormal": "triage", "acl": "acl", "meniscus": "triage"}
    assert selection.candidates["acl"].version == "2"  # the newest version of a package
    assert [c.name for c in selection.packages()] == ["acl", "triage"]


def test_a_setting_pins_the_package_of_a_task(store: Path) -> None:
    selection = select_packages(store, task_packages={"acl": "acl"})
    assert selection.serving["acl"] == "acl" and selection.serving["meniscus"] == "triage"
    assert selection.tasks_of("triage") == ("abnormal", "meniscus")


def test_a_pin_to_a_package_without_the_task_is_refused(store: Path) -> None:
    with pytest.raises(PackageNotFoundError, match="'acl' serves 'meniscus'"):
        select_packages(store, task_packages={"meniscus": "acl"})


def test_versions_are_pinned_by_package_name(store: Path) -> None:
    _write(store, "triage", ("abnormal", "acl", "meniscus"), "2026-07-01T00:00:00+00:00", seed=1)
    assert select_packages(store).candidates["triage"].version == "2"
    pinned = select_packages(store, pinned_versions={"triage": "1"})
    assert pinned.candidates["triage"].version == "1"
    with pytest.raises(PackageNotFoundError, match=r"pins nope.*no such package"):
        select_packages(store, pinned_versions={"nope": "1"})


def test_configured_tasks_restrict_and_must_exist(store: Path) -> None:
    selection = select_packages(store, tasks=["meniscus", "acl"])
    assert selection.tasks == ("acl", "meniscus")  # in task order
    with pytest.raises(PackageNotFoundError, match="cartilage") as caught:
        select_packages(store, tasks=["acl", "cartilage"])
    assert "abnormal, acl, meniscus" in str(caught.value)  # what the store does carry


def test_a_broken_package_is_skipped_unless_a_setting_names_it(store: Path) -> None:
    broken = _write(store, "zzz", ("acl",), "2027-01-01T00:00:00+00:00")
    (broken / "manifest.json").write_text("{not json")
    assert select_packages(store).serving["acl"] == "triage"
    with pytest.raises(PackageError, match="not valid"):
        select_packages(store, task_packages={"acl": "zzz"})


def test_an_empty_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageNotFoundError, match="any task"):
        select_packages(tmp_path / "empty")


def test_task_order_puts_mrnet_tasks_first() -> None:
    assert task_order(["meniscus", "zeta", "abnormal", "acl", "alpha"]) == [
        "abnormal", "acl", "meniscus", "alpha", "zeta",
    ]  # fmt: skip


def test_the_settings_read_tasks_and_task_packages_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.config import Settings

    assert Settings().tasks is None  # default: every task found
    monkeypatch.setenv("MRNET_TASKS", "acl, meniscus")
    monkeypatch.setenv("MRNET_TASK_PACKAGES", '{"acl": "acl"}')
    monkeypatch.setenv("MRNET_PINNED_VERSIONS", '{"triage": "2"}')
    settings = Settings()
    assert settings.tasks == ["acl", "meniscus"]
    assert settings.task_packages == {"acl": "acl"} and settings.pinned_versions == {"triage": "2"}
    monkeypatch.setenv("MRNET_TASKS", "")
    assert Settings().tasks is None
