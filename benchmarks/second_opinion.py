"""A second opinion on a result, by measures that the default loss does not optimise.

The default style loss weighs each layer's Gram error against the photo's own
distance from the style, which is the judge's ``style_ratio`` nearly term by term,
so the judge cannot see what that loss hides. These three numbers measure other
things:

- ``colour_ratio``: sliced Wasserstein distance between the result's and the style's
  pixel colours in CIE Lab, divided by the content's distance: 1 = the photo's
  palette, 0 = the style's. Colour distributions, not second moments of features.
- ``texture_ratio``: sliced Wasserstein distance between the whole distributions of
  VGG19 features (relu1_1 … relu4_1) of result and style, relative to the content's:
  every moment of the features, where the loss matches only their Gram matrices.
- ``edges``: correlation of the gradient magnitudes of the result's and the content's
  luminance: the content's edges in place (1), or none of them (0); sharp structure,
  where the judge's ``structure`` compares blurred luminance.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, sobel

from napari_nst.engine.front.images import fit_size
from napari_nst.engine.optimise._torch import torch
from napari_nst.engine.optimise.network import cached_features

TEXTURE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")
PROJECTIONS = 64
QUANTILES = 256


def _lab(image8) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(image8).reshape(-1, 3)


def sliced_wasserstein(a, b, rng) -> float:
    """Mean over random directions of the 1-D Wasserstein-1 distance of two point clouds
    (rows), compared at ``QUANTILES`` quantiles so that the counts may differ."""
    directions = rng.standard_normal((a.shape[1], PROJECTIONS))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    q = (np.arange(QUANTILES) + 0.5) / QUANTILES
    qa = np.quantile(a @ directions, q, axis=0)
    qb = np.quantile(b @ directions, q, axis=0)
    return float(np.abs(qa - qb).mean())


def _features(image8) -> dict:
    net, _ = cached_features("vgg19-original", "conv4_1", "max", False, "cpu")
    x = torch.from_numpy(image8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        feats = net(x.contiguous(memory_format=torch.channels_last), TEXTURE_LAYERS)
        return {n: feats[n][0].float().flatten(1).T.numpy() for n in TEXTURE_LAYERS}


def _ratio(measure, result, content, style) -> float:
    return measure(result, style) / max(measure(content, style), 1e-12)


def colour_ratio(result8, content8, style8) -> float:
    def distance(x, s):
        return sliced_wasserstein(_lab(x), _lab(s), np.random.default_rng(0))

    return _ratio(distance, result8, content8, style8)


def texture_ratio(result8, content8, style8) -> float:
    feats = {id(im): _features(im) for im in (result8, content8, style8)}

    def distance(x, s):
        fx, fs = feats[id(x)], feats[id(s)]
        rng = np.random.default_rng(0)
        return float(np.mean([sliced_wasserstein(fx[n], fs[n], rng) for n in TEXTURE_LAYERS]))

    return _ratio(distance, result8, content8, style8)


def edges(result8, content8) -> float:
    luma = np.array([0.299, 0.587, 0.114], np.float32)

    def magnitude(image8):
        lum = gaussian_filter(image8.astype(np.float32) @ luma, max(image8.shape[:2]) / 512)
        return np.hypot(sobel(lum, 0), sobel(lum, 1)).ravel()

    return float(np.corrcoef(magnitude(result8), magnitude(content8))[0, 1])


def second_opinion(result, content, style) -> dict:
    """The three numbers for one result, content and style are resized as the judge does."""
    from quality import _resized, as_8bit

    r = as_8bit(result)
    c = _resized(as_8bit(content), r.shape[:2])
    s8 = as_8bit(style)
    s = _resized(s8, fit_size(s8.shape[:2], max(r.shape[:2])))
    return {
        "colour_ratio": round(colour_ratio(r, c, s), 4),
        "texture_ratio": round(texture_ratio(r, c, s), 4),
        "edges": round(edges(r, c), 4),
    }
