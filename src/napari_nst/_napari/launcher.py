"""``napari-nst``: napari with a sample pair loaded and the widget docked."""

from __future__ import annotations

import argparse

SAMPLES = ("astronaut_hubble", "chelsea_ihc", "coffee_brick")


def main(argv=None) -> None:
    args = parse(argv)

    import napari

    set_up(napari.Viewer(title="napari-nst"), args)
    napari.run()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-nst",
        description="Open napari with a content/style sample pair and the Style Transfer widget.",
    )
    parser.add_argument(
        "--sample",
        choices=SAMPLES,
        default=SAMPLES[0],
        help="which sample pair to open (default: %(default)s)",
    )
    parser.add_argument("--run", action="store_true", help="press Run straight away")
    parser.add_argument(
        "--steps", type=int, help="run exactly this many steps (default: stop when settled)"
    )
    parser.add_argument("--size", type=int, help="override the widget's size (px)")
    return parser


def set_up(viewer, args):
    """Open the sample pair side by side, dock the widget, and Run if asked; the widget."""
    viewer.open_sample("napari-nst", args.sample)
    # A grid shows the photo and the style side by side, so the style does not hide the
    # photo; the output takes the next cell.
    viewer.grid.enabled = True
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    if args.steps:
        widget.auto_stop.value = False
        widget.steps.value = args.steps
    if args.size:
        widget.size.value = args.size
    if args.run:
        widget.start()
    return widget


def parse(argv=None):
    return _parser().parse_args(argv)


if __name__ == "__main__":
    main()
