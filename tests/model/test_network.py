from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from service.model.network import MRNetPlane, gray_first_conv
from service.model.preprocess import three_channels

# torchvision.models.alexnet().features plus MRNet's Linear(256, 1), name by name.
EXPECTED = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3),
    "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3),
    "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
    "classifier.weight": (1, 256),
    "classifier.bias": (1,),
}


def test_parameter_names_and_shapes_match_torchvision() -> None:
    state = MRNetPlane().state_dict()
    assert {name: tuple(t.shape) for name, t in state.items()} == EXPECTED


def test_layers_match_torchvision_alexnet_features() -> None:
    layers = list(MRNetPlane().features)
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
        "Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d",
    ]  # fmt: skip
    first = layers[0]
    assert isinstance(first, nn.Conv2d)
    assert (first.stride, first.padding) == ((4, 4), (2, 2))


@pytest.mark.parametrize(("size", "side"), [(64, 1), (224, 6), (256, 7)])
def test_feature_map_size(size: int, side: int) -> None:
    with torch.inference_mode():
        maps = MRNetPlane().feature_maps(torch.zeros(2, 3, size, size))
    assert maps.shape == (2, 256, side, side)


def _published_forward(model: MRNetPlane, volume: torch.Tensor) -> torch.Tensor:
    """The published MRNet forward: features, average pool, max over slices, linear."""
    x = model.features(volume)
    x = nn.functional.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)
    x = torch.max(x, 0, keepdim=True)[0]
    return model.classifier(x)[0, 0]


def test_gray_folding_equals_three_channel_forward() -> None:
    torch.manual_seed(0)
    model = MRNetPlane().eval()
    gray = torch.randn(5, 1, 64, 64)
    with torch.inference_mode():
        folded = model.feature_maps_gray(gray)
        repeated = model.feature_maps(three_channels(gray).contiguous())
    torch.testing.assert_close(folded, repeated, atol=1e-4, rtol=1e-4)


def test_packed_forward_equals_each_volume_alone() -> None:
    torch.manual_seed(1)
    model = MRNetPlane().eval()
    volumes = [torch.randn(n, 1, 64, 64) for n in (3, 1, 6)]
    with torch.inference_mode():
        packed = model(torch.cat(volumes), lengths=[3, 1, 6])
        alone = torch.stack([_published_forward(model, three_channels(v)) for v in volumes])
    assert packed.shape == (3, 1)
    torch.testing.assert_close(packed[:, 0], alone, atol=1e-5, rtol=1e-5)


def test_pool_volumes_refuses_lengths_that_do_not_split() -> None:
    with pytest.raises(ValueError, match="do not split"):
        MRNetPlane.pool_volumes(torch.zeros(4, 256), [2, 3])
    with pytest.raises(ValueError, match="do not split"):
        MRNetPlane.pool_volumes(torch.zeros(4, 256), [4, 0])


def test_pool_volumes_reports_argmax_within_each_volume() -> None:
    embeddings = torch.zeros(5, 256)
    embeddings[1, 0] = 3.0  # volume 0, slice 1
    embeddings[4, 0] = 2.0  # volume 1, slice 2
    pooled = MRNetPlane.pool_volumes(embeddings, [2, 3])
    assert pooled.features[:, 0].tolist() == [3.0, 2.0]
    assert (int(pooled.argmax[0][0]), int(pooled.argmax[1][0])) == (1, 2)


@pytest.mark.parametrize(("height", "width"), [(64, 66), (67, 64), (256, 256)])
def test_gray_first_conv_matches_the_strided_conv_in_channels_last(height: int, width: int) -> None:
    torch.manual_seed(2)
    model = MRNetPlane().eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    conv = model.features[0]
    assert isinstance(conv, nn.Conv2d)
    gray = torch.randn(3, 1, height, width)
    with torch.inference_mode():
        want = F.conv2d(three_channels(gray), conv.weight, conv.bias, stride=4, padding=2)
        got = gray_first_conv(conv, gray)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    if height == 256:  # the layers after it get channels-last input, not a plain-layout copy
        assert got.is_contiguous(memory_format=torch.channels_last)
