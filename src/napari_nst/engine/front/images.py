"""Turn whatever array a user has into the engine's RGB float image, and back.

numpy only: the napari side uses these too, before torch is imported.
"""

from __future__ import annotations

import warnings

import numpy as np


def to_rgb01(data, contrast_limits=None, name: str = "image") -> np.ndarray:
    """Return a float32 H×W×3 array in [0, 1] and never modify ``data``.

    - H×W (grayscale) is repeated to RGB; H×W×3 is RGB; H×W×4 loses its alpha.
    - uint8/uint16 (and other integer types) are scaled by their dtype range,
      unless ``contrast_limits`` are given.
    - Floats are scaled by ``contrast_limits`` when given, else by their min/max.
    - NaN and ±Inf are replaced (by the lowest and highest finite values) with a
      warning; an image with no finite value is refused.
    """
    arr = np.asarray(data)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "uif":
        raise ValueError(f"The {name} has data of type {arr.dtype}, which is not an image.")
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., :3]
    elif arr.ndim != 2:
        raise ValueError(
            f"The {name} has shape {arr.shape}; expected H×W (grayscale), H×W×3 (RGB) "
            "or H×W×4 (RGBA)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"The {name} is empty (shape {arr.shape}).")

    values = arr.astype(np.float32, copy=True)
    if arr.dtype.kind == "f":
        values = _finite(values, name)

    if contrast_limits is not None:
        lo, hi = (float(v) for v in contrast_limits)
    elif arr.dtype.kind in "ui":
        info = np.iinfo(arr.dtype)
        lo, hi = (0.0 if arr.dtype.kind == "u" else float(info.min)), float(info.max)
    else:
        lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    # A constant image or a zero contrast range becomes mid-grey: no division by zero.
    values = (values - lo) / span if span > 0 else np.full_like(values, 0.5)
    np.clip(values, 0.0, 1.0, out=values)
    if values.ndim == 2:
        values = np.repeat(values[..., None], 3, axis=-1)
    return np.ascontiguousarray(values, dtype=np.float32)


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    """NaN and ±Inf replaced by the lowest and highest finite values, with a warning."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    if not finite.any():
        raise ValueError(f"The {name} holds no finite value (all NaN or Inf).")
    lo, hi = values[finite].min(), values[finite].max()
    warnings.warn(
        f"The {name} holds {int((~finite).sum())} NaN/Inf values; they were replaced "
        "by its lowest (NaN, -Inf) and highest (+Inf) finite values.",
        stacklevel=3,
    )
    return np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as 8 bits per channel (rounded, as PNG holds it)."""
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def fit_size(shape: tuple[int, int], longer_side: int | None) -> tuple[int, int]:
    """(H, W) scaled so the longer side is ``longer_side``, keeping the aspect ratio."""
    h, w = int(shape[0]), int(shape[1])
    if longer_side is None:
        return h, w
    scale = longer_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


# ITU-R BT.601 luma and the YIQ chroma axes (the colour space of Gatys et al. 2017).
BT601_LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = np.array(
    [BT601_LUMA, [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float64,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float64) @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    return np.clip(yiq.astype(np.float64) @ _YIQ_TO_RGB.T, 0.0, 1.0).astype(np.float32)


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """Shift and scale the style's luminance to the content's mean and std."""
    s_std = float(style_y.std())
    scale = float(content_y.std()) / s_std if s_std > 0 else 1.0
    return ((style_y - style_y.mean()) * scale + content_y.mean()).astype(np.float32)


def match_color_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Give ``style`` the colour mean and covariance of ``content`` (linear map).

    Gatys et al. 2017, colour histogram matching: x' = A(x − μ_s) + μ_c with
    A = Σ_c^½ Σ_s^−½, so that x' has mean μ_c and covariance Σ_c.
    """
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    mu_s, mu_c = s.mean(0), c.mean(0)
    eye = np.eye(3) * 1e-5  # keeps a flat (e.g. grayscale) image's covariance invertible
    cov_s = np.cov(s, rowvar=False) + eye
    cov_c = np.cov(c, rowvar=False) + eye
    a = _sqrtm(cov_c) @ np.linalg.inv(_sqrtm(cov_s))
    out = (s - mu_s) @ a.T + mu_c
    return np.clip(out, 0.0, 1.0).reshape(style.shape).astype(np.float32)


def _sqrtm(sym: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(sym)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
