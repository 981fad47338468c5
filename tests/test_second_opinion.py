"""The picture benchmark's second opinion (benchmarks/second_opinion.py) measures what it says."""

import numpy as np
import skimage.data
from skimage.transform import resize

from second_opinion import second_opinion  # benchmarks/, on pytest's pythonpath


def _small(image, side=96):
    image = np.asarray(image, np.float32) / 255
    return resize(image, (side, round(image.shape[1] * side / image.shape[0])), anti_aliasing=True)


def test_the_content_scores_one_and_the_style_zero():
    content, style = _small(skimage.data.chelsea()), _small(skimage.data.immunohistochemistry())
    assert second_opinion(content, content, style) == {
        "colour_ratio": 1.0,
        "texture_ratio": 1.0,
        "edges": 1.0,
    }
    own = second_opinion(style, content, style)
    assert own["colour_ratio"] < 0.05 and own["texture_ratio"] < 0.05


def test_edges_see_the_content_s_outlines_and_not_noise():
    content, style = (
        _small(skimage.data.coffee()),
        _small(skimage.data.gravel()[..., None] * [1, 1, 1]),
    )
    noise = np.random.default_rng(0).random(content.shape)
    recoloured = content[..., ::-1]  # the same outlines in other colours
    assert second_opinion(recoloured, content, style)["edges"] > 0.8
    assert abs(second_opinion(noise, content, style)["edges"]) < 0.1
    # A picture in the style's grey tones is closer in colour than the photo.
    grey = np.repeat(content.mean(-1, keepdims=True), 3, -1)
    assert second_opinion(grey, content, style)["colour_ratio"] < 1.0
