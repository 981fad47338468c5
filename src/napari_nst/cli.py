"""``napari-nst-cli``: style transfer from the command line, no napari needed.

napari-nst-cli content.png style.png -o out.png --steps 300 --size 512
napari-nst-cli batch photos/ --style style.png -o painted/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from .engine.front import params as params_module
from .engine.front.params import AUTO_STEPS_CAP, INITS, StyleParams, knob_kind, knob_of
from .engine.front.vgg19_layers import CONV_LAYERS

NAMED_STARTS = tuple(s for s in INITS if s != "array")  # --init takes these or a file


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Says "(default: …)" only where a default means something: not for a required
    option, a flag, or an option whose absence means "none"."""

    def _get_help_string(self, action):
        if action.required or action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def _new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=_HelpFormatter
    )


def _parser() -> argparse.ArgumentParser:
    p = _new_parser(
        "napari-nst-cli",
        "Paint a content image in the style of one or more style images "
        "(Gatys et al.). Writes the image and a JSON file of the parameters used. "
        "For a folder of images: napari-nst-cli batch --help.",
    )
    p.add_argument("content", help="content image file")
    p.add_argument("style", nargs="+", help="style image file(s)")
    p.add_argument("-o", "--output", required=True, help="output image file (e.g. out.png)")
    _add_run_arguments(p)
    return p


def _batch_parser() -> argparse.ArgumentParser:
    p = _new_parser(
        "napari-nst-cli batch",
        "Paint every input image in the same style, on a Dask cluster (a local "
        "one by default). Writes OUT_DIR/<name>.png (or .tif) and <name>.json per image; "
        "outputs already there with the same inputs and parameters are skipped.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        help="image files, folders or globs; a TIFF stack counts as its slices",
    )
    p.add_argument(
        "--style", action="append", required=True, help="style image file (repeat for several)"
    )
    p.add_argument("-o", "--output-dir", required=True, help="folder for the results")
    p.add_argument(
        "--format", choices=["png", "tif"], default="png", help="png (8-bit) or tif (float32)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="address of a running Dask scheduler")
    where.add_argument(
        "--workers",
        type=int,
        help="local workers (default: one per core as memory allows, or one per GPU)",
    )
    p.add_argument("--threads", type=int, help="torch threads per local worker")
    p.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="recompute outputs that are already there",
    )
    _add_run_arguments(p)
    return p


