"""The paper's loss terms, on feature maps of shape (1, N, H, W).

N_l is the number of filters, M_l = H·W the number of positions.
"""

from __future__ import annotations

from ._torch import torch


def content_loss(features, target):
    """½·Σ(F − P)²."""
    return 0.5 * (features - target).pow(2).sum()


def gram(features, mask=None):
    """G/M: the Gram matrix F·Fᵀ divided by the number of positions M.

    Dividing by M lets Gram matrices of images of different sizes be compared and
    mixed; with equal sizes, Σ(G/M − A/M)²/(4N²) is the paper's E_l exactly.
    With ``mask`` (H×W, values in [0, 1]) positions are weighted and M is the mask's
    sum: the Gram matrix of one region (Gatys et al. 2017, guided Gram matrices).
    """
    n = features.shape[1]
    if features.dim() == 4 and features.is_contiguous(memory_format=torch.channels_last):
        # NHWC maps as (positions × channels) are a view: no copy of the map is made
        # and kept for the backward pass (measured: peak RSS at 1024 px on the CPU
        # 4520 → 4249 MiB).
        f = features.permute(0, 2, 3, 1).reshape(-1, n)
    else:
        f = features.reshape(n, -1).t()
    if mask is None:
        return _Gram.apply(f) / f.shape[0]
    f = f.float()
    w = mask.reshape(-1, 1).to(f.dtype)
    return ((f * w).t() @ f) / w.sum().clamp_min(1e-8)


class _Gram(torch.autograd.Function):
    """Fᵀ·F in fp32, whose backward is one product, F·(dG + dGᵀ), in the map's precision.

    Autograd's own backward of ``f.t() @ f`` makes two map-sized products and adds
    them; at 1024 px the largest map is 256 MiB. A bf16 map (fast mode) is widened
    for the product only and kept as bf16. The Gram matrix needs fp32: the loss is a
    small difference of large entries (a Gram matrix rounded to bf16 ended 48% higher
    in J after 300 steps at 256 px). The gradient it returns enters the bf16 network
    anyway, so that product runs in bf16. Measured in fast mode on the CPU: peak RSS
    1024 px 2813 → 2581 MiB, 2048 px 7916 → 6722 MiB; a 512 px step unchanged
    (0.834 vs 0.838 s, interleaved).
    """

    @staticmethod
    def forward(ctx, f):
        ctx.save_for_backward(f)
        wide = f.float()  # the map itself when it is fp32 already
        return wide.t() @ wide

    @staticmethod
    def backward(ctx, grad):
        (f,) = ctx.saved_tensors
        return f @ (grad + grad.t()).to(f.dtype)


def style_layer_loss(gram_g, gram_a):
    """E_l = 1/(4·N²·M²)·Σ(G − A)², from Gram matrices already divided by M."""
    n = gram_g.shape[0]
    return (gram_g - gram_a).pow(2).sum() / (4.0 * n * n)


def tv_loss(image):
    """Σ of squared differences between neighbouring pixels (smooth, L-BFGS friendly)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).sum() + dy.pow(2).sum()


def temporal_loss(image, previous, still):
    """Σ still·(G − G_prev)²: change is penalised as much as the content stood still.

    ``still`` is 1 where the content did not change and falls to 0 where it did.
    """
    return (still * (image - previous).pow(2)).sum()
