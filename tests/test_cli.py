"""napari-nst-cli: writes the image and its JSON record; mistakes give one sentence."""

import json
import subprocess
import sys

import numpy as np
from skimage import io


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "napari_nst.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_writes_image_and_parameters(tmp_path):
    import skimage.data

    io.imsave(tmp_path / "c.png", skimage.data.chelsea())
    io.imsave(tmp_path / "s.png", skimage.data.gravel())
    out = tmp_path / "out" / "result.png"
    done = _cli(tmp_path / "c.png", tmp_path / "s.png", "-o", out, "--steps", 4, "--size", 48)
    assert done.returncode == 0, done.stderr
    image = io.imread(out)
    assert image.shape == (32, 48, 3) and image.dtype == np.uint8
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["params"]["steps"] == 4 and record["params"]["size"] == 48
    assert set(record["losses"]) == {"content", "style", "tv", "layout", "range", "total"}
    assert "4/4" in done.stderr  # the progress bar reached the end


def test_cli_bad_values_give_a_sentence_not_a_traceback(tmp_path):
    import skimage.data

    io.imsave(tmp_path / "c.png", skimage.data.chelsea())
    done = _cli(tmp_path / "c.png", tmp_path / "c.png", "-o", tmp_path / "o.png", "--steps", 0)
    assert done.returncode == 2
    assert "steps = 0 is out of range" in done.stderr and "Traceback" not in done.stderr
    done = _cli(tmp_path / "missing.png", tmp_path / "c.png", "-o", tmp_path / "o.png")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_help_shows_the_defaults_and_scales_parse():
    from napari_nst.cli import _parser, _scales
    from napari_nst.engine.front.params import StyleParams

    text = _parser().format_help()
    assert "(default: 300)" in text and "(default:" in text.split("--loss-scale")[-1]
    defaults = {a.dest: a.default for a in _parser()._actions}
    assert defaults["loss_scale"] == "gap" and defaults["steps"] == 300
    assert _scales(["auto"]) == "auto"
    assert StyleParams(scales=_scales(["none"])).scales is None
    assert _scales(["128", "256"]) == (128, 256)
    args = _parser().parse_args(["c.png", "s.png", "-o", "o.png", "--steps", "auto"])
    assert args.steps == "auto" and not args.normalized  # the raw VGG19 by default


def test_help_gives_no_default_where_none_means_something():
    from napari_nst.cli import _batch_parser, _parser

    for parser in (_parser(), _batch_parser()):
        text = " ".join(parser.format_help().split())  # wrapped lines joined
        assert "(default: None)" not in text and "(default: True)" not in text
    # The required output and the flags show none; a real default still shows.
    batch = " ".join(_batch_parser().format_help().split())
    assert "folder for the results --format" in batch  # required: no "(default: …)"
    assert "(default: png)" in batch


def test_the_all_extra_installs_what_the_widget_offers():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert set(extras["batch"]) <= set(extras["all"])  # Apply to folder runs on Dask
    assert any(dep.startswith("napari[all]") for dep in extras["all"])


def test_batch_writes_a_folder_and_reports_failures(tmp_path):
    import skimage.data

    inputs = tmp_path / "in"
    inputs.mkdir()
    io.imsave(inputs / "cat.png", skimage.data.chelsea()[::8, ::8])
    io.imsave(inputs / "coffee.png", skimage.data.coffee()[::8, ::8])
    (inputs / "broken.png").write_bytes(b"not an image")
    io.imsave(tmp_path / "s.png", skimage.data.gravel()[::8, ::8])
    out = tmp_path / "out"
    args = ["batch", inputs, "--style", tmp_path / "s.png", "-o", out, "--steps", 3]
    done = _cli(*args, "--size", 32, "--workers", 1)
    assert done.returncode == 1, done.stderr  # one input failed
    assert "2 written, 0 already there, 1 failed" in done.stderr
    assert "failed: broken: broken.png could not be read as an image" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "cat.json", "cat.png", "coffee.json", "coffee.png"
    ]  # fmt: skip
    assert json.loads((out / "cat.json").read_text())["params"]["size"] == 32
    again = _cli(*args, "--size", 32, "--workers", 1)
    assert "0 written, 2 already there, 1 failed" in again.stderr


