"""What the widget's Quality levels cost and give: steps, time and the judge's numbers.

    python benchmarks/quality_levels.py      # writes docs/results/quality_levels.json
                                             # and docs/images/quality_levels.jpg

Each level is ``steps="auto"`` with its ``settle_levels``, at 256 px from noise,
seed 0, on the paper's Tübingen × Shipwreck (../shared/data) and on scikit-image's
chelsea × immunohistochemistry; one run each, one process, in turn.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from picture import judged, pairs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "quality_levels.json"
STRIP = ROOT / "docs" / "images" / "quality_levels.jpg"
SIZE = 256


def main() -> int:
    from PIL import Image

    from common import machine
    from napari_nst import stylize
    from napari_nst._qt.knob_controls import QUALITY_LEVELS

    rows, tiles = [], []
    chosen = [
        p for p in pairs() if p[0] in ("tubingen × shipwreck", "chelsea × immunohistochemistry")
    ]
    for name, content, style in chosen:
        row_tiles = []
        for quality, levels in QUALITY_LEVELS.items():
            start = time.perf_counter()
            *_, last = stylize(
                content, style, size=SIZE, steps="auto", settle_levels=levels, seed=0
            )
            seconds = time.perf_counter() - start
            verdict = judged(last.image, content, style)
            rows.append(
                {
                    "pair": name,
                    "quality": quality,
                    "settle_levels": levels,
                    "steps": last.iteration,
                    "stop_reason": last.stop_reason,
                    "seconds": seconds,
                    **verdict,
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            row_tiles.append((np.clip(last.image, 0, 1) * 255).astype(np.uint8))
        tiles.append(np.concatenate(row_tiles, axis=1))
    record = {"size": SIZE, "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    OUT.write_text(json.dumps({**record, "rows": rows}, indent=2))
    width = max(t.shape[1] for t in tiles)
    strip = np.concatenate([np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles])
    Image.fromarray(strip).save(STRIP, quality=85)
    print(f"wrote {OUT} and {STRIP}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
