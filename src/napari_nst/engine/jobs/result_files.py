"""Result images on disk: PNG (8-bit) or TIFF (float32) with the run's record inside.

The record (parameters, versions, losses) is JSON: a PNG text chunk, or the TIFF's
image description. Every file is written atomically: to a hidden partial file in
the same folder, then renamed, so a reader never sees half an image.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

from ..front.images import to_uint8

RECORD_KEY = "napari_nst"
PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")
PARTIAL_MARK = ".partial-"
# Classic TIFF addresses at most 4 GiB: a larger float32 image is written as BigTIFF.
BIGTIFF_FROM = 2**32 - 2**25


def is_result_suffix(suffix: str) -> bool:
    return suffix.lower() in PNG_SUFFIXES + TIFF_SUFFIXES


def write_image(path: str | Path, image, record: dict | None = None) -> Path:
    """Write ``image`` (float in [0, 1] or uint8) with ``record``, atomically."""
    target = Path(path)
    image = np.asarray(image)
    text = json.dumps(record) if record is not None else None
    suffix = target.suffix.lower()
    if suffix in PNG_SUFFIXES:
        if image.ndim != 3 or image.shape[-1] not in (3, 4):
            raise ValueError(
                f"PNG holds one RGB image; this one is {image.shape}. Save it as .tif."
            )
        _atomically(target, lambda partial: _write_png(partial, image, text))
    elif suffix in TIFF_SUFFIXES:
        import tifffile

        image = image / np.float32(255) if image.dtype == np.uint8 else image
        _atomically(
            target,
            lambda partial: tifffile.imwrite(
                partial,
                image.astype(np.float32),
                description=text,
                metadata=None,
                bigtiff=image.size * 4 > BIGTIFF_FROM,
                photometric="rgb" if image.ndim == 3 and image.shape[-1] == 3 else None,
            ),
        )
    else:
        raise ValueError(f"Results are saved as .png or .tif, not '{target.suffix}'.")
    return target


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` as indented JSON, atomically."""
    target = Path(path)
    _atomically(target, lambda partial: partial.write_text(json.dumps(record, indent=2)))
    return target


def partial_files(folder: str | Path, name: str) -> list[Path]:
    """Partial files left in ``folder`` by interrupted writes of ``name``.<suffix>."""
    return sorted(Path(folder).glob(f".{name}.*{PARTIAL_MARK}*"))


def read_record(path: str | Path) -> dict | None:
    """The run's record saved in a PNG or TIFF by ``write_image`` (None if there is none)."""
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


def _atomically(target: Path, write) -> None:
    partial = target.with_name(f".{target.name}{PARTIAL_MARK}{uuid.uuid4().hex[:8]}")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _write_png(target: Path, image, text):
    from PIL import Image, PngImagePlugin

    image = to_uint8(image)
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_itxt(RECORD_KEY, text)
    Image.fromarray(image).save(target, format="PNG", pnginfo=info)