def test_batch_ctrl_c_keeps_complete_outputs_and_resumes(tmp_path):
    import signal
    import threading
    import time

    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(6):
        io.imsave(inputs / f"im{k}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    io.imsave(tmp_path / "s.png", rng.integers(0, 255, (30, 30, 3), dtype=np.uint8))
    out = tmp_path / "out"
    args = ["batch", inputs, "--style", tmp_path / "s.png", "-o", out, "--size", 48]
    args += ["--steps", 40, "--workers", 1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_nst.cli", *map(str, args)],
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a pytest started in the background (`cmd &`) ignores SIGINT,
        # its children inherit that, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    poll, deadline = threading.Event(), time.monotonic() + 240
    while not (out.is_dir() and list(out.glob("*.json"))):  # the first result is written
        assert time.monotonic() < deadline and proc.poll() is None
        poll.wait(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "the outputs written so far are complete" in stderr
    # Nothing but our sentences: the cancelled task is not logged (it was, as a WARNING,
    # and at times with a tornado traceback).
    assert "Traceback" not in stderr and "WARNING" not in stderr and "Error" not in stderr, stderr
    names = sorted(p.name for p in out.iterdir())
    done = {p.stem for p in out.glob("*.json")}
    assert names == sorted([f"{n}.json" for n in done] + [f"{n}.png" for n in done])
    assert 1 <= len(done) < 6
    again = _cli(*args)
    assert f"{6 - len(done)} written, {len(done)} already there, 0 failed" in again.stderr


def test_every_parameter_has_its_option_with_the_declared_default_and_help():
    """The CLI's options come from StyleParams's fields: none missing, none drifting."""
    import dataclasses

    from napari_nst.cli import _params, _parser
    from napari_nst.engine.front.params import StyleParams

    parser = _parser()
    options = {a.dest: a for a in parser._actions}
    for field in dataclasses.fields(StyleParams):
        if field.name == "precision":  # set by --fast
            assert "fast" in options
            continue
        assert field.name in options, field.name
        assert options[field.name].help.startswith(field.metadata["help"][:40])
    args = parser.parse_args(["c.png", "s.png", "-o", "o.png"])
    defaults = StyleParams()
    assert _params(args, "noise").replace(every=1) == defaults
    args = parser.parse_args(
        ["c.png", "s.png", "-o", "o.png", "--pooling", "avg", "--style-layers", "conv1_1",
         "conv3_1", "--style-layer-weights", "2", "1", "--no-normalized", "--compile",
         "--temporal-weight", "3", "--fast", "--every", "7"]
    )  # fmt: skip
    p = _params(args, "noise")
    assert (p.pooling, p.style_layers, p.style_layer_weights) == (
        "avg",
        ("conv1_1", "conv3_1"),
        (2.0, 1.0),
    )
    assert (p.compile, p.temporal_weight, p.precision, p.every) == (True, 3.0, "bf16", 7)


def test_style_weights_blend_the_styles_in_the_given_proportion(tmp_path):
    import skimage.data

    io.imsave(tmp_path / "c.png", skimage.data.chelsea())
    io.imsave(tmp_path / "a.png", skimage.data.gravel())
    io.imsave(tmp_path / "b.png", skimage.data.immunohistochemistry())
    images = {}
    for weights in (("1", "0"), ("0", "1")):
        out = tmp_path / f"{'-'.join(weights)}.png"
        done = _cli(
            tmp_path / "c.png", tmp_path / "a.png", tmp_path / "b.png", "-o", out,
            "--style-weights", *weights, "--steps", 30, "--size", 32,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        images[weights] = io.imread(out).astype(float)
        record = json.loads(out.with_suffix(".json").read_text())
        assert record["style_weights"] == [float(w) for w in weights]
    # Each weighting paints a different picture (the zero-weight style plays no part).
    assert np.abs(images[("1", "0")] - images[("0", "1")]).mean() > 5
    bad = _cli(tmp_path / "c.png", tmp_path / "a.png", "-o", tmp_path / "x.png",
               "--style-weights", "1", "2")  # fmt: skip
    assert bad.returncode != 0 and "--style-weights has 2 values for 1 styles" in bad.stderr
