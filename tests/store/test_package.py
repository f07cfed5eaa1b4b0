from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from service.errors import PackageError, PackageNotFoundError
from service.store.loader import list_versions, load_package, resolve_package, verify_package
from service.store.manifest import Manifest
from service.store.writer import BackboneStates, next_version, write_package

from conftest import PackageFactory
from factories import draft, random_states


def test_round_trip_keeps_weights_to_float16_precision(make_package: PackageFactory) -> None:
    folder = make_package(seed=7)
    package = load_package(folder.parent.parent, "acl")
    original = random_states(7)
    for plane, network in package.planes.items():
        for name, tensor in network.state_dict().items():
            expected = original[plane][name].to(torch.float16).to(torch.float32)
            torch.testing.assert_close(tensor, expected, atol=0, rtol=0)
        assert not network.training
    assert package.manifest.version == "1"
    assert len(package.digest) == 64


def test_float32_packages_are_exact(make_package: PackageFactory) -> None:
    folder = make_package(seed=3, dtype="float32")
    package = load_package(folder.parent.parent, "acl")
    weight = package.planes["sagittal"].state_dict()["features.0.weight"]
    assert torch.equal(weight, random_states(3)["sagittal"]["features.0.weight"])


def test_manifest_records_files_and_hashes(make_package: PackageFactory) -> None:
    folder = make_package()
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o644"}
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    assert manifest.architecture == "mrnet-alexnet"
    assert manifest.weights.dtype == "float16"
    assert {p: e.file for p, e in manifest.weights.backbones[0].planes.items()} == {
        "axial": "axial.safetensors",
        "coronal": "coronal.safetensors",
        "sagittal": "sagittal.safetensors",
    }
    assert manifest.input.mean == pytest.approx(58.09)


def test_newest_version_is_served_unless_pinned(make_package: PackageFactory) -> None:
    for seed in range(3):
        make_package(seed=seed)
    make_package(seed=9, version="10")
    store = make_package(seed=4).parent.parent
    assert list_versions(store, "acl") == ["1", "2", "3", "10", "11"]
    assert resolve_package(store, "acl").name == "11"
    assert resolve_package(store, "acl", "2").name == "2"
    assert next_version(store, "acl") == "12"


def test_unknown_task_and_version_are_named(make_package: PackageFactory) -> None:
    store = make_package().parent.parent
    with pytest.raises(PackageNotFoundError, match="'meniscus'"):
        resolve_package(store, "meniscus")
    with pytest.raises(PackageNotFoundError, match=r"no version '7'.*it has 1"):
        resolve_package(store, "acl", "7")


def test_tampered_weights_are_refused_naming_the_file(make_package: PackageFactory) -> None:
    folder = make_package()
    path = folder / "coronal.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"coronal weights file .*coronal\.safetensors.*sha256"):
        load_package(folder.parent.parent, "acl")


def test_missing_weights_file_is_refused_naming_it(make_package: PackageFactory) -> None:
    folder = make_package()
    (folder / "axial.safetensors").unlink()
    with pytest.raises(PackageError, match=r"axial\.safetensors is missing"):
        verify_package(folder)


def test_broken_manifest_is_refused_naming_it(make_package: PackageFactory) -> None:
    folder = make_package()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["tasks"][0]["fusion"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match=r"manifest .*manifest\.json is not valid"):
        verify_package(folder)


def test_package_moved_to_another_version_is_refused(make_package: PackageFactory) -> None:
    folder = make_package()
    moved = folder.parent / "5"
    shutil.copytree(folder, moved)
    with pytest.raises(PackageError, match="says acl/1"):
        verify_package(moved)


def test_weights_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    states = random_states(0)
    states["axial"]["classifier.weight"] = torch.zeros(2, 256)
    with pytest.raises(
        PackageError, match=r"axial state dict .*classifier\.weight has shape \(2, 256\)"
    ):
        write_package(tmp_path, draft(), states)
    assert list_versions(tmp_path, "acl") == []


