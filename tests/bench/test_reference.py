"""The re-created published path computes what the service computes, the published way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from service.bench.reference import ReferenceModel
from service.domain import PLANES, Plane
from service.inference.batch import for_device
from service.inference.predictor import predict_exam
from service.store.loader import ModelPackage, load_package

from conftest import PackageFactory


@pytest.fixture
def package(make_package: PackageFactory) -> ModelPackage:
    folder = make_package(seed=5)
    return load_package(folder.parent.parent, "acl")


def volumes(seed: int, lengths: tuple[int, int, int]) -> dict[Plane, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        plane: rng.integers(0, 256, (n, 64, 64), dtype=np.uint8)
        for plane, n in zip(PLANES, lengths, strict=True)
    }


@pytest.mark.parametrize("lengths", [(3, 4, 5), (1, 2, 7)])
def test_the_reference_equals_the_service_predictions(
    package: ModelPackage, lengths: tuple[int, int, int]
) -> None:
    model = ReferenceModel.from_package(package, torch.device("cpu"))
    exam = volumes(sum(lengths), lengths)
    want = predict_exam(package, exam)
    got = model.score(exam)
    for plane in PLANES:
        assert got.logits[plane] == pytest.approx(want.planes[plane].logit, abs=1e-4)
    assert got.probability == pytest.approx(want.probability, abs=1e-4)


def test_the_reference_feeds_three_channel_copies_in_the_default_layout(
    package: ModelPackage,
) -> None:
    model = ReferenceModel.from_package(package, torch.device("cpu"))
    engine = for_device(package)  # the engine's copy goes channels-last; the reference's must not
    series = model.series(volumes(0, (4, 4, 4))["axial"])
    assert series.shape == (1, 4, 3, 64, 64) and series.dtype == torch.float32
    assert series.is_contiguous()  # a real copy, as np.stack makes, not an expanded view
    assert torch.equal(series[0, :, 0], series[0, :, 1])
    assert torch.equal(series[0, :, 0], series[0, :, 2])
    network = model.planes["axial"]
    assert network.features[0].in_channels == 3
    assert all(p.is_contiguous() for p in network.parameters())
    assert not engine.planes["axial"].features[3].weight.is_contiguous()
