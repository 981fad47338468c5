"""The same run through ``stylize``, ``stylize_in_viewer`` and the widget's Run, in one process.

    xvfb-run -a python benchmarks/viewer_speed.py --sizes 256 512

The widget's own parameters at each size (its defaults: auto stop, Standard), the
sample pair astronaut × Hubble, the weights loaded once before all runs. For the two
runs in the viewer: the draws, and the largest gap between 10 ms timer ticks after the
first output (the stall bound of benchmarks/ui_stall.py). The widget's run also keeps
its output every ``--snapshot`` seconds, judged afterwards (../shared/tools/nst_judge.py)
for the time to the first good picture. Results: docs/results/viewer_speed.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "docs" / "results" / "viewer_speed.json"
REPORT = HERE.parent / "docs" / "viewer-speed.md"
JUDGE = HERE.parent.parent / "shared" / "tools" / "nst_judge.py"


def _wait(app, done, timeout_s):
    end = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("the run did not end in time")
        app.processEvents()
        time.sleep(0.002)


def in_viewer(run_factory, snapshot_every=None):
    """Start a run and let Qt's event loop run until it ends: the run, its figures and
    its snapshots (the output every ``snapshot_every`` seconds)."""
    from qtpy.QtCore import QEventLoop, QTimer

    ticks, snapshots, draws = [], [], []
    loop = QEventLoop()
    started = time.perf_counter()
    run = run_factory()
    run.worker.finished.connect(lambda: QTimer.singleShot(0, loop.quit))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()

    def first_output():
        if run.output is not None and not draws:
            draws.append(time.perf_counter())
            run.output.events.data.connect(lambda _e: draws.append(time.perf_counter()))

    def snapshot():
        if run.output is not None:
            snapshots.append((time.perf_counter() - started, np.array(run.output.data)))

    run.status.events.steps_done.connect(lambda _e: first_output())
    shooter = QTimer()
    if snapshot_every:
        shooter.setInterval(round(1000 * snapshot_every))
        shooter.timeout.connect(snapshot)
        shooter.start()
    if run.running:
        loop.exec()
    wall = time.perf_counter() - started
    timer.stop()
    shooter.stop()
    if snapshot_every:
        snapshot()
    first = run.first_output_at or started
    later = [b - a for a, b in itertools.pairwise(ticks) if a >= first] or [0.0]
    return (
        run,
        {
            "wall_s": round(wall, 2),
            "steps": len(run.history),
            "draws": len(draws),
            "first_output_s": round(first - started, 2),
            "max_gap_after_first_ms": round(1000 * max(later), 1),
            "p99_gap_after_first_ms": round(1000 * float(np.percentile(later, 99)), 1),
        },
        snapshots,
    )


def judge_snapshots(snapshots, content, style):
    """(seconds, verdict) of each snapshot, by the shared judge when it is there.

    In a child process: the judge imports torchvision, which must not load after a
    napari viewer exists (it can crash the process)."""
    import subprocess
    import sys
    import tempfile

    if not JUDGE.is_file():
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshots.npz"
        np.savez(
            path,
            seconds=np.array([s for s, _ in snapshots]),
            images=np.stack([image for _, image in snapshots]),
            content=content,
            style=style,
        )
        done = subprocess.run(
            [sys.executable, __file__, "--judge", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout)


def _judge_file(path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("nst_judge", JUDGE)
    judge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(judge)
    data = np.load(path)
    out = []
    for seconds, image in zip(data["seconds"], data["images"]):
        verdict = judge.judge(image, data["content"], data["style"])
        out.append({"s": round(float(seconds), 1), **{k: _plain(v) for k, v in verdict.items()}})
    print(json.dumps(out))


def render() -> str:
    from common import template_environment
    from picture import defaults_words

    env = template_environment(HERE / "templates")
    results = json.loads(RESULTS.read_text())
    painting = defaults_words(results["sizes"][0]["params"])
    return env.get_template("viewer-speed.md.j2").render(r=results, painting=painting)


GETTING_STARTED = HERE.parent / "docs" / "getting-started.md"


def first_run_text() -> str:
    """getting-started.md's sentence on the widget's first Run, from the results."""
    rows = {r["size"]: r for r in json.loads(RESULTS.read_text())["sizes"]}

    def when(size):
        row = rows[size]
        end = round(row["widget_run"]["wall_s"])
        if row["widget_first_good_s"] is None:
            last = row["widget_judged"][-1]
            return (
                f"is not judged good by its end at {end} s (style_ratio "
                f"{last['style_ratio']:.2f}, structure {last['structure']:.2f})"
            )
        return f"is judged good at {round(row['widget_first_good_s'])} s and ends at {end} s"

    return (
        f"Measured in the widget on a 2-core CPU ([viewer-speed.md](viewer-speed.md)), the "
        f"sample pair's first Run at 256 px {when(256)}; at 512 px it {when(512)}."
    )


def with_first_run(page: str) -> str:
    """``page`` with its "first run" block rendered afresh."""
    from common import with_rendered_block

    return with_rendered_block(page, "first run", "benchmarks/viewer_speed.py", first_run_text())


def write_reports() -> None:
    REPORT.write_text(render())
    GETTING_STARTED.write_text(with_first_run(GETTING_STARTED.read_text()))


def _plain(value):
    return value if isinstance(value, (bool, str)) else round(float(value), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--snapshot", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--judge", type=Path, help=argparse.SUPPRESS)  # the child process
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="re-render docs/viewer-speed.md and getting-started.md's first-run sentence",
    )
    args = ap.parse_args()
    if args.judge:
        _judge_file(args.judge)
        return
    if args.render_only:
        write_reports()
        return

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer()
    viewer.open_sample("napari-nst", "astronaut_hubble")
    content_layer, style_layer = viewer.layers
    content, style = content_layer.data, style_layer.data
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    app = QApplication.instance()
    _wait(app, lambda: not widget.warm_up.is_alive(), 600)

    from common import machine
    from napari_nst import stylize, stylize_in_viewer
    from napari_nst.engine.engine_thread import on_engine_thread
    from napari_nst.engine.run import last_step

    # stylize runs on the engine thread, where the viewer's runs compute: a second thread
    # with torch's OpenMP team alive would slow both (engine/engine_thread.py).
    on_engine_thread(lambda: last_step(stylize(content, style, size=128, steps=2)))
    results = {"machine": machine(), "pair": "astronaut × Hubble", "sizes": []}
    for size in args.sizes:
        widget.size.value = size
        params = widget.params()
        start = time.perf_counter()
        last = on_engine_thread(lambda p=params: last_step(stylize(content, style, p)))
        alone = {"wall_s": round(time.perf_counter() - start, 2), "steps": last.iteration}
        settings = params.to_dict()
        _, api, _ = in_viewer(
            lambda s=settings: stylize_in_viewer(viewer, content_layer, style_layer, **s)
        )
        for layer in list(viewer.layers)[2:]:
            viewer.layers.remove(layer)
        _, button, snapshots = in_viewer(widget.start, args.snapshot)
        judged = judge_snapshots(snapshots, content, style)
        first_good = next((j["s"] for j in judged if j["good"]), None)
        for layer in list(viewer.layers)[2:]:
            viewer.layers.remove(layer)
        row = {
            "size": size,
            "params": params.to_dict(),
            "stylize": alone,
            "stylize_in_viewer": api,
            "widget_run": button,
            "viewer_over_stylize": round(api["wall_s"] / alone["wall_s"], 3),
            "widget_over_stylize": round(button["wall_s"] / alone["wall_s"], 3),
            "widget_judged": judged,
            "widget_first_good_s": first_good,
        }
        results["sizes"].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "params"}), flush=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.out == RESULTS:
        write_reports()
    viewer.close()


if __name__ == "__main__":
    main()
