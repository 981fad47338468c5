"""Judge a result as a picture, not by the loss it minimised.

Three numbers, each comparable across sizes and runs:

- ``style_ratio``: how far the result's Gram matrices (relu1_1 … relu5_1 of the
  original VGG19, raw) are from the style's, relative to how far the content's
  are: 1 means no more like the style than the photo was, lower is more stylised.
- ``structure``: correlation of the blurred luminance of result and content; 1 when
  the content's layout is all there, about 0 when none of it is.
- ``stuck``: the fraction of 8-bit channel values at exactly 0 or 255.

``good`` applies the project's bar (``GOOD``). The definitions follow the shared
judge in this project's tools, so tests and benchmarks can use them without it.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from napari_nst.engine.front.images import fit_size, to_rgb01
from napari_nst.engine.optimise._torch import torch
from napari_nst.engine.optimise.losses import gram
from napari_nst.engine.optimise.network import cached_features

JUDGE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
GOOD = {"style_ratio": 0.5, "structure": 0.6, "stuck": 0.01}


def as_8bit(image) -> np.ndarray:
    """H×W×3 uint8, the way a result is saved and seen."""
    image = np.asarray(image)
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3:
        return image
    limits = (0.0, 1.0) if image.dtype.kind == "f" else None
    return (np.clip(to_rgb01(image, limits), 0, 1) * 255 + 0.5).astype(np.uint8)


def _resized(image8, hw) -> np.ndarray:
    t = torch.from_numpy(image8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    t = torch.nn.functional.interpolate(t, size=hw, mode="bicubic", antialias=True)
    return as_8bit(t[0].permute(1, 2, 0).clamp(0, 1).numpy())


def _grams(image8):
    net, _ = cached_features("vgg19-original", "conv5_1", "max", False, "cpu")
    x = torch.from_numpy(image8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        feats = net(x.contiguous(memory_format=torch.channels_last), JUDGE_LAYERS)
        return [gram(feats[n].float()) for n in JUDGE_LAYERS]


def style_distance(image8, style8) -> float:
    """Mean over the judge's layers of ‖G − A‖/‖A‖."""
    pairs = zip(_grams(image8), _grams(style8))
    return float(np.mean([float((g - a).norm() / a.norm()) for g, a in pairs]))


def structure(image8, content8) -> float:
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    a, b = image8.astype(np.float32) @ luma, content8.astype(np.float32) @ luma
    sigma = max(b.shape) / 128
    return float(
        np.corrcoef(gaussian_filter(a, sigma).ravel(), gaussian_filter(b, sigma).ravel())[0, 1]
    )


def stuck(image8) -> float:
    return float(((image8 == 0) | (image8 == 255)).mean())


def judge(result, content, style) -> dict:
    """The three numbers, the style's own stuck fraction, and ``good``."""
    r = as_8bit(result)
    c = _resized(as_8bit(content), r.shape[:2])
    s8 = as_8bit(style)
    s = _resized(s8, fit_size(s8.shape[:2], max(r.shape[:2])))
    out = {
        "style_ratio": style_distance(r, s) / style_distance(c, s),
        "structure": structure(r, c),
        "stuck": stuck(r),
        "style_stuck": stuck(s),
    }
    out["good"] = (
        out["style_ratio"] <= GOOD["style_ratio"]
        and out["structure"] >= GOOD["structure"]
        and out["stuck"] <= max(GOOD["stuck"], 1.5 * out["style_stuck"])
    )
    return out


def as_record(verdict: dict) -> dict:
    """A verdict as plain JSON values (numbers to 4 decimals), for results files."""
    return {k: (bool(v) if k == "good" else round(float(v), 4)) for k, v in verdict.items()}
