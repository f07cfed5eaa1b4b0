"""Import checkpoints of the public MRNet code bases and score exactly as they did.

The original modules are rebuilt here as those code bases define them (with
torchvision's AlexNet attribute names, without torchvision), their state dicts
saved with torch.save, imported, and the package's scores compared with the
original forward passes on the original preprocessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from service.datasets.layout import write_labels
from service.domain import PLANES, Plane
from service.errors import DatasetError, PackageError
from service.importing.checkpoints import FORMATS, read_checkpoint, read_checkpoints
from service.importing.package import (
    DEFAULT_FUSION_METHOD,
    ImportOptions,
    import_checkpoints,
    import_task_checkpoints,
)
from service.inference.batch import BatchExam, for_device, run_batch
from service.inference.predictor import predict_exam, score_plane
from service.model.fusion import Fusion, sigmoid
from service.model.network import alexnet_features
from service.model.preprocess import prepare_volume
from service.store.loader import ModelPackage, load_package

from factories import random_states

Volumes = dict[Plane, npt.NDArray[np.uint8]]


def alexnet_head(full: bool) -> nn.Sequential:
    """torchvision's AlexNet `classifier`; the light one has the same names, tiny shapes."""
    inputs, hidden, classes = (256 * 6 * 6, 4096, 1000) if full else (8, 4, 3)
    return nn.Sequential(
        nn.Dropout(), nn.Linear(inputs, hidden), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, classes),
    )  # fmt: skip


class AlexNet(nn.Module):
    """torchvision.models.alexnet's attributes: features, avgpool, classifier."""

    def __init__(self, full_head: bool) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = alexnet_head(full_head)


class NicholasBienMRNet(nn.Module):
    """The paper author's model.py."""

    def __init__(self, full_head: bool = False) -> None:
        super().__init__()
        self.model = AlexNet(full_head)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(256, 1)

    def forward(self, x: Tensor) -> Tensor:  # (1, S, 3, H, W)
        x = torch.squeeze(x, dim=0)
        x = self.model.features(x)
        x = self.gap(x).view(x.size(0), -1)
        x = torch.max(x, 0, keepdim=True)[0]
        return self.classifier(x)  # type: ignore[no-any-return]  # (1, 1)


class AhmedBesbesMRNet(nn.Module):
    """ahmedbesbes/mrnet's model.py, `classifer` spelling and all."""

    def __init__(self, full_head: bool = False) -> None:
        super().__init__()
        self.pretrained_model = AlexNet(full_head)
        self.pooling_layer = nn.AdaptiveAvgPool2d(1)
        self.classifer = nn.Linear(256, 2)

    def forward(self, image: Tensor) -> Tensor:  # (1, S, 3, H, W)
        image = torch.squeeze(image, dim=0)
        features = self.pretrained_model.features(image)
        pooled = self.pooling_layer(features).view(features.size(0), -1)
        flat = torch.max(pooled, 0, keepdim=True)[0]
        return self.classifer(flat)  # type: ignore[no-any-return]  # (1, 2)


def nicholasbien_input(volume: npt.NDArray[np.uint8]) -> Tensor:
    """The paper author's loader: crop the middle 224, min-max to 0..255, normalise, RGB."""
    vol = volume.astype(np.int32)
    pad = int((vol.shape[2] - 224) / 2)
    vol = vol[:, pad:-pad, pad:-pad]
    scaled = (vol - np.min(vol)) / (np.max(vol) - np.min(vol)) * 255
    scaled = (scaled - 58.09) / 49.73
    return torch.FloatTensor(np.stack((scaled,) * 3, axis=1)).unsqueeze(0)


def ahmedbesbes_input(volume: npt.NDArray[np.uint8]) -> Tensor:
    """ahmedbesbes' loader without augmentation: raw values stacked to RGB."""
    return torch.FloatTensor(np.stack((volume,) * 3, axis=1)).unsqueeze(0)


def nicholasbien_probability(model: nn.Module, volume: npt.NDArray[np.uint8]) -> float:
    with torch.inference_mode():
        return float(torch.sigmoid(model(nicholasbien_input(volume)))[0, 0])


