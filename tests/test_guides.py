"""Style by region: each half of the output takes its own style."""

import numpy as np
import pytest

from napari_nst import Guides, stylize

torch = pytest.importorskip("torch")


def _style_distance(image, style, layers=("conv1_1", "conv2_1", "conv3_1")):
    """Gram distance (the paper's E, summed over layers) between two images."""
    from napari_nst.engine.front.images import to_rgb01
    from napari_nst.engine.optimise.losses import gram, style_layer_loss
    from napari_nst.engine.optimise.network import cached_features

    net, _ = cached_features("vgg19-original", "conv5_1", "max", True, "cpu")

    def feats(img):
        x = torch.from_numpy(to_rgb01(img)).permute(2, 0, 1)[None].contiguous()
        with torch.inference_mode():
            return net(x, layers)

    a, b = feats(image), feats(style)
    return sum(style_layer_loss(gram(a[n]), gram(b[n])).item() for n in layers)


def _two_styles():
    import skimage.data

    fine = skimage.data.gravel()  # fine grey grain
    coarse = np.zeros((128, 128, 3), np.uint8)
    coarse[(np.indices((128, 128)).sum(0) // 16) % 2 == 1] = (255, 40, 0)  # big red checks
    return fine, coarse


def test_each_half_is_closer_to_its_own_style():
    # Measured (distance to own style / to the other, left and right): 60 steps gave
    # 0.99 / 1.00 with the range wall scaled by the current J, 0.96 / 0.94 with the
    # earlier wall, 0.80 / 0.57 with none; 200 steps 0.97 / 0.94. Regions from noise
    # separate slowly against any range wall: an open problem (issue #15's note).
    fine, coarse = _two_styles()
    content = np.full((64, 64, 3), 128, np.uint8)
    labels = np.zeros((64, 64), int)
    labels[:, 32:] = 1
    guides = Guides(labels, styles={0: 0, 1: 1})
    out = list(
        stylize(
            content,
            [(fine, 1.0), (coarse, 1.0)],
            size=64,
            steps=200,
            every=200,
            alpha=1e-3,
            beta=1.0,
            guides=guides,
        )
    )[-1].image
    left, right = out[:, :32], out[:, 32:]
    assert _style_distance(left, fine) < _style_distance(left, coarse)
    assert _style_distance(right, coarse) < _style_distance(right, fine)


def test_a_mask_change_mid_run_changes_the_next_steps():
    fine, coarse = _two_styles()
    content = np.full((48, 48, 3), 128, np.uint8)
    left = np.zeros((48, 48), int)
    left[:, 24:] = 1
    calls = []

    def painted():  # the user "paints" everything with label 1 after 3 steps
        calls.append(1)
        return left if len(calls) <= 3 else np.ones_like(left)

    run = {"size": 48, "steps": 6, "alpha": 1e-3, "beta": 1.0, "seed": 1}
    styles = [(fine, 1.0), (coarse, 1.0)]
    fixed = [s.image for s in stylize(content, styles, guides=Guides(left, {0: 0, 1: 1}), **run)]
    moved = [
        s.image for s in stylize(content, styles, guides=Guides(painted, {0: 0, 1: 1}), **run)
    ]
    assert np.array_equal(fixed[1], moved[1])  # same until the paint
    assert not np.allclose(fixed[-1], moved[-1])  # different after it


def test_bad_guides_are_refused():
    fine, coarse = _two_styles()
    with pytest.raises(ValueError, match="maps to style 3"):
        stylize(fine, coarse, guides=Guides(np.zeros((8, 8), int), {0: 3}))
    with pytest.raises(ValueError, match="must be 2-D"):
        stylize(fine, coarse, guides=Guides(np.zeros((2, 8, 8), int), {0: 0}))
