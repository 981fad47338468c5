"""The paper's loss terms, on feature maps of shape (1, N, H, W).

N_l is the number of filters, M_l = H·W the number of positions.
"""

from __future__ import annotations


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
    f = features.reshape(n, -1).float()  # fp32 even when features come from bf16
    if mask is None:
        return (f @ f.t()) / f.shape[1]
    w = mask.reshape(1, -1).to(f.dtype)
    return ((f * w) @ f.t()) / w.sum().clamp_min(1e-8)


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
    """Σ still·(G − G_prev)²: change is penalised only where the content stood still."""
    return (still * (image - previous).pow(2)).sum()
