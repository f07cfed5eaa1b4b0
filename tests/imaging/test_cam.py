"""Class activation maps of a stored volume and their overlay on the displayed slice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from service.imaging.cam import (
    MAX_ALPHA,
    CamStack,
    compute_cams,
    input_region,
    jet,
    overlay,
    strength,
)
from service.inference.predictor import score_plane
from service.model.network import MRNetPlane
from service.model.preprocess import InputSpec


@pytest.fixture
def network() -> MRNetPlane:
    torch.manual_seed(3)
    return MRNetPlane().eval()


def test_cams_add_up_to_the_logit_the_predictor_gives(
    network: MRNetPlane, rng: np.random.Generator
) -> None:
    spec = InputSpec(size=96)  # 2x2 feature maps
    volume = rng.integers(0, 256, (5, 80, 80), dtype=np.uint8)
    stack = compute_cams(network, spec, volume)
    assert stack.maps.shape == (5, 2, 2)
    prediction, _ = score_plane(network, spec, volume, "axial")
    means = stack.maps.double().mean(dim=(1, 2))  # each slice's mean is its contribution
    np.testing.assert_allclose(means.numpy(), prediction.attribution.contributions, atol=1e-5)
    assert stack.peak == pytest.approx(max(float(stack.maps.max()), 0.0))


def test_each_task_head_has_its_own_exact_cam(rng: np.random.Generator) -> None:
    torch.manual_seed(4)
    network = MRNetPlane(num_tasks=3).eval()
    spec = InputSpec(size=96)
    volume = rng.integers(0, 256, (4, 80, 80), dtype=np.uint8)
    means = []
    for row in range(3):
        stack = compute_cams(network, spec, volume, row)
        prediction, _ = score_plane(network, spec, volume, "axial", row)
        mean = stack.maps.double().mean(dim=(1, 2)).numpy()
        np.testing.assert_allclose(mean, prediction.attribution.contributions, atol=1e-5)
        means.append(mean)
    assert not np.allclose(means[0], means[2])  # the rows differ, so do their maps


def test_the_input_region_follows_resize_and_crop() -> None:
    assert input_region(InputSpec(size=256), 300, 200) == (0, 0, 300, 200)
    # resized to 256, centre 224 kept: offset 16 of 256 -> 1/16 of each side
    assert input_region(InputSpec(size=256, crop=224), 512, 512) == (32, 32, 480, 480)
    assert input_region(InputSpec(size=256, crop=224), 128, 256) == (8, 16, 120, 240)


def test_strength_fills_only_the_region_and_is_normalised_by_the_peak() -> None:
    maps = torch.tensor([[[2.0, -1.0], [0.5, 0.0]], [[4.0, 4.0], [4.0, 4.0]]])  # (2, 2, 2)
    stack = CamStack(maps, peak=4.0)
    spec = InputSpec(size=64, crop=32)  # the middle half of each side
    placed = strength(stack, 1, (64, 64), spec)
    assert placed.shape == (64, 64)
    assert torch.all(placed[16:48, 16:48] == 1.0)
    assert placed.sum() == 32 * 32  # nothing outside the region
    low = strength(stack, 0, (64, 64), spec)
    assert float(low.min()) >= 0.0 and float(low.max()) <= 0.5  # 2 / 4 at most
    assert not strength(CamStack(maps, peak=0.0), 1, (64, 64), spec).any()


def test_jet_runs_from_blue_through_green_to_red() -> None:
    colours = jet(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(colours, [[0, 0, 0.5], [0.5, 1, 0.5], [0.5, 0, 0]])


def test_overlay_is_gray_without_activation_and_blends_jet_with_it(
    rng: np.random.Generator,
) -> None:
    gray = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    plain = overlay(gray, torch.zeros(8, 8))
    assert plain.shape == (8, 8, 3) and plain.dtype == np.uint8
    assert np.array_equal(plain, np.repeat(gray[..., None], 3, axis=2))
    full = overlay(gray, torch.ones(8, 8))
    red = (1 - MAX_ALPHA) * gray.astype(float) + MAX_ALPHA * 255 * 0.5
    np.testing.assert_allclose(full[..., 0], red, atol=0.5 + 1e-9)
    np.testing.assert_allclose(full[..., 1], (1 - MAX_ALPHA) * gray, atol=0.5 + 1e-9)
