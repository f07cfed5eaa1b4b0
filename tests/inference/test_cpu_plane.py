from __future__ import annotations

import pytest
import torch

from service.inference.batch import for_device
from service.inference.cpu_plane import CpuPlane
from service.model.network import MRNetPlane
from service.store.loader import ModelPackage, load_package

from conftest import PackageFactory


def _network(seed: int) -> MRNetPlane:
    torch.manual_seed(seed)
    return MRNetPlane().eval()


def test_same_state_dict_as_the_network_it_copies() -> None:
    network = _network(0)
    fast = CpuPlane(network)
    want, got = network.state_dict(), fast.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize("size", [64, 256])  # the tests' size and the real one
def test_inference_embedding_matches_the_direct_forward(size: int) -> None:
    network = _network(1)
    gray = torch.randn(5, 1, size, size)
    with torch.inference_mode():
        want = network.embed(gray)  # (5, 256)
        got = CpuPlane(network).embed(gray)
    torch.testing.assert_close(got, want, atol=1e-5 * float(want.abs().max()) + 1e-7, rtol=0)


def test_training_and_three_channel_input_take_the_network_path() -> None:
    network = _network(2)
    fast = CpuPlane(network)
    gray = torch.randn(2, 1, 64, 64)
    embedded = fast.embed(gray)  # autograd on: the direct path, differentiable
    assert embedded.requires_grad
    torch.testing.assert_close(embedded, network.embed(gray))
    with torch.inference_mode():
        rgb = gray.repeat(1, 3, 1, 1)
        assert torch.equal(fast.embed(rgb), MRNetPlane.embed(fast, rgb))


def test_winograd_off_keeps_direct_convolutions() -> None:
    network = _network(3)
    gray = torch.randn(3, 1, 64, 64)
    with torch.inference_mode():
        direct = CpuPlane(network, winograd=False).embed(gray)
        assert torch.equal(direct, MRNetPlane.embed(CpuPlane(network, winograd=False), gray))


def test_for_device_gives_cpu_planes_and_leaves_the_package_alone(
    make_package: PackageFactory,
) -> None:
    package: ModelPackage = load_package(make_package(seed=5).parent.parent, "acl")
    engine = for_device(package)
    assert all(isinstance(n, CpuPlane) and n.winograd for n in engine.planes.values())
    assert not any(isinstance(n, CpuPlane) for n in package.planes.values())
    assert package.planes["axial"].features[3].weight.is_contiguous()  # not channels-last
    assert not any(n.winograd for n in for_device(package, cpu_winograd=False).planes.values())
