from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pytest
import torch

from service.cli import import_checkpoint, main
from service.domain import PLANES
from service.importing.checkpoints import FORMATS
from service.store.loader import load_package

from factories import random_states


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mrnet")
    import_checkpoint.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def plane_files(folder: Path) -> list[str]:
    """Three mrnet-service state dicts as files, and the arguments that name them."""
    argv = []
    for plane, state in random_states(4).items():
        torch.save(state, folder / f"{plane}.pt")
        argv += [f"--{plane}", str(folder / f"{plane}.pt")]
    return argv


def test_the_command_writes_a_package_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["import-checkpoint", *plane_files(tmp_path), "--out", str(tmp_path / "store")]
    argv += ["--fusion", "0.5,-1,2e-1,0.25", "--threshold", "0.4", "--dtype", "float32"]
    monkeypatch.setattr(sys, "argv", ["mrnet", *argv])
    args = parse(argv)
    assert args.handler(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path / "store" / "acl" / "1")
    assert out[1].startswith("Imported mrnet-service checkpoints as acl version 1 (float32")
    manifest = load_package(tmp_path / "store", "acl").manifest
    assert manifest.training.command == shlex.join(["mrnet", *argv])
    assert manifest.tasks[0].fusion.coefficients == {"axial": 0.5, "coronal": -1.0, "sagittal": 0.2}
    assert manifest.tasks[0].fusion.intercept == 0.25
    assert manifest.tasks[0].threshold.value == 0.4


def test_errors_are_one_sentence_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["import-checkpoint", *plane_files(tmp_path), "--out", str(tmp_path / "store")]
    torch.save(torch.nn.Linear(2, 1), tmp_path / "coronal.pt")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("mrnet import-checkpoint: error: The coronal checkpoint")
    assert str(tmp_path / "coronal.pt") in err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fusion", "1,2,3"], "'1,2,3' is not four numbers"),
        (["--fusion", "1,2,3,nan"], "'1,2,3,nan' is not four numbers"),
        (["--threshold", "2"], "'2' is not a probability between 0 and 1"),
        (["--fusion", "1,1,1,0", "--fusion-data", "d"], "not allowed with argument"),
        (["--format", "torchvision"], "invalid choice: 'torchvision'"),
    ],
)
def test_bad_arguments_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    files = [arg for plane in PLANES for arg in (f"--{plane}", f"{plane}.pt")]
    with pytest.raises(SystemExit) as exit_info:
        parse(["import-checkpoint", *files, "--out", "store", *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_format_choices_are_the_importers_formats() -> None:
    choices = import_checkpoint.FORMAT_CHOICES
    assert choices == ("auto", *FORMATS)


def test_checkpoints_of_three_tasks_make_one_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["import-checkpoint", "--out", str(tmp_path / "store"), "--name", "published"]
    for seed, task in enumerate(("meniscus", "abnormal", "acl")):
        for plane, state in random_states(seed).items():
            path = tmp_path / f"{task}-{plane}.pt"
            torch.save(state, path)
            argv += [f"--{plane}", f"{task}={path}"]
    argv += ["--threshold", "0.4", "--threshold", "meniscus=0.3"]
    argv += ["--fusion", "acl=1,1,1,0", "--dtype", "float32"]
    monkeypatch.setattr(sys, "argv", ["mrnet", *argv])
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path / "store" / "published" / "1")
    assert "for abnormal, acl, meniscus" in out[1]
    package = load_package(tmp_path / "store", "published")
    manifest = package.manifest
    assert manifest.task_names == ("abnormal", "acl", "meniscus")
    assert len(package.backbones) == 3
    thresholds = {head.task: head.threshold.value for head in manifest.tasks}
    assert thresholds == {"abnormal": 0.4, "acl": 0.4, "meniscus": 0.3}
    assert manifest.head("acl").fusion.coefficients == dict.fromkeys(PLANES, 1.0)
    assert manifest.head("meniscus").fusion.coefficients == dict.fromkeys(PLANES, 1 / 3)
    planes, row = package.locate("abnormal")
    want = random_states(1)["axial"]["classifier.weight"]
    assert row == 0 and torch.equal(planes["axial"].classifier.weight.detach(), want)


def test_a_task_without_all_three_planes_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["import-checkpoint", *plane_files(tmp_path), "--out", str(tmp_path / "store")]
    argv += ["--axial", f"meniscus={tmp_path / 'axial.pt'}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "The meniscus checkpoints lack the coronal, sagittal plane" in err
    assert not (tmp_path / "store").exists()