def test_an_interrupted_write_leaves_no_version(tmp_path: Path) -> None:
    states = random_states(0)
    del states["sagittal"]
    with pytest.raises(KeyError):
        write_package(tmp_path, draft(), states)
    assert list((tmp_path / "acl").iterdir()) == []


def test_versions_are_never_overwritten(make_package: PackageFactory) -> None:
    make_package(version="1")
    with pytest.raises(PackageError, match="already exists"):
        make_package(version="1")


def test_loaded_package_scores_like_its_weights(make_package: PackageFactory) -> None:
    folder = make_package(seed=5, dtype="float32")
    package = load_package(folder.parent.parent, "acl")
    slices = torch.randn(4, 1, 64, 64)
    reference = package.planes["axial"].__class__()
    reference.load_state_dict(random_states(5)["axial"])
    with torch.inference_mode():
        assert torch.allclose(package.planes["axial"](slices), reference.eval()(slices))


def test_a_multi_task_package_shares_backbones_with_one_head_row_per_task(
    tmp_path: Path,
) -> None:
    tasks = ("abnormal", "acl", "meniscus")
    states = random_states(5, num_tasks=3)
    write_package(tmp_path, draft(tasks=tasks, name="triage"), states, dtype="float32")
    package = load_package(tmp_path, "triage")
    assert package.manifest.task_names == tasks
    assert package.manifest.head("acl").task == "acl"
    assert len(package.backbones) == 1
    planes, row = package.locate("meniscus")
    assert row == 2 and planes is package.planes
    network = planes["coronal"]
    assert network.num_tasks == 3
    weight, bias = network.head(row)
    assert torch.equal(weight, states["coronal"]["classifier.weight"][2])
    assert float(bias) == float(states["coronal"]["classifier.bias"][2])
    assert sorted(p.name for p in package.path.glob("*.safetensors")) == [
        "axial.safetensors",
        "coronal.safetensors",
        "sagittal.safetensors",
    ]
    with pytest.raises(KeyError):
        package.locate("knee")


def test_a_package_may_hold_one_backbone_per_task(tmp_path: Path) -> None:
    tasks = ("abnormal", "acl", "meniscus")
    backbones = [BackboneStates((task,), random_states(i)) for i, task in enumerate(tasks)]
    write_package(tmp_path, draft(tasks=tasks, name="imported"), backbones, dtype="float32")
    package = load_package(tmp_path, "imported")
    assert [b.tasks for b in package.backbones] == [(t,) for t in tasks]
    planes, row = package.locate("meniscus")
    assert row == 0
    expected = random_states(2)["axial"]["features.0.weight"]
    assert torch.equal(planes["axial"].state_dict()["features.0.weight"], expected)
    assert (package.path / "meniscus-axial.safetensors").is_file()
    with pytest.raises(PackageError, match="3 backbones"):
        _ = package.planes


def test_a_task_on_no_backbone_is_refused(tmp_path: Path) -> None:
    backbones = [BackboneStates(("acl",), random_states(0))]
    with pytest.raises(ValidationError, match="exactly one backbone"):
        write_package(tmp_path, draft(tasks=("acl", "meniscus")), backbones)


def test_a_package_whose_heads_do_not_match_its_tasks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"does not fit a 3-task network"):
        write_package(tmp_path, draft(tasks=("abnormal", "acl", "meniscus")), random_states(0))


def test_schema_1_manifests_read_as_one_task_packages(make_package: PackageFactory) -> None:
    folder = make_package()
    manifest = json.loads((folder / "manifest.json").read_text())
    head = manifest.pop("tasks")[0]
    del manifest["name"]
    old = {**manifest, **head, "schema_version": 1}
    (folder / "manifest.json").write_text(json.dumps(old))
    package = load_package(folder.parent.parent, "acl")
    assert package.manifest.name == "acl"
    assert package.manifest.task_names == ("acl",)
    assert package.manifest.tasks[0].threshold.value == head["threshold"]["value"]
