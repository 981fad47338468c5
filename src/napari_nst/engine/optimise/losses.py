"""The paper's loss terms, on feature maps of shape (1, N, H, W).

N_l is the number of filters, M_l = H·W the number of positions.
"""

from __future__ import annotations

from ..front.images import BT601_LUMA
from ._torch import torch

# The light layout's grid: this many cells along the longer side (``coarse_luminance``).
LAYOUT_CELLS = 16


def content_loss(features, target):
    """½·Σ(F − P)²."""
    return 0.5 * (features - target).pow(2).sum()


def gram(features, mask=None, total=None):
    """G/M: the Gram matrix F·Fᵀ divided by the number of positions M.

    Dividing by M lets Gram matrices of images of different sizes be compared and
    mixed; with equal sizes, Σ(G/M − A/M)²/(4N²) is the paper's E_l exactly.
    With ``mask`` (H×W, values in [0, 1]) positions are weighted and M is the mask's
    sum: the Gram matrix of one region (Gatys et al. 2017, guided Gram matrices).
    ``total``: M of the whole image when ``features`` is one block of it, so that the
    blocks' results add up to the whole image's (``blocks.py``).
    """
    n = features.shape[1]
    if features.dim() == 4 and features.is_contiguous(memory_format=torch.channels_last):
        # NHWC maps as (positions × channels) are a view: no copy is kept for backward.
        f = features.permute(0, 2, 3, 1).reshape(-1, n)
    else:
        f = features.reshape(n, -1).t()
    if mask is None:
        return _Gram.apply(f) / (f.shape[0] if total is None else total)
    f = f.float()
    w = mask.reshape(-1, 1).to(f.dtype)
    return ((f * w).t() @ f) / (w.sum() if total is None else total).clamp_min(1e-8)


# Rows of a bf16 map widened to fp32 at once in the Gram backward (bounds its memory).
WIDEN_ROWS = 1 << 16


class _Gram(torch.autograd.Function):
    """Fᵀ·F in fp32, whose backward is one product, F·(dG + dGᵀ), also in fp32.

    Autograd's own backward of ``f.t() @ f`` makes two map-sized products and adds
    them; at 1024 px the largest map is 256 MiB. A bf16 map (fast mode) is widened to
    fp32 for each product, and only the bf16 map is kept for the backward pass:
    fast mode's peak RSS on the CPU 1024 px 2813 → 2520 MiB, 2048 px 7916 → 6880 MiB,
    with the same iterates and step time as before. Both products stay fp32: a Gram
    matrix rounded to bf16 ended 48% higher in J after 300 steps at 256 px, and the
    backward product in bf16 10% and 17% higher (two seeds).
    """

    @staticmethod
    def forward(ctx, f):
        ctx.save_for_backward(f)
        wide = f.float()  # the map itself when it is fp32 already
        return wide.t() @ wide

    @staticmethod
    def backward(ctx, grad):
        (f,) = ctx.saved_tensors
        both = grad + grad.t()
        if f.dtype == torch.float32:
            return f @ both
        # Widened a block of rows at a time: the backward pass starts when memory is
        # at its peak, and a whole fp32 copy of the map would add to it.
        out = torch.empty_like(f)
        for start in range(0, f.shape[0], WIDEN_ROWS):
            rows = slice(start, start + WIDEN_ROWS)
            out[rows] = f[rows].float() @ both
        return out


def style_layer_loss(gram_g, gram_a):
    """E_l = 1/(4·N²·M²)·Σ(G − A)², from Gram matrices already divided by M."""
    n = gram_g.shape[0]
    return (gram_g - gram_a).pow(2).sum() / (4.0 * n * n)


def tv_loss(image):
    """Σ of squared differences between neighbouring pixels (smooth, L-BFGS friendly).

    The objective divides it by the image's element count in the relative scale.
    """
    return _TotalVariation.apply(image)


class _TotalVariation(torch.autograd.Function):
    """``tv_loss``, keeping only the image for its backward pass (2·dx and 2·dy are
    recomputed there). Autograd's own would keep both difference images until the
    backward: at 4096 px, 2 × 192 MiB beside a blocked step's kept block."""

    @staticmethod
    def forward(ctx, image):
        ctx.save_for_backward(image)
        dx, dy = _differences(image)
        return dx.pow(2).sum() + dy.pow(2).sum()

    @staticmethod
    def backward(ctx, grad):
        (image,) = ctx.saved_tensors
        out = torch.zeros_like(image)
        dx, dy = _differences(image)
        dx.mul_(2 * grad)
        out[..., :, 1:] += dx
        out[..., :, :-1] -= dx
        del dx
        dy.mul_(2 * grad)
        out[..., 1:, :] += dy
        out[..., :-1, :] -= dy
        return out


def _differences(image):
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def coarse_luminance(image, cells: int = LAYOUT_CELLS):
    """The mean luminance of each cell of a grid with ``cells`` cells along the longer
    side, standardised (mean 0, spread 1): where an image is light and dark, not how
    light. A grey image (one channel) is its own luminance."""
    if image.shape[1] == 3:
        # Python scalars, not a tensor made here: no host-to-device copy in a CUDA graph.
        image = sum(w * image[:, c : c + 1] for c, w in enumerate(BT601_LUMA))
    h, w = image.shape[-2:]
    grid = (max(1, round(cells * h / max(h, w))), max(1, round(cells * w / max(h, w))))
    wide = image.to(torch.promote_types(image.dtype, torch.float32))  # bf16 widened
    cells_mean = torch.nn.functional.adaptive_avg_pool2d(wide, grid)
    centred = cells_mean - cells_mean.mean()
    # A flat image has no layout: its spread is floored, so it standardises to ~0.
    # Floored before the root: √ at 0 has an infinite slope, and 0 · ∞ made the gradient NaN.
    return centred / centred.pow(2).mean().clamp_min(1e-6).sqrt()


def layout_loss(image, target_layout):
    """Mean of (L(G) − L(C))² over the cells, L = ``coarse_luminance``: 2·(1 − r), with r
    the correlation of the two coarse luminances (0 when G's light lies where C's does)."""
    return (coarse_luminance(image) - target_layout).pow(2).mean()


def temporal_loss(image, previous, still):
    """Σ still·(G − G_prev)²: change is penalised as much as the content stood still.

    ``still`` is 1 where the content did not change and falls to 0 where it did.
    """
    return (still * (image - previous).pow(2)).sum()


def range_penalty(image, low, high):
    """Mean of squared excursions below ``low`` and above ``high``: 0 inside the range.

    A smooth wall instead of clipping: a clipped pixel has no gradient, so once a
    step pushed it out it stayed pinned at 0 or 1.
    """
    return _RangePenalty.apply(image, low, high)


class _RangePenalty(torch.autograd.Function):
    """``range_penalty``, keeping only the image for its backward pass (autograd's own
    keeps both excursion images)."""

    @staticmethod
    def forward(ctx, image, low, high):
        ctx.save_for_backward(image)
        ctx.low, ctx.high = low, high
        return ((low - image).relu().pow(2) + (image - high).relu().pow(2)).mean()

    @staticmethod
    def backward(ctx, grad):
        (image,) = ctx.saved_tensors
        below, above = (ctx.low - image).relu(), (image - ctx.high).relu()
        return (above - below).mul_(2 * grad / image.numel()), None, None
