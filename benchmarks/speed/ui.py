"""Section 5: UI stalls in a real viewer during a widget run, and napari's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]


def measure(quick: bool, tmp: Path) -> dict:
    ui = ui_stall(128 if quick else 512, 4 if quick else 8)
    ui["napari_floor"] = napari_floor(2 if quick else 5)
    return {"ui": ui}


def ui_stall(size: int, steps: int, runs: int = 3) -> dict:
    """The run with the largest gap after the first output, and every run's figures."""
    results = [_ui_stall_once(size, steps) for _ in range(runs)]
    done = [r for r in results if "error" not in r]
    if not done:
        return results[-1]
    worst = max(done, key=lambda r: r["max_gap_after_first_output_ms"])
    return {**worst, "runs": done}


def _ui_stall_once(size: int, steps: int) -> dict:
    return _gui_script("ui_stall.py", "--size", str(size), "--steps", str(steps))


def napari_floor(trials: int) -> dict:
    """napari's own stalls in the same kind of viewer, with no plugin (napari_floor.py)."""
    return _gui_script("napari_floor.py", "--trials", str(trials))


def _gui_script(name: str, *args: str) -> dict:
    """Run a benchmark script that opens a viewer; its last JSON line is the result."""
    cmd = [sys.executable, str(BENCHMARKS / name), *args]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-300:]}