# How the CLI reads each kind of StyleParams field (params.knob's ``kind``, or the
# default's type). Fields set by other options are left out: precision (--fast).
_SET_ELSEWHERE = ("precision",)
_KINDS = {
    "float": {"type": float},
    "int": {"type": int},
    "str": {"type": str},
    "bool": {"action": argparse.BooleanOptionalAction},
    "layers": {"choices": CONV_LAYERS, "nargs": "+"},
    "floats": {"type": float, "nargs": "+"},
    "steps": {"type": lambda text: text if text == "auto" else int(text)},
    "scales": {"nargs": "+"},
    "init": {"type": str},
}


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The run's parameters, the same for one image and for a batch: one option per
    StyleParams field, with its declared help and choices."""
    p.add_argument("--style-weights", type=float, nargs="+", help="blend weight per style")
    p.add_argument(
        "--style-strength",
        type=float,
        help="β/α: more style above the default, more content below (sets β)",
    )
    p.add_argument("--fast", action="store_true", help=knob_of("precision")["help"])
    for field in dataclasses.fields(params_module.StyleParams):  # read now: every field
        if field.name in _SET_ELSEWHERE:
            continue
        kind, meta = knob_kind(field), field.metadata
        options = dict(_KINDS[kind])
        if meta.get("choices") and kind == "str":
            options["choices"] = meta["choices"]
        default = field.default
        if kind == "scales":
            default = [default]
        elif kind == "init":
            options["help"] = meta["help"].replace("an image.", "an image file.")
        elif field.name == "every":  # the CLI's bar needs no image at every step
            default, options["help"] = None, meta["help"] + " Default: a 50th of the steps."
        p.add_argument(
            "--" + field.name.replace("_", "-"),
            default=default,
            **{"help": meta["help"], **options},
        )


def _scales(values: list[str]):
    if values in (["auto"], ["none"]):
        return values[0]
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(
            f"--scales takes sizes such as 256 512, 'auto' or 'none', not {' '.join(values)}"
        ) from None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    batch = argv[:1] == ["batch"]
    args = _batch_parser().parse_args(argv[1:]) if batch else _parser().parse_args(argv)
    from .engine.optimise import allocator

    try:
        with allocator.used_in_this_process():  # the CLI's process is its own
            return _run_batch(args) if batch else _run(args)
    except (ValueError, OSError, RuntimeError) as err:
        from .engine.front.errors import friendly_message

        print(f"napari-nst-cli: {friendly_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nnapari-nst-cli: interrupted; "
            + ("the outputs written so far are complete." if batch else "nothing written."),
            file=sys.stderr,
        )
        return 130


def _params(args, init: str) -> StyleParams:
    fields = dataclasses.fields(params_module.StyleParams)
    values = {f.name: getattr(args, f.name) for f in fields if f.name not in _SET_ELSEWHERE}
    params = params_module.StyleParams(
        **{
            **values,
            "scales": _scales(args.scales),
            "init": init,
            "precision": "bf16" if args.fast else "fp32",
            "every": args.every
            or max(1, (AUTO_STEPS_CAP if args.steps == "auto" else args.steps) // 50),
        }
    )
    if args.style_strength is not None:
        params = params.with_style_strength(args.style_strength)
    return params


def _style_weights(count: int, weights):
    weights = weights or [1.0] * count
    if len(weights) != count:
        raise ValueError(f"--style-weights has {len(weights)} values for {count} styles.")
    return weights


def _run_batch(args) -> int:
    from .engine.front.progress import BatchTally
    from .engine.jobs.batch import stylize_batch
    from .engine.jobs.batch_jobs import jobs_from_inputs

    if args.init not in NAMED_STARTS:
        raise ValueError(
            "A batch starts each image from noise or its content: --init "
            + "|".join(f"'{s}'" for s in NAMED_STARTS)
            + "."
        )
    weights = _style_weights(len(args.style), args.style_weights)
    style = list(zip(args.style, weights)) if len(args.style) > 1 else args.style[0]
    jobs = jobs_from_inputs(args.inputs, style)
    if not jobs:
        raise ValueError(f"No images found in {' '.join(args.inputs)}.")
    params = _params(args, args.init)

    def say(sentence: str) -> None:  # from the start, and between results
        print(f"\r{sentence}\033[K", end="", file=sys.stderr, flush=True)

    tally = BatchTally(len(jobs), report=say)
    for _ in stylize_batch(
        jobs,
        params,
        output_dir=args.output_dir,
        scheduler=args.scheduler,
        workers=args.workers,
        threads_per_worker=args.threads,
        resume=args.resume,
        file_format=args.format,
        tally=tally,
    ):
        pass  # the tally hears each result
    print(f"\n{tally.summary(args.output_dir)}", file=sys.stderr)
    for failure in tally.failures:
        print(f"failed: {failure.name}: {failure.reason}", file=sys.stderr)
    return 1 if tally.failures else 0


def _run(args) -> int:
    import numpy as np
    from skimage import io

    from .engine.run import stylize

    content = io.imread(args.content)
    styles = [io.imread(s) for s in args.style]
    weights = _style_weights(len(styles), args.style_weights)
    init = args.init if args.init in NAMED_STARTS else io.imread(args.init)
    params = _params(args, "array" if not isinstance(init, str) else init)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    steps = stylize(
        content,
        list(zip(styles, weights)),
        params,
        download_progress=_download_bar,
        **({"init": init} if not isinstance(init, str) else {}),
    )
    start, last = time.perf_counter(), None
    for step in steps:
        last = step
        _bar(
            step.iteration,
            step.total_steps,
            f"J={step.losses['total']:.4g}",
            time.perf_counter() - start,
        )
    print(f"\n{last.ending}", file=sys.stderr)
    io.imsave(
        out, (np.clip(last.image, 0, 1) * 255).round().astype(np.uint8), check_contrast=False
    )
    record = {
        "content": args.content,
        "style": args.style,
        "style_weights": weights,
        "params": params.to_dict(),
        "losses": last.losses,
        "elapsed_s": last.elapsed,
        "device": last.device,
        "weights_version": last.weights_version,
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)
    return 0


def _bar(done: int, total: int, note: str, seconds: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {note} {seconds:.1f}s"
    )
    sys.stderr.flush()


def _download_bar(done: int, total: int) -> None:
    mb = done / 1e6
    text = f"{mb:.0f}/{total / 1e6:.0f} MB" if total else f"{mb:.0f} MB"
    sys.stderr.write(f"\rdownloading VGG19 weights: {text}")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
