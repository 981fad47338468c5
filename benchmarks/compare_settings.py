"""Compare settings on pairs of the picture set: judged, second opinion, images kept.

    python benchmarks/compare_settings.py NAME --pairs tuning --sizes 128 256 \\
        --inits noise content [--set content_layer='"conv3_2"' ...]

Each run is ``hit_rate.judged_run``: ``stylize(content, style, size=S, init=I,
**settings)`` (300 steps), judged and given the second opinion. The rows go to
docs/results/settings/NAME.json with the machine and date, the images to --images
(default: a temporary folder, printed). How defaults are chosen: run the
same pairs with the current defaults (no --set) and with a candidate, on the
*tuning* pairs only (``picture_set.py``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "settings"


def chosen_pairs(spec: str) -> list[tuple[str, str]]:
    """ "tuning", "held-out", "all", or content:style,content:style."""
    import picture_set

    if spec in ("tuning", "held-out", "all"):
        return picture_set.pairs(spec)
    return [tuple(p.split(":")) for p in spec.split(",")]


def measure(pairs, sizes, inits, settings: dict, images: Path) -> list[dict]:
    from skimage import io

    from hit_rate import judged_run
    from quality import as_8bit

    rows = []
    for content_name, style_name in pairs:
        for size in sizes:
            for init in inits:
                row, image = judged_run(content_name, style_name, size, init, **settings)
                name = f"{content_name}_x_{style_name}_{init}_{size}.png"
                io.imsave(images / name, as_8bit(image))
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--pairs", default="tuning")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128])
    parser.add_argument("--inits", nargs="+", default=["noise", "content"])
    parser.add_argument("--set", nargs="*", default=[], help="parameter=JSON value")
    parser.add_argument("--images", type=Path, default=None)
    args = parser.parse_args()
    from common import machine, settings_given

    settings = settings_given(args.set)
    images = args.images or Path(tempfile.mkdtemp(prefix=f"settings_{args.name}_"))
    images.mkdir(parents=True, exist_ok=True)
    print(f"images in {images}", flush=True)
    rows = measure(chosen_pairs(args.pairs), args.sizes, args.inits, settings, images)
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "settings": settings,
        "good": f"{sum(r['good'] for r in rows)}/{len(rows)}",
        "rows": rows,
    }
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
