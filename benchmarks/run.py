"""Measure speed, time to quality, efficiency, memory and UI stalls on this
machine in one run, and write docs/benchmarks.md (with a plot).

    python benchmarks/run.py              # about 20 minutes on a 2-core CPU
    python benchmarks/run.py --quick      # smaller, for a smoke test
    python benchmarks/run.py --only ui    # re-measure one section, keep the others
    python benchmarks/run.py --report-only

Not part of the test suite. Each section is a module of benchmarks/speed/ that
returns JSON; speed_report.py renders the page from it. The GPU section reads the
newest results file of benchmarks/gpu_check.py in docs/results/ (CI has no GPU).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import image_pair, machine  # noqa: E402
from speed import fast_j, hardware, memory, per_step, time_to_quality, ui  # noqa: E402
from speed_report import plot, report  # noqa: E402

# Section name -> its module; each measure() returns the keys it adds to the results.
SECTIONS = {
    "per_step": per_step,
    "ttq": time_to_quality,
    "fastj": fast_j,
    "peak": hardware,
    "memory": memory,
    "ui": ui,
}


def measure(res: dict, wanted, quick: bool) -> None:
    """Measure the ``wanted`` sections into ``res``, logging each as it ends."""
    from napari_nst.engine.optimise import allocator

    t0, tmp = time.perf_counter(), Path(tempfile.mkdtemp())
    with allocator.used_in_this_process():  # as the CLI runs: this process is ours
        for name in wanted:
            found = SECTIONS[name].measure(quick, tmp)
            res.update(found)
            print(f"[{time.perf_counter() - t0:6.0f}s] {name}: {found}", flush=True)


def newest_gpu_results(results: Path) -> Path | None:
    """gpu_check.py's newest results file here: by its recorded date, then its name's
    numbers (run10 after run9)."""
    runs = []
    for path in results.glob("gpu_*.json"):
        data = json.loads(path.read_text())
        if "runs" in data:
            numbers = [int(n) for n in re.findall(r"\d+", path.stem)]
            runs.append((data.get("date", ""), numbers, path.name, path))
    return max(runs)[-1] if runs else None


def with_gpu_results(res: dict, out: Path) -> dict:
    """The results with the newest GPU run loaded (``gpu``; None where there is none)."""
    gpu = newest_gpu_results(out / "results")
    return {
        **res,
        "gpu": json.loads(gpu.read_text()) if gpu else None,
        "gpu_results": gpu.name if gpu else None,
    }


def saved_report(out: Path) -> str:
    """docs/benchmarks.md as rendered from the saved results alone."""
    res = json.loads((out / "results" / "benchmarks_cpu.json").read_text())
    return report(with_gpu_results(res, out))


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
    args = ap.parse_args()
    out = Path(args.out)
    saved_path = out / "results" / "benchmarks_cpu.json"
    if not args.report_only:
        date = time.strftime("%Y-%m-%d")
        res = {"machine": machine(), "pair": image_pair()[2], "date": date}
        if args.only:  # a partial re-run: the other sections stay as measured before
            saved = json.loads(saved_path.read_text())
            res = {**saved, "reran": {**saved.get("reran", {}), **dict.fromkeys(args.only, date)}}
        measure(res, args.only or list(SECTIONS), args.quick)
        saved_path.parent.mkdir(parents=True, exist_ok=True)
        saved_path.write_text(json.dumps(res, indent=1))
    res = with_gpu_results(json.loads(saved_path.read_text()), out)
    plot(res, out / "images" / "time_to_quality.png")
    (out / "benchmarks.md").write_text(report(res))
    print(f"wrote {out / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
