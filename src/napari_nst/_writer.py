"""npe2 writer: save a result layer as PNG (8-bit) or TIFF (float32), record inside; a
large (multiscale) result saves its full-resolution level.

napari's own PNG writer refuses float images, and neither keeps the record. The
file formats are the engine's (``engine.result_files``).
"""

from __future__ import annotations

from pathlib import Path

from .engine.result_files import RECORD_KEY, is_result_suffix, read_record, write_image

__all__ = ["RECORD_KEY", "read_record", "write_result"]


def write_result(path: str, data, attributes: dict) -> list[str]:
    """npe2 single-layer writer: returns the paths written (none when it cannot)."""
    if not is_result_suffix(Path(path).suffix):
        return []
    record = attributes.get("metadata", {}).get(RECORD_KEY)
    if attributes.get("multiscale"):
        data = data[0]  # the full-resolution result; the other levels are for display
    return [str(write_image(path, data, record))]
