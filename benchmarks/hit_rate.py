"""The hit rate: every pair of the picture set, at every size and from both starts, judged.

Part of ``benchmarks/picture.py`` (section ``hit_rate``). Each run is
``stylize(content, style, size=S, init=I)`` at the defaults (300 steps), judged by
``quality.judge`` and given ``second_opinion``. Every result is saved
to look at in the temporary folder ``LOOK``; those whose images may be shown
(``picture_set.is_public``) also in docs/images/picture/set/ for the contact sheet.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images" / "picture" / "set"
LOOK = Path(tempfile.gettempdir()) / "napari-nst-hit-rate"  # all results, internal ones too
SIZES = (128, 256, 512)
STARTS = ("noise", "content")
TILE = 128  # px, the contact sheet's tile height


def judged_run(content_name, style_name, size, init, **settings):
    """One run of the set at the defaults (or ``settings``): (row of numbers, image)."""
    import picture_set
    from napari_nst import stylize
    from napari_nst.engine.run import last_step
    from quality import as_record, judge
    from second_opinion import second_opinion

    content, style = picture_set.load(content_name), picture_set.load(style_name)
    last = last_step(stylize(content, style, size=size, init=init, every=1000, **settings))
    row = {
        "content": content_name,
        "style": style_name,
        "size": size,
        "init": init,
        "seconds": round(last.elapsed, 1),
        **as_record(judge(last.image, content, style)),
        **second_opinion(last.image, content, style),
    }
    return row, last.image


def measure(sizes=SIZES, parts=("tuning", "held-out"), on_row=None, starts=STARTS) -> list[dict]:
    """One row per run, every run new; ``on_row(rows)`` after each (to keep partial results)."""
    import picture_set

    rows = []
    # The small sizes first, and each size from noise on every pair before the content
    # starts: a run stopped early still has whole columns.
    for size in sizes:
        for start in starts:
            for part in parts:
                for content_name, style_name in picture_set.pairs(part):
                    row, image = judged_run(content_name, style_name, size, start)
                    row = {"part": part, **row}
                    _save(LOOK / image_path(row).name, image)  # every result, to look at
                    if picture_set.is_public(content_name, style_name):
                        _save(image_path(row), image)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if on_row is not None:
                        on_row(rows)
    return rows


def image_path(row) -> Path:
    return IMAGES / f"{row['content']}_x_{row['style']}_{row['init']}_{row['size']}.jpg"


def _save(path: Path, image) -> None:
    from skimage import io

    from quality import as_8bit

    path.parent.mkdir(parents=True, exist_ok=True)
    io.imsave(path, as_8bit(image), quality=90)


def summary(rows) -> list[dict]:
    """Good / runs per part and size, and the largest stuck fraction."""
    out = []
    for part in ("tuning", "held-out", "all"):
        for size in (*SIZES, "all"):
            chosen = [r for r in rows if part in (r["part"], "all") and size in (r["size"], "all")]
            if chosen:
                good = sum(r["good"] for r in chosen)
                out.append(
                    {
                        "part": part,
                        "size": size,
                        "good": good,
                        "runs": len(chosen),
                        "rate": good / len(chosen),
                        "max_stuck": max(r["stuck"] for r in chosen),
                    }
                )
    return out


def contact_sheet(rows, path: Path) -> Path | None:
    """The held-out runs whose images may be shown, one row of tiles per pair:
    content, style, then each size and start (docs/images/picture/held_out_sheet.jpg)."""
    from skimage import io

    import picture_set
    from common import tile_row

    lines = []
    for content_name, style_name in picture_set.pairs("held-out"):
        runs = [
            r
            for r in rows
            if (r["content"], r["style"]) == (content_name, style_name) and image_path(r).is_file()
        ]
        if not runs or not picture_set.is_public(content_name, style_name):
            continue
        images = [picture_set.load(content_name), picture_set.load(style_name)]
        lines.append(tile_row(images + [io.imread(image_path(r)) for r in runs], TILE))
    if not lines:
        return None
    width = max(line.shape[1] for line in lines)
    padded = [
        np.pad(x, ((0, 4), (0, width - x.shape[1]), (0, 0)), constant_values=1) for x in lines
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    io.imsave(path, (np.concatenate(padded) * 255 + 0.5).astype(np.uint8), quality=90)
    return path
