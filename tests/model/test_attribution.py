from __future__ import annotations

import pytest
import torch

from service.model.attribution import (
    attention_from,
    attribute,
    class_activation_map,
    slice_contributions,
    top_slices,
)
from service.model.network import MRNetPlane


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contributions_and_bias_sum_to_the_logit(seed: int) -> None:
    torch.manual_seed(seed)
    model = MRNetPlane().eval()
    torch.nn.init.normal_(model.classifier.weight, std=0.5)
    lengths = [1, 4, 9, 17]
    slices = torch.randn(sum(lengths), 1, 64, 64)
    with torch.inference_mode():
        logits = model(slices, lengths)
        embeddings = model.embed(slices).split(lengths)
        for volume, logit in zip(embeddings, logits, strict=True):
            result = attribute(volume, model.classifier.weight, model.classifier.bias)
            assert len(result.contributions) == volume.shape[0]
            assert result.bias + sum(result.contributions) == pytest.approx(
                float(logit[0]), abs=1e-4
            )
            assert result.logit == pytest.approx(float(logit[0]), abs=1e-4)
            total = sum(result.attention)
            assert total == pytest.approx(1.0, abs=1e-9) or total == 0.0
            assert min(result.attention) >= 0.0


def test_contribution_goes_to_the_slice_each_feature_came_from() -> None:
    embeddings = torch.zeros(3, 256)
    embeddings[0, 0], embeddings[2, 0] = 1.0, 5.0  # feature 0 comes from slice 2
    embeddings[1, 1] = 2.0  # feature 1 comes from slice 1
    weight = torch.zeros(256)
    weight[0], weight[1] = 0.5, -1.0
    contributions, argmax = slice_contributions(embeddings, weight)
    assert contributions.tolist() == [0.0, -2.0, 2.5]
    assert argmax[0] == 2 and argmax[1] == 1


def test_attention_keeps_only_positive_parts() -> None:
    attention = attention_from(torch.tensor([1.0, -3.0, 3.0, 0.0]))
    assert attention.tolist() == [0.25, 0.0, 0.75, 0.0]


def test_attention_is_all_zero_when_nothing_is_positive() -> None:
    assert attention_from(torch.tensor([-1.0, 0.0, -0.5])).tolist() == [0.0, 0.0, 0.0]


def test_top_slices_order_and_ties() -> None:
    assert top_slices(torch.tensor([0.1, 0.4, 0.1, 0.4, 0.0])) == [1, 3, 0]
    assert top_slices(torch.tensor([0.0, 1.0, 0.0])) == [1]
    assert top_slices(torch.tensor([0.0, 0.0])) == []


def test_cam_mean_is_the_slice_contribution_and_it_is_upsampled() -> None:
    torch.manual_seed(3)
    model = MRNetPlane().eval()
    torch.nn.init.normal_(model.classifier.weight, std=0.5)
    slices = torch.randn(6, 1, 256, 256)
    weight = model.classifier.weight.reshape(-1)
    with torch.inference_mode():
        maps = model.feature_maps_gray(slices)  # (6, 256, 7, 7)
        contributions, argmax = slice_contributions(maps.mean(dim=(2, 3)), weight)
        for index in range(6):
            small = class_activation_map(maps[index], argmax, weight, index, size=(7, 7))
            assert float(small.mean()) == pytest.approx(float(contributions[index]), abs=1e-4)
        cam = class_activation_map(maps[2], argmax, weight, 2, size=(256, 256))
    assert cam.shape == (256, 256)
