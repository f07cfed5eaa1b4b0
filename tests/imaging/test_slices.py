"""Slice pixels as stored or min-max scaled, windowing, and lossless PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.errors import InvalidQueryError
from service.imaging.slices import Window, display_slice, encode_png, slice_pixels


def test_uint8_slices_are_shown_as_stored(rng: np.random.Generator) -> None:
    volume = rng.integers(0, 256, (4, 40, 48), dtype=np.uint8)
    assert np.array_equal(display_slice(volume, 2), volume[2])
    assert np.array_equal(display_slice(np.asfortranarray(volume), 3), volume[3])


def test_other_dtypes_are_scaled_over_the_whole_volume() -> None:
    volume = np.zeros((2, 32, 32), dtype=">i2")
    volume[0, 0, 0], volume[0, 0, 1] = -100, 100  # the extremes sit in slice 0
    volume[1, 0, 1] = 50
    shown = display_slice(volume, 1)
    assert shown.dtype == np.uint8 and shown.shape == (32, 32)
    assert shown[0, 0] == 128  # (0 + 100) * 255 / 200 = 127.5, rounded half up
    assert shown[0, 1] == 191  # (50 + 100) * 255 / 200 = 191.25
    assert display_slice(volume, 0)[0, :2].tolist() == [0, 255]


def test_a_constant_float_volume_is_black() -> None:
    assert not display_slice(np.full((2, 32, 32), 3.5, np.float32), 0).any()


def test_a_non_finite_volume_is_refused() -> None:
    volume = np.zeros((2, 32, 32), np.float32)
    volume[1, 3, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        display_slice(volume, 0)


def test_a_window_maps_its_range_linearly_with_clipping() -> None:
    values = np.array([[[0, 96, 100, 112, 128, 144, 160, 200, 255]]], dtype=np.uint8)
    shown = slice_pixels(values, 0, Window(center=128, width=64))
    # [96, 160] -> [0, 255]: (x - 96) * 255 / 64, rounded half up, clipped outside
    assert shown[0].tolist() == [0, 0, 16, 64, 128, 191, 255, 255, 255]


def test_a_window_is_in_the_stored_units_of_other_dtypes() -> None:
    volume = np.array([[[-1000.0, 0.0, 40.0, 80.0, 1000.0]]], dtype=np.float32)
    shown = slice_pixels(volume, 0, Window(center=40, width=80))
    assert shown[0].tolist() == [0, 0, 128, 255, 255]


@pytest.mark.parametrize("text", ["", "1", "1,2,3", "a,b", "10,0", "10,-5", "nan,4", "1,inf"])
def test_a_malformed_window_names_itself(text: str) -> None:
    with pytest.raises(InvalidQueryError, match="window") as raised:
        Window.parse(text)
    assert raised.value.field == "window"


def test_a_window_parses_two_numbers() -> None:
    assert Window.parse("40.5, 80") == Window(40.5, 80.0)


def test_png_is_lossless_gray_or_rgb(rng: np.random.Generator) -> None:
    gray = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png(gray)))
    assert image.format == "PNG" and image.mode == "L" and image.size == (48, 40)
    assert np.array_equal(np.asarray(image), gray)
    rgb = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png(rgb)))
    assert image.mode == "RGB" and np.array_equal(np.asarray(image), rgb)
