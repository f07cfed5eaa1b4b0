from __future__ import annotations

import numpy as np
import pytest
import torch

from service.model.preprocess import MRNET_MEAN, MRNET_STD, InputSpec, prepare_volume


def test_minmax_then_mrnet_constants() -> None:
    volume = np.linspace(10, 90, 2 * 256 * 256).reshape(2, 256, 256).astype(np.float32)
    prepared = prepare_volume(volume, InputSpec())
    assert prepared.slices.shape == (2, 1, 256, 256)
    assert prepared.slices.dtype == torch.float32
    low, high = float(prepared.slices.min()), float(prepared.slices.max())
    assert low == pytest.approx((0 - MRNET_MEAN) / MRNET_STD, abs=1e-5)
    assert high == pytest.approx((255 - MRNET_MEAN) / MRNET_STD, abs=1e-5)
    assert prepared.warnings == []


def test_uint8_and_big_endian_float_agree() -> None:
    volume = np.random.default_rng(0).integers(0, 256, (3, 256, 256), dtype=np.uint8)
    a = prepare_volume(volume, InputSpec()).slices
    b = prepare_volume(volume.astype(">f8"), InputSpec()).slices
    torch.testing.assert_close(a, b)


def test_constant_volume_does_not_divide_by_zero() -> None:
    prepared = prepare_volume(np.full((4, 256, 256), 7, np.uint8), InputSpec())
    assert torch.isfinite(prepared.slices).all()
    assert float(prepared.slices.max()) == pytest.approx(-MRNET_MEAN / MRNET_STD)
    assert any("constant" in w for w in prepared.warnings)


def test_other_sizes_are_resized_and_reported() -> None:
    prepared = prepare_volume(np.zeros((3, 320, 300), np.uint8) + 5, InputSpec())
    assert prepared.slices.shape == (3, 1, 256, 256)
    assert prepared.original_shape == (3, 320, 300)
    assert "320x300" in prepared.warnings[0] and "256x256" in prepared.warnings[0]


def test_centre_crop_and_raw_intensity() -> None:
    volume = np.zeros((1, 256, 256), np.float32)
    volume[0, 16:240, 16:240] = 200.0  # exactly the centre 224 crop
    spec = InputSpec(crop=224, intensity="raw", mean=0.0, std=1.0)
    prepared = prepare_volume(volume, spec)
    assert prepared.slices.shape == (1, 1, 224, 224)
    assert float(prepared.slices.min()) == 200.0


def test_spec_refuses_a_crop_larger_than_the_slice() -> None:
    with pytest.raises(ValueError, match="larger than"):
        InputSpec(size=128, crop=224)


def test_volume_must_be_three_dimensional() -> None:
    with pytest.raises(ValueError, match="slices, height, width"):
        prepare_volume(np.zeros((256, 256), np.uint8), InputSpec())


def test_the_callers_volume_is_left_as_it_was() -> None:
    volume = np.linspace(0, 1000, 2 * 256 * 256, dtype=np.float32).reshape(2, 256, 256)
    before = volume.copy()
    prepare_volume(volume, InputSpec())
    np.testing.assert_array_equal(volume, before)  # the arithmetic is in place, on a copy


def test_float_and_integer_inputs_give_the_same_float32_numbers() -> None:
    volume = np.random.default_rng(1).integers(0, 4096, (2, 256, 256), dtype=np.uint16)
    a = prepare_volume(volume, InputSpec()).slices
    b = prepare_volume(volume.astype(np.float32), InputSpec()).slices
    assert torch.equal(a, b)
