from __future__ import annotations

import torch

from service.training.augment import Augmentation, augment_slices, augment_volume, random_affine


def test_no_augmentation_is_the_identity() -> None:
    stack = torch.rand(3, 1, 32, 32)
    none = Augmentation(max_rotation_deg=0, max_shift=0, flip_probability=0)
    out = augment_volume(stack, none, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, stack, atol=1e-5, rtol=0)


def test_a_volume_gets_one_transform_for_all_slices() -> None:
    one = torch.rand(1, 1, 32, 32)
    out = augment_volume(one.repeat(4, 1, 1, 1), Augmentation(), torch.Generator().manual_seed(1))
    for index in range(1, 4):
        assert torch.equal(out[index], out[0])
    assert not torch.allclose(out[0], one[0])


def test_slices_get_their_own_transforms() -> None:
    stack = torch.rand(1, 1, 32, 32).repeat(4, 1, 1, 1)
    out = augment_slices(stack, Augmentation(), torch.Generator().manual_seed(2))
    assert not torch.allclose(out[0], out[1])


def test_flip_always_mirrors() -> None:
    theta = random_affine(
        8,
        Augmentation(max_rotation_deg=0, max_shift=0, flip_probability=1.0),
        torch.Generator().manual_seed(3),
    )
    assert torch.all(theta[:, 0, 0] == -1)


def test_uncovered_corners_take_the_minimum() -> None:
    stack = torch.full((1, 1, 32, 32), 5.0)
    stack[0, 0, 0, 0] = -2.0
    turned = Augmentation(max_rotation_deg=45, max_shift=0.0, flip_probability=0)
    out = augment_volume(stack, turned, torch.Generator().manual_seed(4))
    assert float(out.min()) >= -2.0 - 1e-5
    assert float(out.max()) <= 5.0 + 1e-5
