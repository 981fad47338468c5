"""Make the result images of the docs: the default sample pair, the paper's
Figures 2 and 3, and an α/β sweep. Run from the repository root:

    python docs/scripts/make_figures.py --out docs/images              # everything
    python docs/scripts/make_figures.py --only figure2 --size 256      # one figure, smaller

The paintings and the Tübingen photo come from ../shared/data (or --data DIR);
they are not part of the repository. On a CPU, use a smaller --size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from napari_nst.engine.front.vgg19_layers import PAPER_STYLE_LAYERS as FIVE_LAYERS

# Figure 3's rows: the paper's style layers up to each one.
STYLE_LAYER_SETS = {
    ("…" if n > 1 else "") + FIVE_LAYERS[n - 1]: FIVE_LAYERS[:n] for n in range(1, 6)
}
# Style strengths (β/α, relative losses): Figure 3's columns and the sweep.
FIGURE3_STRENGTHS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
SWEEP_STRENGTHS = (1.875, 3.75, 7.5, 15.0, 30.0)
PAINTINGS = ("shipwreck", "starry_night", "the_scream")
# A portrait as the style over buildings: the defaults before 2026-12-07 (conv5_1 in,
# beta 5), today's (without conv5_1, beta 7.5), then the five layers with the deep ones
# weighed less.
EARLIER_DEFAULTS = {"style_layers": FIVE_LAYERS, "beta": 5.0}
FACE_SETTINGS = {
    "with conv5_1": EARLIER_DEFAULTS,
    "defaults": {},
    "16:8:4:2:1": {
        **EARLIER_DEFAULTS,
        "style_layer_weights": (0.516, 0.258, 0.129, 0.0645, 0.0323),
    },
    "256:64:16:4:1": {
        **EARLIER_DEFAULTS,
        "style_layer_weights": (0.751, 0.188, 0.047, 0.0117, 0.0029),
    },
}
# The size of the faces strip's second row: with conv5_1 and the defaults, from each start.
FACES_LARGE = 512
# Dark photos in lighter styles (a tuning and a held-out pair), without and with the
# light-layout term.
DARK_PAIRS = (("hubble_deep_field", "starry_night"), ("rocket", "the_scream"))
LAYOUT_WEIGHTS = (0.0, 1.0)
RECORD = Path(__file__).resolve().parents[1] / "results" / "figures.json"


def run(content, style, strength=None, **params):
    """One run at the defaults, or at ``strength`` (β/α); (last Step, seconds)."""
    from napari_nst import stylize
    from napari_nst.engine.run import last_step

    if strength is not None:
        params["style_strength"] = strength
    start = time.perf_counter()
    last = last_step(stylize(content, style, **params))
    return last, time.perf_counter() - start


def tile(images, columns, pad=4, height=None):
    """A grid of equally tall images (uint8), white between tiles."""
    from skimage.transform import resize

    height = height or min(im.shape[0] for im in images)
    scaled = [
        resize(im, (height, round(im.shape[1] * height / im.shape[0])), anti_aliasing=True)
        for im in images
    ]
    width = max(im.shape[1] for im in scaled)
    rows = -(-len(scaled) // columns)
    grid = np.ones((rows * (height + pad) - pad, columns * (width + pad) - pad, 3))
    for i, im in enumerate(scaled):
        r, c = divmod(i, columns)
        y, x = r * (height + pad), c * (width + pad)
        grid[y : y + height, x : x + im.shape[1]] = im[..., :3]
    return (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)


def judged(image, content, style) -> dict:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from quality import as_record, judge

    return as_record(judge(image, content, style))


def to01(image):
    from napari_nst.engine.front.images import to_rgb01

    return to_rgb01(image)


def save(path: Path, image, quality=85):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=quality, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared/data"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=None, help="default: the engine's")
    ap.add_argument(
        "--only",
        nargs="*",
        default=["default", "evolution", "sweep", "figure2", "colour", "figure3", "faces", "dark"],
    )
    ap.add_argument("--grid-size", type=int, default=256, help="Figure 3's and the sweep's size")
    ap.add_argument("--thumb", type=int, default=160, help="tile height in the grids, px")
    args = ap.parse_args()

    import skimage.data
    from skimage import io

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    steps = {"steps": args.steps} if args.steps else {}
    record = {"size": args.size, "grid_size": args.grid_size, "runs": [], **steps}
    if RECORD.is_file():  # a partial remake (--only) keeps the other figures' runs
        earlier = json.loads(RECORD.read_text())
        if all(earlier.get(k) == v for k, v in record.items() if k != "runs"):
            record["runs"] = [r for r in earlier["runs"] if r["name"].split()[0] not in args.only]
    base = {"size": args.size, "every": 10_000, **steps}
    grid = {**base, "size": args.grid_size}

    from napari_nst.engine.front.params import StyleParams

    default_layout = StyleParams().layout_weight

    def note(name, step, seconds, layout_weight=default_layout, **extra):
        record["runs"].append(
            {
                "name": name,
                "J": step.losses,
                "seconds": round(seconds, 2),
                "device": step.device,
                "layout_weight": layout_weight,  # a run without it predates the term
                **extra,
            }
        )
        RECORD.write_text(json.dumps(record, indent=1))

    astronaut, hubble = skimage.data.astronaut(), skimage.data.hubble_deep_field()
    if "default" in args.only:
        # Every sample pair of the plugin, with the default parameters.
        from napari_nst._napari import sample_data

        for key in ("astronaut_hubble", "chelsea_ihc", "coffee_brick"):
            (content, *_), (style, *_) = getattr(sample_data, key)()
            step, sec = run(content, style, **base)
            note(f"default {key}", step, sec, **judged(step.image, content, style))
            save(
                out / f"sample_{key}.jpg",
                tile([to01(content), to01(style), step.image], 3, height=args.size // 2),
            )
    if "evolution" in args.only:
        # G as it evolves: the default sample pair, default settings, a few steps.
        from napari_nst import stylize
        from napari_nst._napari import sample_data

        (content, *_), (style, *_) = sample_data.chelsea_ihc()
        keep = (1, 10, 50, 150, 200, 300)  # at 256 px: 128 px until step 200, then 256 px
        frames = [
            s.image
            for s in stylize(content, style, size=args.size, steps=max(keep), every=1)
            if s.iteration in keep
        ]
        save(out / "evolution.jpg", tile(frames, len(frames), height=args.thumb))
    if "sweep" in args.only:
        results = []
        for strength in SWEEP_STRENGTHS:
            step, sec = run(astronaut, hubble, strength, **grid)
            note(
                f"sweep {strength:g}",
                step,
                sec,
                strength=strength,
                **judged(step.image, astronaut, hubble),
            )
            results.append(step.image)
        save(out / "ratio_sweep.jpg", tile(results, len(results), height=args.thumb * 3 // 2))
    if "figure2" in args.only or "figure3" in args.only:
        tubingen = io.imread(data / "tubingen.jpg")
    if "figure2" in args.only:
        # The defaults, no hand-tuned ratio: from noise (middle row), from the photo (bottom).
        tiles = [to01(tubingen)]
        styles = {name: io.imread(data / f"{name}.jpg") for name in PAINTINGS}
        tiles += [to01(styles[name]) for name in PAINTINGS]
        for init in ("noise", "content"):
            tiles.append(np.ones_like(tiles[0]))  # blank under the photo
            for name in PAINTINGS:
                step, sec = run(tubingen, styles[name], init=init, **base)
                note(
                    f"figure2 {name} {init}",
                    step,
                    sec,
                    init=init,
                    **judged(step.image, tubingen, styles[name]),
                )
                tiles.append(step.image)
        save(out / "figure2.jpg", tile(tiles, 4, height=args.thumb))
    if "colour" in args.only:
        # One pair in the three colour modes: off, luminance only, histogram matching.
        tubingen = io.imread(data / "tubingen.jpg")
        starry = io.imread(data / "starry_night.jpg")
        tiles = [to01(tubingen), to01(starry)]
        for mode in (None, "luminance", "histogram"):
            step, sec = run(tubingen, starry, preserve_color=mode, **base)
            note(f"colour {mode}", step, sec, preserve_color=mode)
            tiles.append(step.image)
        save(out / "colour_modes.jpg", tile(tiles, 5, height=args.thumb))
    if "figure3" in args.only:
        starry = io.imread(data / "starry_night.jpg")
        tiles = []
        for label, layers in STYLE_LAYER_SETS.items():
            for strength in FIGURE3_STRENGTHS:
                step, sec = run(tubingen, starry, strength, style_layers=layers, **grid)
                note(
                    f"figure3 {label} {strength:g}",
                    step,
                    sec,
                    strength=strength,
                    layers=list(layers),
                )
                tiles.append(step.image)
        save(out / "figure3.jpg", tile(tiles, len(FIGURE3_STRENGTHS), height=args.thumb * 3 // 4))
    if "faces" in args.only:
        faces(data, grid, {**base, "size": FACES_LARGE}, note, out, args.thumb)
    if "dark" in args.only:
        dark(grid, note, out / "dark_layout.jpg", args.thumb)


def faces(data, grid, large, note, out, thumb):
    """Tübingen × the astronaut (a portrait photo): does the painting borrow the face?
    At the grid size from noise, the earlier defaults (with conv5_1), today's, then the
    deep layers weighed less (faces.jpg); at ``FACES_LARGE`` px from noise and from the
    photo, with conv5_1, then the defaults (faces_512.jpg)."""
    import skimage.data
    from skimage import io

    tubingen, astronaut = io.imread(data / "tubingen.jpg"), skimage.data.astronaut()
    tiles = [to01(astronaut)]
    for label, settings in FACE_SETTINGS.items():
        step, sec = run(tubingen, astronaut, **grid, **settings)
        note(f"faces {label}", step, sec, **judged(step.image, tubingen, astronaut))
        tiles.append(step.image)
    save(out / "faces.jpg", tile(tiles, len(tiles), height=thumb * 3 // 2))
    tiles = []
    for label in ("with conv5_1", "defaults"):
        for init in ("noise", "content"):
            step, sec = run(tubingen, astronaut, init=init, **large, **FACE_SETTINGS[label])
            judgement = judged(step.image, tubingen, astronaut)
            note(f"faces {label} {init} {FACES_LARGE}", step, sec, init=init, **judgement)
            tiles.append(step.image)
    save(out / f"faces_{FACES_LARGE}.jpg", tile(tiles, len(tiles), height=thumb * 3 // 2))


def dark(grid, note, path, thumb):
    """Dark photos in lighter styles at the grid size, from noise: the photo, then
    ``layout_weight`` 0 and 1; a row per pair of ``DARK_PAIRS`` (the picture set's images,
    benchmarks/picture_set.py, which reads ../shared/data)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import picture_set

    tiles = []
    for content_name, style_name in DARK_PAIRS:
        content, style = picture_set.load(content_name), picture_set.load(style_name)
        tiles.append(to01(content))
        for weight in LAYOUT_WEIGHTS:
            step, sec = run(content, style, **grid, layout_weight=weight)
            grey = float(step.image[..., :3].mean())
            verdict = judged(step.image, content, style)
            name = f"dark {content_name} {style_name} {weight:g}"
            note(name, step, sec, layout_weight=weight, grey=grey, **verdict)
            tiles.append(step.image)
    save(path, tile(tiles, 1 + len(LAYOUT_WEIGHTS), height=thumb * 3 // 2))


if __name__ == "__main__":
    main()
