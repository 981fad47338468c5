"""Input conversion: every accepted array becomes RGB [0, 1]; inputs are untouched."""

import numpy as np
import pytest

from napari_nst.engine.front.images import (
    fit_size,
    match_color_histogram,
    rgb_to_yiq,
    to_rgb01,
    yiq_to_rgb,
)


def test_uint8_and_uint16_scale_by_dtype_range():
    a8 = np.array([[0, 255]], dtype=np.uint8)
    a16 = np.array([[0, 65535]], dtype=np.uint16)
    for a in (a8, a16):
        out = to_rgb01(a)
        assert out.shape == (1, 2, 3) and out.dtype == np.float32
        assert out[0, 0, 0] == 0.0 and out[0, 1, 2] == 1.0


def test_float_scales_by_min_max_or_contrast_limits():
    a = np.array([[2.0, 4.0, 6.0]])
    assert np.allclose(to_rgb01(a)[0, :, 0], [0, 0.5, 1])
    assert np.allclose(to_rgb01(a, contrast_limits=(0, 8))[0, :, 0], [0.25, 0.5, 0.75])
    # values outside the limits are clipped, as napari displays them
    assert np.allclose(to_rgb01(a, contrast_limits=(3, 5))[0, :, 0], [0, 0.5, 1])


def test_rgba_drops_alpha_and_grey_repeats():
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 255
    assert to_rgb01(rgba).shape == (4, 5, 3)
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    out = to_rgb01(grey)
    assert np.array_equal(out[..., 0], out[..., 2])


def test_input_is_never_modified():
    a = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
    before = a.copy()
    to_rgb01(a, contrast_limits=(0.2, 0.4))
    assert np.array_equal(a, before)


def test_constant_image_gives_mid_grey_without_division_by_zero():
    out = to_rgb01(np.full((3, 3), 7.0))
    assert np.all(out == 0.5)


def test_nan_and_inf_are_replaced_with_a_warning():
    a = np.array([[0.0, np.nan, 1.0, np.inf]])
    with pytest.warns(UserWarning, match="NaN/Inf"):
        out = to_rgb01(a)
    assert np.isfinite(out).all()
    with pytest.raises(ValueError, match="no finite value"):
        to_rgb01(np.full((2, 2), np.nan))


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (4, 4, 2), (2, 3, 4, 5), (7,)])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(ValueError):
        to_rgb01(np.zeros(shape))


def test_fit_size_keeps_aspect_ratio():
    assert fit_size((300, 451), 128) == (85, 128)
    assert fit_size((300, 451), None) == (300, 451)


def test_yiq_round_trip_and_histogram_matching(rng):
    img = rng.random((16, 16, 3), dtype=np.float32)
    assert np.allclose(yiq_to_rgb(rgb_to_yiq(img)), img, atol=1e-5)
    target = np.clip(img * [0.3, 0.9, 0.5] + [0.1, 0.0, 0.3], 0, 1).astype(np.float32)
    matched = match_color_histogram(img, target)
    assert np.allclose(matched.reshape(-1, 3).mean(0), target.reshape(-1, 3).mean(0), atol=0.02)
