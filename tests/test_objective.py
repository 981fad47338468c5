"""The objective's scales: what the style term means at the photo and at the style."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_nst.engine.front.params import StyleParams  # noqa: E402
from napari_nst.engine.optimise.blocks import WholeImage  # noqa: E402
from napari_nst.engine.optimise.network import cached_features  # noqa: E402
from napari_nst.engine.optimise.objective import (  # noqa: E402
    Objective,
    stage_targets,
    style_grams,
    style_layers_used,
)


def _tensor(image, side=64):
    from skimage.transform import resize

    from napari_nst.engine.front.images import to_rgb01

    x = resize(to_rgb01(image), (side, side), anti_aliasing=True)
    return torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def photo_and_style():
    import skimage.data

    return _tensor(skimage.data.chelsea()), _tensor(skimage.data.gravel())


def _objective(params, content, style):
    net, _ = cached_features(params.weights, params.deepest_layer, "max", False, "cpu")
    network = WholeImage(lambda image, names: net(image, names))
    grams = style_grams(network, style, style_layers_used(params))
    return Objective(params, network, stage_targets(network, content, [grams], [1.0], params))


def _style_term(params, content, style, x):
    return float(_objective(params, content, style)(x)[1]["style"])


def test_the_gap_scale_counts_the_photo_as_one_and_the_style_as_nought(photo_and_style):
    content, style = photo_and_style
    gap = StyleParams(loss_scale="gap")
    # At the photo each layer's error is its whole gap: the weighted sum is 1.
    assert _style_term(gap, content, style, content) == pytest.approx(1.0, rel=1e-4)
    assert _style_term(gap, content, style, style) == pytest.approx(0.0, abs=1e-6)
    # The relative scale measures the same photo against the style's own norm instead.
    relative = _style_term(StyleParams(loss_scale="relative"), content, style, content)
    assert relative != pytest.approx(1.0, rel=0.05)


def test_a_photo_already_like_the_style_is_floored_not_divided_by_nought(photo_and_style):
    _, style = photo_and_style
    value = _style_term(StyleParams(loss_scale="gap"), style, style, style.flip(-1))
    assert np.isfinite(value) and value < 1e3


def test_the_range_wall_is_j_inside_the_range_and_scales_with_j_outside():
    from napari_nst.engine.optimise.objective import RANGE_WEIGHT, with_range_wall

    inside = torch.full((1, 3, 8, 8), 0.5)
    outside = inside.clone()
    outside[..., 0, 0] = 1.5  # one pixel one unit above the range
    for j in (torch.tensor(0.01), torch.tensor(100.0)):
        assert float(with_range_wall(j, inside)) == float(j)
        walled = float(with_range_wall(j, outside))
        # The same multiple of J from the content (small J) as from noise (large J).
        penalty = 3 * (1.5 - 253 / 255) ** 2 / outside.numel()  # its 3 channels stray
        assert walled / float(j) == pytest.approx(1 + RANGE_WEIGHT * penalty, rel=1e-4)
    assert float(with_range_wall(torch.tensor(float("inf")), inside)) == float("inf")


def test_the_layout_term_is_part_of_the_content_on_by_default_and_0_is_off(photo_and_style):
    from napari_nst.engine.optimise.objective import small_stage_emphasis

    content, style = photo_and_style
    default = _objective(StyleParams(alpha=1.5), content, style)
    assert default.weights["layout"] == pytest.approx(1.5 * small_stage_emphasis(content))
    assert "layout" not in _objective(StyleParams(layout_weight=0.0), content, style).terms
    objective = _objective(StyleParams(alpha=1.5, layout_weight=2.0), content, style)
    assert objective.weights["layout"] == pytest.approx(2.0 * 1.5 * small_stage_emphasis(content))
    assert float(objective(content)[1]["layout"]) == pytest.approx(0.0, abs=1e-6)
    assert float(objective(content.flip(-2))[1]["layout"]) > 0.5
    # The paper's sums: weighed as the content term is, by ½‖P‖² of the content layer.
    paper = _objective(StyleParams(loss_scale="paper", layout_weight=1.0), content, style)
    relative = _objective(StyleParams(loss_scale="relative", layout_weight=1.0), content, style)
    target = paper.targets.content
    ratio = float(paper(content.flip(-2))[1]["layout"]) / float(
        relative(content.flip(-2))[1]["layout"]
    )
    assert ratio == pytest.approx(float(0.5 * target.pow(2).sum()), rel=1e-4)
