"""Measure speed, time to quality, efficiency, memory and UI stalls on this
machine in one run, and write docs/benchmarks.md (with a plot).

    python benchmarks/run.py              # about 20 minutes on a 2-core CPU
    python benchmarks/run.py --quick      # smaller, for a smoke test
    python benchmarks/run.py --report-only --gpu-results docs/results/gpu.json

Not part of the test suite. The measurements are in speed.py, the report in
speed_report.py. The GPU section comes from benchmarks/gpu_check.py's JSON (CI
machines have no GPU); which file it is, is kept in the results JSON until
``--gpu-results`` names another.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import speed  # noqa: E402
from common import image_pair, machine  # noqa: E402
from speed_report import plot, report  # noqa: E402

SECTIONS = ("per_step", "ttq", "fastj", "peak", "memory", "ui")


def measure(res: dict, wanted: set[str], quick: bool) -> None:
    """Measure the ``wanted`` sections into ``res``, logging each as it ends."""
    t0, tmp = time.perf_counter(), Path(tempfile.mkdtemp())

    def log(msg):
        print(f"[{time.perf_counter() - t0:6.0f}s] {msg}", flush=True)

    if "per_step" in wanted:
        sizes = (64, 96) if quick else (256, 512)
        res["per_step"] = [speed.per_step(s, 3 if quick else 7, tmp) for s in sizes]
        log(f"per step: {res['per_step']}")
    if "ttq" in wanted:
        res["ttq"] = speed.time_to_quality(64 if quick else 256, 20 if quick else 300, tmp)
        log(f"time to quality: J target {res['ttq']['target_J']:.4g}")
    if "fastj" in wanted:
        res["fastj"] = speed.fast_mode_j(64 if quick else 256, 20 if quick else 300)
        log(f"fast mode J: {res['fastj']}")
    if "peak" in wanted:
        res["peak"] = {d: speed.conv_peak(d) for d in ("fp32", "bf16")}
        log(f"conv peak: {res['peak']}")
        res["efficiency"] = speed.efficiency(256 if quick else 512, 3 if quick else 5, tmp)
        log(f"efficiency: {res['efficiency']}")
    if "memory" in wanted:
        sizes = (128, 256, 512) if quick else (512, 1024, 2048)
        res["memory"] = [speed.peak_memory(s, False) for s in sizes]
        res["memory"].append(speed.peak_memory(sizes[-1], True))
        log(f"memory: {res['memory']}")
    if "ui" in wanted:
        res["ui"] = speed.ui_stall(128 if quick else 512, 4 if quick else 8)
        res["ui"]["napari_floor"] = speed.napari_floor(2 if quick else 5)
        log(f"ui: {res['ui']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(HERE.parent / "docs"))
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite benchmarks.md from the saved results JSON",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        help="re-measure these sections and keep the others from the saved results JSON",
    )
    ap.add_argument(
        "--gpu-results",
        help="gpu_check.py's JSON for the GPU section (default: the one the saved results name)",
    )
    args = ap.parse_args()
    out = Path(args.out)
    saved_path = out / "results" / "benchmarks_cpu.json"
    saved = json.loads(saved_path.read_text()) if saved_path.is_file() else {}
    if args.report_only:
        res = saved
    else:
        date = time.strftime("%Y-%m-%d")
        res = {"machine": machine(), "pair": image_pair()[2], "date": date}
        wanted = set(args.only or SECTIONS)
        if args.only:  # a partial re-run: the other sections stay as measured before
            res = {**saved, "reran": {**saved.get("reran", {}), **dict.fromkeys(wanted, date)}}
        elif "gpu_results" in saved:
            res["gpu_results"] = saved["gpu_results"]
        from napari_nst.engine import allocator

        with allocator.used_in_this_process():  # as the CLI runs: this process is ours
            measure(res, wanted, args.quick)
    if args.gpu_results:
        gpu_file = Path(args.gpu_results)
        if gpu_file.resolve().parent != (out / "results").resolve():
            sys.exit(f"--gpu-results: keep the file in {out / 'results'}, beside the others")
        res["gpu_results"] = gpu_file.name
    (out / "results").mkdir(parents=True, exist_ok=True)
    saved_path.write_text(json.dumps(res, indent=1))
    res = with_gpu_results(res, out)
    plot(res, out / "images" / "time_to_quality.png")
    (out / "benchmarks.md").write_text(report(res))
    print(f"wrote {out / 'benchmarks.md'}")


def with_gpu_results(res: dict, out: Path) -> dict:
    """The saved results with the GPU run they name (``gpu``; None if none)."""
    gpu = out / "results" / res["gpu_results"] if "gpu_results" in res else None
    return {**res, "gpu": json.loads(gpu.read_text()) if gpu and gpu.is_file() else None}


def saved_report(out: Path) -> str:
    """docs/benchmarks.md as rendered from the saved results alone."""
    res = json.loads((out / "results" / "benchmarks_cpu.json").read_text())
    return report(with_gpu_results(res, out))


if __name__ == "__main__":
    main()