def ahmedbesbes_probability(model: nn.Module, volume: npt.NDArray[np.uint8]) -> float:
    with torch.inference_mode():
        return float(torch.sigmoid(model(ahmedbesbes_input(volume)))[0, 1])


def save_planes(folder: Path, states: Mapping[Plane, Mapping[str, Tensor]]) -> dict[Plane, Path]:
    paths = {plane: folder / f"{plane}.pth" for plane in PLANES}
    for plane, path in paths.items():
        torch.save(dict(states[plane]), path)
    return paths


def originals(factory: Callable[[], nn.Module], seed: int) -> dict[Plane, nn.Module]:
    torch.manual_seed(seed)
    return {plane: factory().eval() for plane in PLANES}


def import_into(store: Path, paths: Mapping[Plane, Path], **options: Any) -> ModelPackage:
    """Import with test options and load the package back."""
    folder = import_checkpoints(store, paths, ImportOptions(command="mrnet test", **options)).path
    return load_package(store, folder.parent.name, folder.name)


@pytest.fixture
def volumes(rng: np.random.Generator) -> Volumes:
    return {plane: rng.integers(0, 256, (3, 256, 256), dtype=np.uint8) for plane in PLANES}


@pytest.mark.parametrize(
    ("factory", "probability", "name"),
    [
        (NicholasBienMRNet, nicholasbien_probability, "nicholasbien"),
        (AhmedBesbesMRNet, ahmedbesbes_probability, "ahmedbesbes"),
    ],
)
def test_imported_planes_score_as_the_original_code(
    tmp_path: Path,
    volumes: Volumes,
    factory: Callable[[], nn.Module],
    probability: Callable[[nn.Module, npt.NDArray[np.uint8]], float],
    name: str,
) -> None:
    models = originals(factory, seed=11)
    paths = save_planes(tmp_path, {p: m.state_dict() for p, m in models.items()})
    package = import_into(tmp_path / "store", paths, dtype="float32")
    assert package.manifest.training.stages == [f"import:{name}"]
    for plane in PLANES:
        ours, _ = score_plane(package.planes[plane], package.manifest.input, volumes[plane], plane)
        assert ours.probability == pytest.approx(
            probability(models[plane], volumes[plane]), abs=1e-5
        )
        other = probability(models[PLANES[PLANES.index(plane) - 1]], volumes[plane])
        assert abs(ours.probability - other) > 1e-3  # each plane got its own weights


def test_ahmedbesbes_keeps_the_tear_output_not_the_other(tmp_path: Path, volumes: Volumes) -> None:
    models = originals(AhmedBesbesMRNet, seed=5)
    paths = save_planes(tmp_path, {p: m.state_dict() for p, m in models.items()})
    package = import_into(tmp_path / "store", paths, dtype="float32")
    network = package.planes["coronal"]
    with torch.inference_mode():
        logits = models["coronal"](ahmedbesbes_input(volumes["coronal"]))[0]  # (2,)
    ours, _ = score_plane(network, package.manifest.input, volumes["coronal"], "coronal")
    assert ours.logit == pytest.approx(float(logits[1]), rel=1e-4)
    assert abs(ours.logit - float(logits[0])) > 1e-2


def test_float16_packages_score_close_to_the_original(tmp_path: Path, volumes: Volumes) -> None:
    models = originals(NicholasBienMRNet, seed=3)
    paths = save_planes(tmp_path, {p: m.state_dict() for p, m in models.items()})
    package = import_into(tmp_path / "store", paths, dtype="float16")
    assert package.manifest.weights.dtype == "float16"
    for plane in PLANES:
        ours, _ = score_plane(package.planes[plane], package.manifest.input, volumes[plane], plane)
        expected = nicholasbien_probability(models[plane], volumes[plane])
        assert ours.probability == pytest.approx(expected, abs=1e-2)


