"""One source for every default: the settings, the dataclasses and the command line agree."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from service.bench.config import EngineBenchConfig, LoadConfig
from service.cli import build_parser
from service.cli.bench import load_config
from service.cli.train import config_from
from service.cli.types import default_of, from_options
from service.config import Settings
from service.datasets.npy import VolumeLimits
from service.inference.config import EngineConfig
from service.inference.runtime import RuntimeConfig
from service.training.config import StageConfig, TrainConfig


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MRNET_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_env")
def test_the_settings_defaults_are_the_engine_s_and_the_volume_checks() -> None:
    settings = Settings()
    assert settings.engine_config() == EngineConfig()
    assert settings.volume_limits() == VolumeLimits()
    assert settings.worker_nice == EngineConfig().worker_nice == 10
    assert settings.max_slices == VolumeLimits().max_slices == 128
    runtime = settings.runtime_config()
    assert runtime.cpu_winograd == default_of(RuntimeConfig, "cpu_winograd") is True
    assert runtime.engine == EngineConfig() and runtime.limits == VolumeLimits()


@pytest.mark.usefixtures("clean_env")
def test_the_configurations_are_built_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRNET_WORKER_NICE", "3")
    monkeypatch.setenv("MRNET_MAX_SLICES", "40")
    monkeypatch.setenv("MRNET_MAX_QUEUE_DELAY_MS", "7.5")
    monkeypatch.setenv("MRNET_CPU_WINOGRAD", "false")
    monkeypatch.setenv("MRNET_REQUEST_TIMEOUT_S", "9")
    runtime = Settings().runtime_config()
    assert runtime.engine == EngineConfig(max_queue_delay_ms=7.5, worker_nice=3)
    assert runtime.limits == VolumeLimits(max_slices=40)
    assert runtime.cpu_winograd is False and runtime.request_timeout_s == 9.0


def test_a_gpu_worker_keeps_its_priority() -> None:
    config = EngineConfig(worker_nice=7)
    assert config.for_device("cpu") is config
    assert config.for_device("cuda") == EngineConfig(worker_nice=0)


def test_mrnet_train_defaults_are_train_config_s() -> None:
    args = build_parser().parse_args(["train", "--data", "d"])
    assert config_from(args) == TrainConfig(data=Path("d"))
    assert config_from(args).work_folder == Path("runs/acl-seed0")


def test_mrnet_train_options_reach_the_config() -> None:
    argv = ["train", "--data", "d", "--task", "meniscus", "--seed", "4", "--planes", "sagittal"]
    argv += ["--lr", "0.5", "--easy-negatives", "2", "--epochs", "9", "--work-dir", "w"]
    config = config_from(build_parser().parse_args(argv))
    assert (config.tasks, config.seed, config.planes, config.epochs) == (
        ("meniscus",),
        4,
        ("sagittal",),
        9,
    )
    assert config.stages == StageConfig(finetune_lr=0.5, easy_per_hard=2.0)
    assert config.work_folder == Path("w") and config.package_name == "meniscus"


def test_mrnet_train_tasks_options_reach_the_config() -> None:
    argv = ["train", "--data", "d", "--tasks", "abnormal,acl,meniscus", "--head-exams", "50"]
    argv += ["--pretrain-crop", "0", "--pretrain-share", "0.3"]
    config = config_from(build_parser().parse_args(argv))
    assert config.tasks == ("abnormal", "acl", "meniscus") and config.head_exams == 50
    assert config.stages == StageConfig(pretrain_crop=None, pretrain_share=0.3)
    assert config.package_name == "triage" and config.work_folder == Path("runs/triage-seed0")
    named = config_from(build_parser().parse_args([*argv, "--name", "knee"]))
    assert named.package_name == "knee" and named.work_folder == Path("runs/knee-seed0")


def test_mrnet_bench_engine_defaults_are_engine_bench_config_s() -> None:
    args = build_parser().parse_args(["bench", "engine"])
    config = from_options(EngineBenchConfig, args)
    assert config == EngineBenchConfig(store=Path("model_store"))
    assert config.batch_slices == EngineConfig().max_batch_slices


def test_mrnet_bench_http_defaults_are_load_config_s() -> None:
    args = build_parser().parse_args(["bench", "http", "--url", "http://x"])
    assert load_config(args) == LoadConfig(url="http://x", api_key=args.api_key)


def test_every_load_config_field_has_an_option_backoff_in_ms() -> None:
    args = vars(build_parser().parse_args(["bench", "http", "--url", "http://x"]))
    named = {f.name for f in fields(LoadConfig)} - {"backoff_s"}
    assert named <= set(args)
