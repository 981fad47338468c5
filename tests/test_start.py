"""The run's first image (engine/optimise/start.py): white noise, or the style's colours."""

import numpy as np
import skimage.data
import torch

from napari_nst import stylize
from napari_nst.engine.front.params import StyleParams
from napari_nst.engine.optimise.start import MIN_SPREAD, initial_image
from napari_nst.engine.run import last_step


def _to_tensor(image, hw):
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(t, size=hw, mode="bilinear", antialias=True)


def _noise(styles, seed=0, channels=3):
    content = torch.zeros(1, channels, 64, 80)
    params = StyleParams(init="style noise", seed=seed)
    return initial_image(params, content, None, styles, _to_tensor, (64, 80))


def _channel_stats(t):
    return t.mean(dim=(0, 2, 3)).numpy(), t.std(dim=(0, 2, 3)).numpy()


def test_noise_has_the_styles_colours_and_spread_per_channel():
    rng = np.random.default_rng(0)
    style = np.clip(rng.normal((0.3, 0.5, 0.7), (0.05, 0.1, 0.08), (60, 70, 3)), 0, 1)
    mean, spread = _channel_stats(_noise([(style, 1.0)]))
    np.testing.assert_allclose(mean, style.mean(axis=(0, 1)), atol=0.01)
    np.testing.assert_allclose(spread, style.std(axis=(0, 1)), atol=0.01)


def test_a_dark_style_starts_dark_within_the_range():
    dark = skimage.data.hubble_deep_field() / 255.0  # mean grey 0.075
    start = _noise([(dark, 1.0)])
    assert start.mean() < 0.1  # white noise: 0.5
    assert start.min() >= 0.0 and start.max() <= 1.0


def test_several_styles_mix_their_colours_by_weight():
    black, white = np.zeros((40, 40, 3)), np.ones((40, 40, 3))
    mean, spread = _channel_stats(_noise([(black, 3.0), (white, 1.0)]))
    np.testing.assert_allclose(mean, 0.25, atol=0.01)
    np.testing.assert_allclose(spread, MIN_SPREAD, atol=0.005)  # flat styles: the floor


def test_a_greyscale_style_gives_grey_noise_for_a_colour_run():
    grey = skimage.data.camera() / 255.0
    mean, _ = _channel_stats(_noise([(grey, 1.0)]))
    np.testing.assert_allclose(mean, grey.mean(), atol=0.02)


def test_one_seed_one_start_another_seed_another():
    style = [(skimage.data.coffee() / 255.0, 1.0)]
    assert torch.equal(_noise(style, seed=3), _noise(style, seed=3))
    assert not torch.equal(_noise(style, seed=3), _noise(style, seed=4))


def test_a_huge_style_is_read_from_a_sample_of_its_pixels():
    rng = np.random.default_rng(1)
    huge = rng.random((5000, 300, 3), dtype=np.float32) * np.float32(0.5)  # mean 0.25
    seen = []

    def to_tensor(image, hw):
        seen.append(image.shape)
        return _to_tensor(image, hw)

    content = torch.zeros(1, 3, 16, 16)
    start = initial_image(
        StyleParams(init="style noise", seed=0), content, None, [(huge, 1.0)], to_tensor, (16, 16)
    )
    assert max(seen[0][:2]) <= 2048
    np.testing.assert_allclose(start.mean().item(), 0.25, atol=0.02)


def test_the_default_noise_is_the_papers_white_noise_whatever_the_style():
    dark = skimage.data.hubble_deep_field() / 255.0
    content = torch.zeros(1, 3, 64, 80)
    params = StyleParams(seed=5)
    start = initial_image(params, content, None, [(dark, 1.0)], _to_tensor, (64, 80))
    expected = torch.rand((1, 3, 64, 80), generator=torch.Generator().manual_seed(5))
    assert torch.equal(start, expected)


def test_a_flat_style_still_gives_noise_and_a_finite_run():
    flat = np.ones((16, 16, 3))
    _, spread = _channel_stats(_noise([(flat, 1.0)]))
    assert (spread > 0.01).all()
    last = last_step(stylize(flat, flat, size=16, steps=2, init="style noise"))
    assert np.isfinite(last.losses["total"])