@pytest.mark.slow
def test_a_full_size_alexnet_head_is_dropped(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = NicholasBienMRNet(full_head=True)  # the real 58M-parameter ImageNet head
    path = tmp_path / "plane.pth"
    torch.save(model.state_dict(), path)
    weights = read_checkpoints(dict.fromkeys(PLANES, path))
    state = weights.states["coronal"]
    assert set(state) == set(random_states(0)["axial"])
    assert torch.equal(state["features.8.weight"], model.model.features[8].weight.detach())
    assert torch.equal(state["classifier.weight"], model.classifier.weight.detach())
    assert weights.sources["axial"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_records_format_preprocessing_and_checkpoints(tmp_path: Path) -> None:
    states = {p: m.state_dict() for p, m in originals(NicholasBienMRNet, seed=1).items()}
    paths = save_planes(tmp_path, states)
    package = import_into(tmp_path / "store", paths, version="4")
    manifest = package.manifest
    assert manifest.version == "4"
    assert (manifest.input.crop, manifest.input.intensity) == (224, "minmax")
    assert (manifest.input.mean, manifest.input.std) == (58.09, 49.73)
    extra = manifest.training.model_extra or {}
    assert manifest.training.source == "imported"
    assert manifest.training.command == "mrnet test"
    assert extra["format"] == "nicholasbien"
    assert extra["checkpoints"]["acl"]["sagittal"] == {
        "file": "sagittal.pth",
        "sha256": hashlib.sha256(paths["sagittal"].read_bytes()).hexdigest(),
    }
    assert manifest.tasks[0].threshold.value == 0.5
    assert manifest.tasks[0].threshold.method == "given at import"
    assert manifest.intended_use.startswith("Imported from nicholasbien checkpoints; verify")


def test_ahmedbesbes_preprocessing_is_raw(tmp_path: Path) -> None:
    states = {p: m.state_dict() for p, m in originals(AhmedBesbesMRNet, seed=1).items()}
    package = import_into(tmp_path / "store", save_planes(tmp_path, states))
    spec = package.manifest.input
    assert (spec.crop, spec.intensity, spec.mean, spec.std) == (None, "raw", 0.0, 1.0)


def test_formats_are_detected_from_the_keys(tmp_path: Path) -> None:
    detected = {}
    for name, factory in [("nicholasbien", NicholasBienMRNet), ("ahmedbesbes", AhmedBesbesMRNet)]:
        states = {p: m.state_dict() for p, m in originals(factory, seed=0).items()}
        detected[name] = read_checkpoints(save_planes(tmp_path, states)).format.name
    detected["mrnet-service"] = read_checkpoints(
        save_planes(tmp_path, random_states(0))
    ).format.name
    assert detected == {name: name for name in FORMATS}


def test_unknown_keys_are_refused_listing_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    torch.save({"encoder.conv.weight": torch.zeros(3)}, path)
    with pytest.raises(PackageError) as caught:
        read_checkpoints(dict.fromkeys(PLANES, path))
    message = str(caught.value)
    assert f"axial checkpoint {path} fits none of the known formats" in message
    assert all(name in message for name in FORMATS)
    assert "encoder.conv.weight" in message


def test_planes_from_different_code_bases_are_refused(tmp_path: Path) -> None:
    paths = save_planes(
        tmp_path, {p: m.state_dict() for p, m in originals(NicholasBienMRNet, 0).items()}
    )
    torch.save(originals(AhmedBesbesMRNet, 0)["coronal"].state_dict(), paths["coronal"])
    with pytest.raises(
        PackageError, match=r"coronal checkpoint .*coronal\.pth is in the ahmedbesbes"
    ):
        read_checkpoints(paths)


def test_an_explicit_format_that_does_not_fit_names_the_keys(tmp_path: Path) -> None:
    paths = save_planes(
        tmp_path, {p: m.state_dict() for p, m in originals(NicholasBienMRNet, 0).items()}
    )
    with pytest.raises(
        PackageError,
        match=r"axial checkpoint .*axial\.pth does not fit the ahmedbesbes format: "
        r"missing \['classifer\.bias'.* Its keys look like the nicholasbien format\.$",
    ):
        read_checkpoints(paths, "ahmedbesbes")
    with pytest.raises(
        PackageError,
        match="'torchvision' is not a checkpoint format; "
        "use auto or nicholasbien, ahmedbesbes, mrnet-service",
    ):
        read_checkpoints(paths, "torchvision")


def test_missing_keys_and_wrong_shapes_are_refused_naming_the_file(tmp_path: Path) -> None:
    state = originals(NicholasBienMRNet, 0)["axial"].state_dict()
    missing = dict(state)
    del missing["model.features.10.bias"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(
        PackageError,
        match=r"missing\.pth does not fit the nicholasbien format: "
        r"missing \['model\.features\.10\.bias'\], unexpected nothing",
    ):
        read_checkpoints(dict.fromkeys(PLANES, tmp_path / "missing.pth"))
    wrong = dict(state, **{"classifier.weight": torch.zeros(2, 256)})
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(
        PackageError,
        match=r"wrong\.pth does not fit the nicholasbien format: "
        r"classifier\.weight has shape \(2, 256\), expected \(1, 256\)",
    ):
        read_checkpoints(dict.fromkeys(PLANES, tmp_path / "wrong.pth"))


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    state = random_states(0)["axial"]
    state["features.3.bias"][0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(
        PackageError, match=r"nan\.pth has NaN or infinite values in features\.3\.bias"
    ):
        read_checkpoints(dict.fromkeys(PLANES, tmp_path / "nan.pth"))


def test_a_pickled_whole_model_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(NicholasBienMRNet(), path)
    with pytest.raises(PackageError) as caught:
        read_checkpoint(path, "sagittal")
    message = str(caught.value)
    assert f"sagittal checkpoint {path} cannot be loaded with weights_only=True" in message
    assert "pickled" in message and "NicholasBienMRNet" in message
    assert ".state_dict(), 'plane.pt')" in message
    assert "add_safe_globals" not in message  # torch's advice to allowlist is not passed on


class _Payload:
    """Unpickling this would create a file: the proof that nothing is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_nothing_but_tensors_is_ever_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    torch.save({"features.0.weight": torch.zeros(1), "x": _Payload(marker)}, tmp_path / "evil.pth")
    with pytest.raises(PackageError, match=r"evil\.pth cannot be loaded"):
        read_checkpoint(tmp_path / "evil.pth", "axial")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ([torch.zeros(1)], "holds a list, not a state dict of tensors"),
        (
            {"state_dict": {"a": torch.zeros(1)}, "epoch": 3},
            "is not a flat state dict of tensors: its entry 'state_dict' holds a dict",
        ),
    ],
)
def test_files_that_are_not_flat_state_dicts_are_refused(
    tmp_path: Path, content: object, phrase: str
) -> None:
    torch.save(content, tmp_path / "c.pth")
    with pytest.raises(PackageError, match=rf"coronal checkpoint .*c\.pth {phrase}"):
        read_checkpoint(tmp_path / "c.pth", "coronal")


def test_garbage_and_missing_files_are_refused_naming_them(tmp_path: Path) -> None:
    (tmp_path / "g.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(
        PackageError,
        match=r"axial checkpoint .*g\.pth cannot be loaded .* is not a readable PyTorch state dict",
    ):
        read_checkpoint(tmp_path / "g.pth", "axial")
    with pytest.raises(PackageError, match=r"Cannot read the axial checkpoint .*nope\.pth"):
        read_checkpoint(tmp_path / "nope.pth", "axial")


def test_legacy_serialization_of_2018_era_files_is_read(tmp_path: Path) -> None:
    state = originals(NicholasBienMRNet, 2)["axial"].state_dict()
    torch.save(state, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    weights = read_checkpoints(dict.fromkeys(PLANES, tmp_path / "old.pth"))
    assert torch.equal(
        weights.states["axial"]["features.0.weight"], state["model.features.0.weight"]
    )


def test_default_fusion_is_the_mean_of_plane_logits(tmp_path: Path, volumes: Volumes) -> None:
    package = import_into(tmp_path / "store", save_planes(tmp_path, random_states(1)))
    fusion = package.manifest.tasks[0].fusion
    assert fusion.coefficients == dict.fromkeys(PLANES, pytest.approx(1 / 3))
    assert fusion.intercept == 0.0
    assert (package.manifest.training.model_extra or {})["fusion"] == {"acl": DEFAULT_FUSION_METHOD}
    assert package.manifest.tasks[0].metrics.auc is None
    exam = predict_exam(package, volumes)
    mean = sum(exam.planes[p].logit for p in PLANES) / 3
    assert exam.probability == pytest.approx(sigmoid(mean), abs=1e-9)


def test_explicit_fusion_is_kept(tmp_path: Path) -> None:
    given = Fusion(coefficients={"axial": 0.2, "coronal": -1.5, "sagittal": 2.0}, intercept=0.7)
    package = import_into(
        tmp_path / "store", save_planes(tmp_path, random_states(1)), fusion=given, threshold=0.3
    )
    assert package.manifest.tasks[0].fusion == given
    assert package.manifest.tasks[0].threshold.value == 0.3
    assert (package.manifest.training.model_extra or {})["fusion"] == {"acl": "given at import"}


def _dataset(root: Path, rng: np.random.Generator, cases: int) -> dict[str, Volumes]:
    """A tiny MRNet-layout train split of 64x64 volumes (labels written by the caller)."""
    exams: dict[str, Volumes] = {}
    for number in range(cases):
        case_id = f"{number:04d}"
        exams[case_id] = {p: rng.integers(0, 256, (1, 64, 64), dtype=np.uint8) for p in PLANES}
        for plane, volume in exams[case_id].items():
            (root / "train" / plane).mkdir(parents=True, exist_ok=True)
            np.save(root / "train" / plane / f"{case_id}.npy", volume)
    return exams


def test_fusion_is_fitted_on_the_train_split(tmp_path: Path, rng: np.random.Generator) -> None:
    states = random_states(2)
    for state in states.values():  # logits that differ between noise volumes by about 1
        state["classifier.weight"] *= 1000
    paths = save_planes(tmp_path, states)
    exams = _dataset(tmp_path / "data", rng, cases=4)
    first = import_into(tmp_path / "store", paths, dtype="float32")
    logits = np.array(
        [[predict_exam(first, exam).planes[p].logit for p in PLANES] for exam in exams.values()]
    )
    labels = (logits[:, 2] == logits[:, 2].max()).astype(int)  # the sagittal plane decides
    write_labels(
        tmp_path / "data" / "train-acl.csv", dict(zip(exams, labels.tolist(), strict=True))
    )
    package = import_into(tmp_path / "store", paths, dtype="float32", fusion_data=tmp_path / "data")
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(logits, labels)
    assert abs(reference.intercept_[0]) > 0.1 and np.ptp(logits, axis=0).min() > 0.1
    fusion, metrics = package.manifest.tasks[0].fusion, package.manifest.tasks[0].metrics
    assert [fusion.coefficients[p] for p in PLANES] == pytest.approx(
        reference.coef_[0].tolist(), rel=1e-4
    )
    assert fusion.intercept == pytest.approx(float(reference.intercept_[0]), rel=1e-4)
    assert (metrics.split, metrics.cases) == ("train", 4)
    assert metrics.auc == roc_auc_score(labels, reference.decision_function(logits))
    assert metrics.planes["sagittal"].auc == 1.0
    assert metrics.planes["axial"].auc == roc_auc_score(labels, logits[:, 0])
    assert "not a validation metric" in (metrics.model_extra or {})["note"]


def test_fusion_data_needs_both_classes_and_every_volume(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    paths = save_planes(tmp_path, random_states(2))
    exams = _dataset(tmp_path / "data", rng, cases=2)
    write_labels(tmp_path / "data" / "train-acl.csv", dict.fromkeys(exams, 1))
    with pytest.raises(DatasetError, match=r"train-acl\.csv have 2 cases but not both classes"):
        import_into(tmp_path / "store", paths, fusion_data=tmp_path / "data")
    write_labels(tmp_path / "data" / "train-acl.csv", {"0000": 0, "0001": 1})
    (tmp_path / "data" / "train" / "coronal" / "0000.npy").unlink()
    with pytest.raises(DatasetError, match=r"Cannot read the train coronal volume .*0000\.npy"):
        import_into(tmp_path / "store", paths, fusion_data=tmp_path / "data")
    assert not (tmp_path / "store" / "acl").exists() or not any(
        (tmp_path / "store" / "acl").iterdir()
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 1.5}, "The threshold 1.5 is not between 0 and 1."),
        ({"task": "ACL!"}, "'ACL!' is not a task name"),
        ({"version": "v2"}, "'v2' is not a package version"),
        (
            {
                "fusion": Fusion(coefficients=dict.fromkeys(PLANES, 1.0), intercept=0.0),
                "fusion_data": Path("d"),
            },
            "not both",
        ),
    ],
)
def test_bad_options_are_refused_before_any_file_is_read(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    nowhere = dict.fromkeys(PLANES, tmp_path / "absent.pth")
    with pytest.raises(PackageError, match=message.replace(".", r"\.")):
        import_into(tmp_path / "store", nowhere, **options)


# --- several tasks: one network per task and plane, as the code bases release them ----------


def test_three_tasks_become_one_package_that_scores_as_the_originals(
    tmp_path: Path, volumes: Volumes
) -> None:
    tasks = ("abnormal", "acl", "meniscus")
    models = {task: originals(NicholasBienMRNet, seed=20 + i) for i, task in enumerate(tasks)}
    paths = {
        task: save_planes(_folder(tmp_path / task), {p: m.state_dict() for p, m in planes.items()})
        for task, planes in models.items()
    }
    options = ImportOptions(command="mrnet test", dtype="float32", thresholds={"meniscus": 0.3})
    result = import_task_checkpoints(tmp_path / "store", paths, options)
    assert result.path == tmp_path / "store" / "abnormal-acl-meniscus" / "1"
    package = load_package(tmp_path / "store", "abnormal-acl-meniscus")
    manifest = package.manifest
    assert manifest.task_names == tasks
    assert [b.tasks for b in manifest.weights.backbones] == [[t] for t in tasks]
    assert manifest.head("meniscus").threshold.value == 0.3
    assert manifest.head("acl").threshold.value == 0.5
    sources = (manifest.training.model_extra or {})["checkpoints"]
    assert (
        sources["meniscus"]["axial"]["sha256"]
        == hashlib.sha256(paths["meniscus"]["axial"].read_bytes()).hexdigest()
    )
    served = for_device(package)
    prepared = {p: prepare_volume(v, manifest.input).slices for p, v in volumes.items()}
    [answers], _ = run_batch(served, [BatchExam(prepared, tasks)])  # the engine's path
    for task in tasks:
        for plane in PLANES:
            want = nicholasbien_probability(models[task][plane], volumes[plane])
            assert answers[task].planes[plane].probability == pytest.approx(want, abs=1e-5)
    axial = {task: answers[task].planes["axial"].probability for task in tasks}
    assert len(set(axial.values())) == 3  # each task got its own networks


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_tasks_from_two_code_bases_are_refused(tmp_path: Path) -> None:
    bien = {p: m.state_dict() for p, m in originals(NicholasBienMRNet, seed=1).items()}
    besbes = {p: m.state_dict() for p, m in originals(AhmedBesbesMRNet, seed=1).items()}
    paths = {
        "acl": save_planes(_folder(tmp_path / "acl"), bien),
        "meniscus": save_planes(_folder(tmp_path / "meniscus"), besbes),
    }
    with pytest.raises(PackageError, match="meniscus checkpoints are in the ahmedbesbes format"):
        import_task_checkpoints(tmp_path / "store", paths, ImportOptions(command="t"))
    assert not (tmp_path / "store").exists()


def test_a_fusion_for_a_task_not_imported_is_refused(tmp_path: Path) -> None:
    paths = {"acl": save_planes(tmp_path, random_states(1))}
    given = Fusion(coefficients=dict.fromkeys(PLANES, 1.0), intercept=0.0)
    options = ImportOptions(command="t", fusions={"meniscus": given})
    with pytest.raises(PackageError, match="given for meniscus, but no checkpoints are"):
        import_task_checkpoints(tmp_path / "store", paths, options)
