"""On CUDA: the engine's float16 channels-last path equals the float32 CPU path closely.

Skipped without a CUDA device; `scripts/gpu-check.sh` runs these with `pytest -m gpu`.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from service.domain import PLANES, Plane
from service.inference.batch import for_device, plane_features
from service.inference.config import EngineConfig
from service.inference.engine import Engine, ExamJob
from service.inference.predictor import predict_exam
from service.model.preprocess import prepare_volume
from service.store.loader import ModelPackage, load_package

from conftest import PackageFactory

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
PROBABILITY_TOLERANCE = 0.005


@pytest.fixture
def packages(make_package: PackageFactory) -> tuple[ModelPackage, ModelPackage]:
    """The same package on the CPU (float32 reference) and on CUDA, as the engine holds it."""
    store = make_package(seed=21, dtype="float32").parent.parent
    return load_package(store, "acl"), for_device(load_package(store, "acl", device="cuda"))


def exam(seed: int, lengths: tuple[int, int, int]) -> dict[Plane, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        plane: rng.integers(0, 256, (n, 64, 64), dtype=np.uint8)
        for plane, n in zip(PLANES, lengths, strict=True)
    }


def test_the_cuda_engine_equals_cpu_float32_in_probability(
    packages: tuple[ModelPackage, ModelPackage],
) -> None:
    cpu, cuda = packages
    exams = [exam(seed, (3 + seed, 5, 9 - seed)) for seed in range(4)]
    engine = Engine({"acl": cuda}, EngineConfig(max_batch_slices=64, max_queue_delay_ms=200))
    jobs = [
        ExamJob(
            "acl",
            {p: prepare_volume(v[p], cuda.manifest.input).slices for p in PLANES},
            [],
            deadline=time.monotonic() + 60,
        )
        for v in exams
    ]
    futures = [engine.submit(job) for job in jobs]
    engine.start()
    try:
        outcomes = [future.result(timeout=120) for future in futures]
    finally:
        engine.stop()
    assert outcomes[0].batch_exams > 1  # packed across exams
    for volumes, outcome in zip(exams, outcomes, strict=True):
        want = predict_exam(cpu, volumes)
        got = outcome.predictions["acl"]
        assert abs(got.probability - want.probability) <= PROBABILITY_TOLERANCE
        for plane in PLANES:
            difference = abs(got.planes[plane].probability - want.planes[plane].probability)
            assert difference <= PROBABILITY_TOLERANCE, plane


def test_the_channels_last_autocast_path_runs_in_float16(
    packages: tuple[ModelPackage, ModelPackage],
) -> None:
    cpu, cuda = packages
    network = cuda.planes["axial"]
    second_conv = network.features[3]
    assert isinstance(second_conv, nn.Conv2d)
    assert second_conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen: list[Tensor] = []
    hook = second_conv.register_forward_hook(lambda _m, _i, out: seen.append(out))
    stack = torch.randn(6, 1, 64, 64)
    try:
        features = plane_features(network, stack, cuda.device)
    finally:
        hook.remove()
    (maps,) = seen
    assert maps.dtype == torch.float16 and maps.device.type == "cuda"
    assert maps.is_contiguous(memory_format=torch.channels_last)
    assert features.dtype == torch.float32 and features.device.type == "cpu"
    assert features.shape == (6, 256)
    with torch.inference_mode():
        want = cpu.planes["axial"].embed(stack)  # (6, 256) float32 on the CPU
    torch.testing.assert_close(features, want, rtol=2e-2, atol=2e-2)
