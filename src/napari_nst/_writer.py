"""Save a result layer as PNG (8-bit) or TIFF (float32), with the run's record inside.

The record is the output layer's ``napari_nst`` metadata (parameters, versions,
losses) as JSON: a PNG text chunk, or the TIFF's image description. napari's own
PNG writer refuses float images, and neither keeps the record.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

RECORD_KEY = "napari_nst"  # also the output layer's metadata key
PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")


def write_result(path: str, data, attributes: dict) -> list[str]:
    """npe2 single-layer writer: returns the paths written (none when it cannot)."""
    target = Path(path)
    image = np.asarray(data)
    record = attributes.get("metadata", {}).get(RECORD_KEY)
    text = json.dumps(record) if record is not None else None
    suffix = target.suffix.lower()
    if suffix in PNG_SUFFIXES:
        if image.ndim != 3 or image.shape[-1] not in (3, 4):
            raise ValueError(
                f"PNG holds one RGB image; this layer is {image.shape}. Save it as .tif."
            )
        _write_png(target, image, text)
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        tifffile.imwrite(target, image.astype(np.float32), description=text, metadata=None)
    else:
        return []
    return [str(target)]


def _write_png(target: Path, image, text):
    from PIL import Image, PngImagePlugin

    if image.dtype.kind == "f":
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_itxt(RECORD_KEY, text)
    Image.fromarray(image).save(target, pnginfo=info)


def read_record(path: str | Path) -> dict | None:
    """The run's record saved in a PNG or TIFF by ``write_result`` (None if there is none)."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            text = tif.pages[0].description
    else:
        from PIL import Image

        with Image.open(path) as im:
            text = im.text.get(RECORD_KEY) if hasattr(im, "text") else None
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
