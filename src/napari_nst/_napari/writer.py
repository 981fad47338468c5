"""npe2 writer: save a result layer as PNG (8-bit) or TIFF (float32), record inside; a
large (multiscale) result saves its full-resolution level.

The layer holds 8 bits (napari's own writer saves that, without the record); this
writer takes the float result from the layer's metadata where it is there. The file
formats are the engine's (``engine.result_files``).
"""

from __future__ import annotations

from pathlib import Path

from ..engine.jobs.result_files import RECORD_KEY, is_result_suffix, read_record, write_image

__all__ = ["RECORD_KEY", "RESULT_KEY", "read_record", "write_result"]
# The float32 result of an output layer, in its metadata beside the record.
RESULT_KEY = "napari-nst result"


def write_result(path: str, data, attributes: dict) -> list[str]:
    """npe2 single-layer writer: returns the paths written (none when it cannot)."""
    if not is_result_suffix(Path(path).suffix):
        return []
    metadata = attributes.get("metadata", {})
    record = metadata.get(RECORD_KEY)
    if metadata.get(RESULT_KEY) is not None:
        data = metadata[RESULT_KEY]  # the float result that the 8-bit layer shows
    elif attributes.get("multiscale"):
        data = data[0]  # the full-resolution result; the other levels are for display
    return [str(write_image(path, data, record))]
