"""Measure speed, time to quality, efficiency, memory and UI stalls on this
machine in one run, and write docs/benchmarks.md (with a plot).

    python benchmarks/run.py              # about 20 minutes on a 2-core CPU
    python benchmarks/run.py --quick      # smaller, for a smoke test

Not part of the test suite. The GPU table comes from benchmarks/gpu_check.py
(results in docs/results/), since CI machines have no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import image_pair, machine, median  # noqa: E402

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


# -- inputs ---------------------------------------------------------------------------------
def prepared_pair(size: int, tmp: Path):
    """Content and style resized to the same H×W, saved as PNG for pastiche."""
    from skimage import io
    from skimage.transform import resize

    from napari_nst.engine.images import fit_size, to_rgb01

    content, style, name = image_pair()
    hw = fit_size(content.shape[:2], size)
    c = (resize(to_rgb01(content), hw, anti_aliasing=True) * 255).round().astype(np.uint8)
    s = (resize(to_rgb01(style), hw, anti_aliasing=True) * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)  # one shared white-noise start
    for fname, arr in (("c.png", c), ("s.png", s), ("n.png", noise)):
        io.imsave(tmp / fname, arr, check_contrast=False)
    return c, s, noise, name


def pastiche_artist(tmp: Path, alpha: float, beta: float, n_content: int, m_content: int):
    """pastiche set up to minimise the paper's J on the raw (unnormalised) VGG19.

    pastiche: content = cw·lw·mean((F−P)²), style = sw·lw_l·mean((F·Fᵀ/M − A/M)²).
    Paper:    α·½·Σ(F−P)² = α·½·N·M·mean(...), β·w_l·Σ(G−A)²/(4N²M²) = β·w_l/4·mean(...).
    """
    from pastiche.pastiche import PasticheArtist

    return PasticheArtist(
        str(tmp / "c.png"),
        [str(tmp / "s.png")],
        device="cpu",
        init=str(tmp / "n.png"),
        content_layers=["block4_relu2"],
        style_layers=[f"block{i}_relu1" for i in range(1, 6)],
        content_layer_weights=[0.5 * n_content * m_content * alpha],
        style_layer_weights=[beta * (1 / 5) / 4] * 5,
        style_weights=[1.0],
        content_weight=1.0,
    )


# pastiche runs in a child process of its own, stepped by the parent: the A/B steps
# still alternate in one run, but each contender has its process's memory allocator as
# its users have it (napari-nst changes glibc's malloc settings while its runs last,
# and those are process-wide; in a shared process pastiche's steps got 14% faster too).
PASTICHE_SERVER = """
import sys, time, torch
sys.path.insert(0, sys.argv[1])
from run import pastiche_artist
from napari_nst.engine.weights import CAFFE_MEAN_BGR
from pathlib import Path
t = time.perf_counter()
artist = pastiche_artist(Path(sys.argv[2]), *map(float, sys.argv[3:5]), *map(int, sys.argv[5:7]))
print(time.perf_counter() - t, artist.loss, flush=True)
for line in sys.stdin:
    if line.strip() == "draw":
        t = time.perf_counter()
        artist.draw()
        print(time.perf_counter() - t, artist.loss, flush=True)
    elif line.strip() == "save":
        bgr = artist.pastiche.detach()[0].clone()
        bgr += torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
        rgb = (bgr[[2, 1, 0]] / 255).clamp(0, 1).permute(1, 2, 0).contiguous()
        torch.save(rgb, Path(sys.argv[2]) / "pastiche_result.pt")
        print("saved", flush=True)
"""


class PasticheProcess:
    """A pastiche artist in a child process; ``draw()`` returns its seconds, timed there.

    ``setup_seconds``: building the artist (VGG19 and the targets), also timed there.
    """

    def __init__(self, tmp: Path, alpha: float, beta: float, n_content: int, m_content: int):
        args = [str(HERE), str(tmp), str(alpha), str(beta), str(n_content), str(m_content)]
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PASTICHE_SERVER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.setup_seconds, self.loss = map(float, self.proc.stdout.readline().split())

    def draw(self) -> float:
        self.proc.stdin.write("draw\n")
        self.proc.stdin.flush()
        seconds, self.loss = map(float, self.proc.stdout.readline().split())
        return seconds

    def image(self) -> np.ndarray:
        """The current pastiche as RGB in [0, 1], H×W×3."""
        import torch

        self.proc.stdin.write("save\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return torch.load(self.tmp / "pastiche_result.pt").numpy()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def ours(c, s, noise, alpha, beta, steps, **extra):
    from napari_nst import stylize

    return stylize(
        c,
        s,
        size=None,
        init=noise,
        alpha=alpha,
        beta=beta,
        normalized=False,
        steps=steps,
        seed=0,
        **extra,
    )


# -- 1. per-step time against pastiche --------------------------------------------------------
def per_step(size: int, rounds: int, tmp: Path) -> dict:
    c, s, noise, _ = prepared_pair(size, tmp)
    n, m = 512, (c.shape[0] // 8) * (c.shape[1] // 8)
    artist = PasticheProcess(tmp, 1.0, 1e3, n, m)
    runs = {
        "fp32": ours(c, s, noise, 1.0, 1e3, 10_000),
        "bf16": ours(c, s, noise, 1.0, 1e3, 10_000, precision="bf16"),
    }
    artist.draw()
    for it in runs.values():
        next(it)  # warm-up: network built, targets computed
    times = {"pastiche": [], "fp32": [], "bf16": []}
    for _ in range(rounds):  # alternating A/B/C, one step each
        times["pastiche"].append(artist.draw())  # timed in its process, as ours here
        for key, it in runs.items():
            t = time.perf_counter()
            next(it)
            times[key].append(time.perf_counter() - t)
    for it in runs.values():
        it.close()
    artist.close()
    med = {k: median(v) for k, v in times.items()}
    return {
        "size": size,
        "hw": list(c.shape[:2]),
        "rounds": rounds,
        "pastiche_s": med["pastiche"],
        "ours_fp32_s": med["fp32"],
        "ours_bf16_s": med["bf16"],
        "ratio_fp32": med["pastiche"] / med["fp32"],
        "ratio_bf16": med["pastiche"] / med["bf16"],
    }


# -- 2. time to quality ---------------------------------------------------------------------
def time_to_quality(size: int, steps: int, tmp: Path) -> dict:
    from common import evaluate_j

    alpha, beta = 1.0, 1e3
    c, s, noise, _ = prepared_pair(size, tmp)
    n, m = 512, (c.shape[0] // 8) * (c.shape[1] // 8)
    artist = PasticheProcess(tmp, alpha, beta, n, m)
    j0_pastiche = artist.loss
    curve_p, pastiche_wall = [], artist.setup_seconds  # its time, without starting Python
    for i in range(steps):
        pastiche_wall += artist.draw()
        curve_p.append((i + 1, pastiche_wall, artist.loss))
    rgb = artist.image()
    artist.close()

    def judge(image):  # the one evaluator for every image of this section
        return evaluate_j(c, s, image, size=None, alpha=alpha, beta=beta, normalized=False)

    j0_ours = judge(noise)["total"]
    target = judge(rgb)["total"]

    out = {
        "size": size,
        "hw": list(c.shape[:2]),
        "steps": steps,
        "alpha": alpha,
        "beta": beta,
        "J0_pastiche": j0_pastiche,
        "J0_ours": j0_ours,
        "pastiche_seconds": pastiche_wall,
        "target_J": target,
        "curve_pastiche": curve_p[:: max(1, steps // 60)],
        "ours": {},
    }
    # pastiche's own J of its last (unclipped) iterate: a stricter target than its image's
    out["target_J_unclipped"] = curve_p[-1][2]
    targets = {"clipped": target, "unclipped": out["target_J_unclipped"]}
    for label, extra in (("fp32", {}), ("bf16", {"precision": "bf16"})):
        start = time.perf_counter()
        reached, curve, judging, last = {}, [], 0.0, None
        for step in ours(c, s, noise, alpha, beta, steps, **extra):
            wall = time.perf_counter() - start - judging  # the evaluator's time is not ours
            curve.append((step.iteration, wall, step.losses["total"]))
            last = step
            for name, value in targets.items():
                if name not in reached and step.losses["total"] <= value:
                    # confirm with the shared fp32 evaluator before counting it
                    t = time.perf_counter()
                    j = judge(step.image)["total"]
                    judging += time.perf_counter() - t
                    if j <= value:
                        reached[name] = {"step": step.iteration, "seconds": wall, "J_evaluated": j}
        out["ours"][label] = {
            "reached": reached.get("clipped"),
            "reached_unclipped": reached.get("unclipped"),
            "final_J_evaluated": judge(last.image)["total"],
            "final_J_own": last.losses["total"],
            "curve": curve[:: max(1, len(curve) // 60)],
        }
    return out


def fast_mode_j(size: int, steps: int, seeds=(0, 1, 2, 3)) -> dict:
    """Fast mode's final J against fp32's with the engine's defaults (fp32 evaluator).

    Per seed, three runs from the same white noise: fp32, bf16, and fp32 from that
    noise nudged by at most 1e-6 (a control: how far two fp32 runs drift apart
    after ``steps`` L-BFGS steps when their start differs by rounding-sized amounts).
    """
    import numpy as np

    from common import evaluate_j, image_pair
    from napari_nst import stylize
    from napari_nst.engine.run import last_step

    c, s, _ = image_pair()
    h, w = working_shape(c, s, size)
    out = {"size": size, "steps": steps, "seeds": {}}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        noise = rng.random((h, w, 3), dtype=np.float32)
        nudged = np.clip(noise + rng.uniform(-1e-6, 1e-6, noise.shape), 0, 1).astype(np.float32)
        runs = {}
        for label, start, precision in (
            ("fp32", noise, "fp32"),
            ("bf16", noise, "bf16"),
            ("fp32_nudged", nudged, "fp32"),
        ):
            last = last_step(
                stylize(c, s, size=size, steps=steps, init=start, precision=precision)
            )
            runs[label] = evaluate_j(c, s, last.image, size=size)["total"]
        out["seeds"][str(seed)] = runs
        print(f"fast mode J, seed {seed}: {runs}", flush=True)
    return out


def fast_j_gaps(fj) -> dict:
    """Relative J gaps to each seed's fp32 run: fast mode's, and the nudged control's."""
    import numpy as np

    runs = fj["seeds"].values()
    bf16 = [r["bf16"] / r["fp32"] - 1 for r in runs]
    nudged = [r["fp32_nudged"] / r["fp32"] - 1 for r in runs]
    return {
        "bf16": bf16,
        "nudged": nudged,
        "bf16_mean": float(np.mean(bf16)),
        "nudged_mean": float(np.mean(nudged)),
        "nudged_mean_abs": float(np.mean(np.abs(nudged))),
    }


def working_shape(content, style, size: int) -> tuple[int, int]:
    """The (h, w) a run at ``size`` works at, so that starts need no resizing."""
    from napari_nst import stylize

    step = next(iter(stylize(content, style, size=size, steps=1, optimizer="adam")))
    return step.image.shape[:2]


# -- 3. the hardware limit ------------------------------------------------------------------------
def conv_flops(h: int, w: int, deepest: str = "conv5_1") -> float:
    """Forward FLOPs of the truncated VGG19's convolutions at an H×W input."""
    from napari_nst.engine.params import conv_shapes

    return sum(
        2.0 * cin * cout * 9 * hl * wl for _, cin, cout, hl, wl in conv_shapes(h, w, deepest)
    )


def efficiency(size: int, rounds: int, tmp: Path) -> dict:
    """Conv peak and our step at ``size``, alternated round by round, per precision.

    The machine's speed drifts over a long benchmark (a shared host: pastiche's step
    took 1.89 s in one run and 1.99 s in another), so the step time and the peak it
    is compared with are measured side by side rather than minutes apart.
    """
    c, s, noise, _ = prepared_pair(size, tmp)
    precisions = ("fp32", "bf16")
    runs = {p: ours(c, s, noise, 1.0, 1e3, 10_000, precision=p) for p in precisions}
    for it in runs.values():
        next(it)  # warm-up: network built, targets computed
    peaks = {p: [] for p in precisions}
    steps = {p: [] for p in precisions}
    for _ in range(rounds):
        for p in precisions:
            peaks[p].append(conv_peak(p, seconds=0.5)["best"])
            t = time.perf_counter()
            next(runs[p])
            steps[p].append(time.perf_counter() - t)
    for it in runs.values():
        it.close()
    flops = 2 * conv_flops(*c.shape[:2])
    out = {"hw": list(c.shape[:2]), "rounds": rounds, "flops": flops}
    for p in precisions:
        peak, step = median(peaks[p]), median(steps[p])
        out[p] = {"peak": peak, "step_s": step, "efficiency": flops / step / 1e9 / peak}
    return out


def conv_peak(dtype: str, seconds: float = 1.5) -> dict:
    """Best measured 3×3 conv throughput (forward and input-gradient), GFLOP/s."""
    import torch

    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    best = {}
    for cin, cout, hw in ((64, 64, 256), (128, 128, 128), (256, 256, 64), (512, 512, 32)):
        conv = (
            torch.nn.Conv2d(cin, cout, 3, padding=1).to(dt).to(memory_format=torch.channels_last)
        )
        conv.requires_grad_(False)
        x = torch.rand(1, cin, hw, hw, dtype=dt).contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        flops = 2.0 * cin * cout * 9 * hw * hw
        for _ in range(2):
            conv(x).sum().backward()
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < seconds:
            conv(x).sum().backward()
            n += 1
        best[f"{cin}->{cout}@{hw}"] = 2 * flops * n / (time.perf_counter() - t) / 1e9
    return {"per_shape": best, "best": max(best.values())}


# -- 4. peak memory (a fresh process per size) ------------------------------------------------
MEMORY_SCRIPT = """
import resource, sys, time, skimage.data
from napari_nst import stylize
from napari_nst.engine.run import last_step
size, ckpt = int(sys.argv[1]), sys.argv[2] == "1"
t = time.perf_counter()
last_step(stylize(skimage.data.astronaut(), skimage.data.hubble_deep_field(), size=size,
                  steps=2, checkpoint=ckpt))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t)
"""


def peak_memory(size: int, checkpoint: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(size), str(int(checkpoint))],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    if out.returncode != 0:
        return {"size": size, "checkpoint": checkpoint, "error": out.stderr[-300:]}
    mib, seconds = (float(v) for v in out.stdout.split()[-2:])
    return {
        "size": size,
        "checkpoint": checkpoint,
        "peak_rss_MiB": round(mib),
        "seconds_for_2_steps": round(seconds, 1),
    }


# -- 5. UI responsiveness ------------------------------------------------------------------------
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
    cmd = [sys.executable, str(HERE / name), *args]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-300:]}


# -- the report ---------------------------------------------------------------------------------
SECTIONS = ("per_step", "ttq", "fastj", "peak", "memory", "ui")
GPU_RESULTS = "gpu_h200_run7.json"
GPU_DEFAULT = "fp32 (TF32), default: CUDA graph"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs"))
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
    if args.report_only:
        res = json.loads((Path(args.out) / "results" / "benchmarks_cpu.json").read_text())
        gpu = Path(args.out) / "results" / GPU_RESULTS
        res["gpu"] = json.loads(gpu.read_text()) if gpu.is_file() else None
        plot(res, Path(args.out) / "images" / "time_to_quality.png")
        (Path(args.out) / "benchmarks.md").write_text(report(res))
        return
    q = args.quick
    out = Path(args.out)
    tmp = Path(tempfile.mkdtemp())
    res = {"machine": machine(), "pair": image_pair()[2], "date": time.strftime("%Y-%m-%d")}
    wanted = set(args.only or SECTIONS)
    if args.only:  # a partial re-run: the other sections stay as measured before
        saved = json.loads((out / "results" / "benchmarks_cpu.json").read_text())
        res = {**saved, "reran": {**saved.get("reran", {}), **dict.fromkeys(wanted, res["date"])}}
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:6.0f}s] {msg}", flush=True)

    if "per_step" in wanted:
        sizes = (64, 96) if q else (256, 512)
        res["per_step"] = [per_step(s, 3 if q else 7, tmp) for s in sizes]
        log(f"per step: {res['per_step']}")
    if "ttq" in wanted:
        res["ttq"] = time_to_quality(64 if q else 256, 20 if q else 300, tmp)
        log(f"time to quality: J target {res['ttq']['target_J']:.4g}")
    if "fastj" in wanted:
        res["fastj"] = fast_mode_j(64 if q else 256, 20 if q else 300)
        log(f"fast mode J: {res['fastj']}")
    if "peak" in wanted:
        res["peak"] = {d: conv_peak(d) for d in ("fp32", "bf16")}
        log(f"conv peak: {res['peak']}")
        res["efficiency"] = efficiency(256 if q else 512, 3 if q else 5, tmp)
        log(f"efficiency: {res['efficiency']}")
    if "memory" in wanted:
        sizes = (128, 256, 512) if q else (512, 1024, 2048)
        res["memory"] = [peak_memory(s, False) for s in sizes] + [peak_memory(sizes[-1], True)]
        log(f"memory: {res['memory']}")
    if "ui" in wanted:
        res["ui"] = ui_stall(128 if q else 512, 4 if q else 8)
        res["ui"]["napari_floor"] = napari_floor(2 if q else 5)
        log(f"ui: {res['ui']}")
    gpu = ROOT / "docs" / "results" / GPU_RESULTS
    res["gpu"] = json.loads(gpu.read_text()) if gpu.is_file() else None
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "results" / "benchmarks_cpu.json").write_text(json.dumps(res, indent=1))
    plot(res, out / "images" / "time_to_quality.png")
    (out / "benchmarks.md").write_text(report(res))
    log(f"wrote {out / 'benchmarks.md'}")


def plot(res, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ttq = res["ttq"]
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=90)
    t, j = zip(*[(w, v) for _, w, v in ttq["curve_pastiche"]])
    ax.plot(t, j, label="pastiche (fp32; J of its unclipped iterate)")
    for label, data in ttq["ours"].items():
        if data["curve"]:
            t, j = zip(*[(w, v) for _, w, v in data["curve"]])
            ax.plot(t, j, label=f"napari-nst ({label})")
    ax.axhline(
        ttq["target_J"],
        color="grey",
        ls="--",
        lw=1,
        label="J of pastiche's image after 300 steps (clipped)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("J (paper's, raw VGG19)")
    ax.set_title(f"Time to quality, {ttq['hw'][0]}×{ttq['hw'][1]} px, L-BFGS from noise")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


# Why a target is missed, by the start of its row's name (shown only when it is missed).
WHY_MISSED = {
    "fast mode per step": "the convolutions already run at the measured bf16 conv peak; "
    "the rest of the step (fp32 Gram products, casts, ReLU, pooling, L-BFGS) takes "
    "~190 ms (see below)",
    "efficiency": "the step's time outside the convolutions (see below)",
    "fast mode's final J": "L-BFGS trajectory noise; see section 2b's control",
    "the same with the engine's defaults": "see section 2b: a single pair of runs differs "
    "by trajectory noise of the size its fp32 control shows",
    "largest UI stall of the whole run": "napari itself takes longer than 50 ms to add a "
    "layer on this software-GL display (section 5)",
    "largest UI stall after the first output": "napari's own data update and repaint "
    "take about 50 ms on this software-GL display, and runs show rare longer gaps whose "
    "cause was not found (section 5)",
}


def efficiency_of(res, prec: str) -> float:
    """Section 3's efficiency: from the side-by-side measurement where there is one."""
    if prec in res.get("efficiency", {}):
        return res["efficiency"][prec]["efficiency"]
    big = res["per_step"][-1]
    return 2 * conv_flops(*big["hw"]) / big[f"ours_{prec}_s"] / 1e9 / res["peak"][prec]["best"]


def targets_table(res) -> list[str]:
    """One row per target of the performance issue: measured, met or by how much missed."""
    big = res["per_step"][-1]
    ttq = res["ttq"]
    rows = [
        ("fp32 per step vs pastiche, 512 px CPU", "≥ 1.2×", big["ratio_fp32"], 1.2, "×"),
        ("fast mode per step vs pastiche, 512 px CPU", "≥ 2.5×", big["ratio_bf16"], 2.5, "×"),
    ]
    for prec in ("fp32", "bf16"):
        eff = efficiency_of(res, prec)
        rows.append((f"efficiency {prec}, CPU", "≥ 85%", 100 * eff, 85, "%"))
    for key, what in (("reached", "its image's J"), ("reached_unclipped", "its iterate's J")):
        fp32 = ttq["ours"]["fp32"].get(key)
        if fp32:
            rows.append(
                (
                    f"time to quality vs pastiche, fp32 (pastiche's 300 steps, {what})",
                    "≤ 0.3×",
                    fp32["seconds"] / ttq["pastiche_seconds"],
                    0.3,
                    "× (lower is better)",
                )
            )
    if "final_J_evaluated" in ttq["ours"]["fp32"]:
        fp32, bf16 = (ttq["ours"][k]["final_J_evaluated"] for k in ("fp32", "bf16"))
        rows.append(
            (
                f"fast mode's final J above fp32's, by the fp32 evaluator: section 2's set-up "
                f"(raw VGG19, α = 1, β = 1e3; {ttq['hw'][1]} px, {ttq['steps']} steps)",
                "≤ 2%",
                100 * (bf16 / fp32 - 1),
                2,
                "% (lower is better)",
            )
        )
    if "fastj" in res and "seeds" in res["fastj"]:
        from napari_nst.engine.params import StyleParams

        fj, d = res["fastj"], StyleParams()
        rows.append(
            (
                f"the same with the engine's defaults (normalised VGG19, α = {d.alpha:g}, "
                f"β = {d.beta:g}; {fj['size']} px, {fj['steps']} steps), mean of "
                f"{len(fj['seeds'])} seeds (section 2b)",
                "≤ 2%",
                100 * fast_j_gaps(fj)["bf16_mean"],
                2,
                "% (lower is better)",
            )
        )
    mem = {r["size"]: r for r in res["memory"] if not r["checkpoint"] and "peak_rss_MiB" in r}
    if 1024 in mem:
        rows.append(
            (
                "peak RSS at 1024 px, CPU fp32",
                "≤ 4 GB (3815 MiB)",
                mem[1024]["peak_rss_MiB"],
                3815,
                " MiB (lower is better)",
            )
        )
    if "max_gap_after_first_output_ms" in res["ui"]:
        ui = res["ui"]
        worst = f", worst of {len(ui['runs'])} runs" if "runs" in ui else ""
        rows += [
            (
                f"largest UI stall after the first output, 512 px{worst}",
                "≤ 50 ms",
                ui["max_gap_after_first_output_ms"],
                50,
                " ms (lower is better)",
            ),
            (
                f"largest UI stall of the whole run, with the output layer's creation{worst}"
                + _floor_note(ui.get("napari_floor")),
                "≤ 50 ms",
                max(r["max_gap_ms"] for r in ui.get("runs", [ui])),
                50,
                " ms (lower is better)",
            ),
        ]
    out = ["| target | goal | measured | met? |", "|---|---|---|---|"]
    strict = ttq["ours"]["fp32"]
    if "reached_unclipped" in strict and not strict["reached_unclipped"]:
        above = strict["final_J_evaluated"] / ttq["target_J_unclipped"] - 1
        strict_row = (
            f"| time to quality, fp32, against pastiche's own J of its unclipped iterate "
            f"(stricter) | ≤ 0.3× | not reached in {ttq['steps']} steps: J {above:+.1%} "
            "above it then | no: that J scores pixels outside [0, 1] that pastiche's own "
            "output clips away; napari-nst minimises J of the image it outputs (section 2) |"
        )
    else:
        strict_row = None
    for name, goal, value, bound, unit in rows:
        lower = "lower is better" in unit
        met = value <= bound if lower else value >= bound
        if met:
            miss = ""
        elif unit.startswith("%"):  # a percentage target: missed by percentage points
            miss = f" (missed by {abs(value - bound):.1f} points)"
        else:
            miss = f" (missed by {abs(value / bound - 1):.0%})"
        why = "" if met else next((w for k, w in WHY_MISSED.items() if name.startswith(k)), "")
        out.append(
            f"| {name} | {goal} | {value:.3g}{unit.split(' (')[0]} | "
            f"{'yes' if met else 'no'}{miss}{': ' + why if why else ''} |"
        )
    if strict_row:
        out.append(strict_row)
    gpu = res.get("gpu")
    if gpu:
        for r in gpu["runs"]:
            if r.get("mode") == GPU_DEFAULT and "seconds" in r:
                out.append(
                    f"| 500 steps at 512 px, H200, fp32/TF32 | ≤ 5 s | {r['seconds']:.2f} s "
                    f"| {'yes' if r['seconds'] <= 5 else 'no'} |"
                )
        fast = [r for r in gpu["runs"] if "bf16" in r.get("mode", "") and "seconds" in r]
        if fast:
            best = min(fast, key=lambda r: r["seconds"])
            seconds = best["seconds"]
            verdict = "yes" if seconds <= 2 else f"no (missed by {seconds / 2 - 1:.0%})"
            out.append(
                f"| 500 steps at 512 px, H200, fast mode | ≤ 2 s | {seconds:.2f} s "
                f"({best['mode']}) | {verdict} |"
            )
    out += [
        "",
        "Why the misses: see each section. In short, per-step speed on the CPU is bound "
        "by the same oneDNN convolutions pastiche calls. Profiled at 512 px in fast mode "
        "(torch.profiler, 3 steps of the current engine; 844 ms a step unprofiled), the "
        "convolutions took 659 ms a step (321 forward, 338 backward to the input), at the "
        "measured bf16 conv peak, and everything else ~190 ms: the fp32 Gram products "
        "95 ms, dtype copies 18 ms, the L-BFGS products 16 ms, ReLU backward 15 ms, max "
        "pooling 20 ms, sums and clamps ~15 ms. Tried for the Gram products: in bf16 "
        "they end higher in J (a Gram matrix rounded to bf16 48% after 300 steps at "
        "256 px; the backward product 10–17%); torch has no bf16-input, fp32-output "
        "matrix product on the CPU (`torch.mm`'s `out_dtype` is CUDA-only), and oneDNN's "
        "bf16 mode for fp32 products (`torch.backends.mkldnn.matmul.fp32_precision`) ran "
        "the conv1_1 map's product in 13.6 instead of 17.3 ms and the others no faster. "
        "On the GPU, an eager 512 px step keeps the GPU busy for ~2.7 ms (bf16) of "
        "8–9 ms: the rest is Python and kernel launches, which replaying the whole step "
        "as one CUDA graph removes (section 6).",
    ]
    return out


def _fast_j_section(fj) -> list[str]:
    """Section 2b: fast mode's final J with the engine's defaults, per seed."""
    if not fj or "seeds" not in fj:
        return []
    gaps = fast_j_gaps(fj)
    lines = [
        "## 2b. Fast mode's J with the engine's defaults (CPU)",
        "",
        f"Per seed, three runs of {fj['steps']} L-BFGS steps at {fj['size']} px from the same "
        "white noise, with the engine's defaults: fp32, fast mode (bf16), and fp32 from "
        "that noise nudged by at most 1e-6 per pixel (1/4000 of a grey level). Each "
        "result is scored by the fp32 evaluator. The nudged run is the control: it "
        "shows how far two fp32 runs drift apart in "
        f"{fj['steps']} steps from a rounding-sized difference.",
        "",
        "| seed | fp32 | fast mode | gap | fp32, nudged start | gap |",
        "|---|---|---|---|---|---|",
    ]
    for (seed, r), b, n in zip(fj["seeds"].items(), gaps["bf16"], gaps["nudged"]):
        lines.append(
            f"| {seed} | {r['fp32']:.4e} | {r['bf16']:.4e} | {b:+.1%} | "
            f"{r['fp32_nudged']:.4e} | {n:+.1%} |"
        )
    lines += [
        "",
        f"Mean gap: fast mode {gaps['bf16_mean']:+.2%}; the nudged fp32 control "
        f"{gaps['nudged_mean']:+.2%} (mean size {gaps['nudged_mean_abs']:.2%}). Target: "
        "fast mode's final J within 2% of fp32's; the table's row is the mean over seeds, "
        "since a single pair of runs differs by trajectory noise of the size the control "
        "shows.",
        "",
    ]
    return lines


def _floor_note(floor) -> str:
    if not floor or "error" in floor:
        return ""
    add = floor["add_unselected"]
    return f" (napari alone, no plugin: {min(add):.0f}–{max(add):.0f} ms to add such a layer)"


def _napari_floor_lines(floor) -> list[str]:
    """Section 5's verdict, set against napari's own stalls with no plugin."""
    if not floor or "error" in floor:
        return ["Target: ≤ 50 ms. napari's own floor was not measured in this run."]

    def span(key):
        values = floor[key]
        return f"{min(values):.0f}–{max(values):.0f} ms"

    return [
        f"napari's own floor, `python benchmarks/napari_floor.py` (napari {floor['napari']} "
        "with no plugin, the same two sample images, idle machine; largest tick gap "
        f"around one action, {len(floor['nothing'])} trials): nothing {span('nothing')}; "
        f"setting a 512 px RGB layer's data {span('set_data')}; adding one such layer "
        f"{span('add_selected')} (selected, napari's default) and "
        f"{span('add_unselected')} (unselected, as the widget adds its output).",
        "",
        "Target: ≤ 50 ms. Not met for the whole run, and not reachable here: the whole "
        "run's largest gap is the output layer's creation and "
        "first draw, which takes napari itself longer than 50 ms on this software-GL "
        "display (Mesa llvmpipe draws every layer on the CPU); napari's own data update "
        f"alone takes {span('set_data')}. Timed inside napari (5 adds of 51–59 ms, with "
        "the widget docked): its layer-controls panel 21–24 ms and the canvas's visual "
        "17–21 ms, both handlers of one event of napari's layer list, the layer and "
        "napari's model ~9 ms; the first draw of the new layer follows. A display with "
        "hardware GL would be needed to meet or measure this target; none was available.",
        "",
        "After the first output the target is met in most runs but not reliably: the "
        "regular gaps are a data update and its repaint, which napari alone takes "
        f"{span('set_data')} for (above), and some runs show one longer gap. In ten "
        "further runs of ui_stall.py with each gap's time logged (same day), the largest "
        "gap after the first output was 33.9–50.4 ms; in earlier sessions, 3 of about 20 "
        "runs had one gap of 80–155 ms, with no event of the plugin within 0.2 s of it "
        "and no garbage collection over 5 ms (logged with gc.callbacks). Its cause was "
        "not found. A bare napari viewer with a nice-10 process keeping both cores busy "
        "showed no gap over 16 ms in 30 s.",
    ]


def report(res) -> str:
    ps = res["per_step"]
    ttq = res["ttq"]
    peak = res["peak"]
    lines = [
        "# Performance",
        "",
        f"Measured by `python benchmarks/run.py` on {res['date']}: {res['machine']}.",
        f"Image pair: {res['pair']}. Raw data: `docs/results/benchmarks_cpu.json`.",
        "The GPU rows come from `python benchmarks/gpu_check.py` on a lent H200",
        f"(`docs/results/{GPU_RESULTS}`); CI has no GPU.",
        *(
            [
                "Sections re-measured later with `--only`, each in one run of its own: "
                + ", ".join(f"{k} on {v}" for k, v in sorted(res["reran"].items()))
                + "."
            ]
            if res.get("reran")
            else []
        ),
        "",
        "## Targets at a glance",
        "",
        *targets_table(res),
        "",
        "## 1. Time per L-BFGS step against pastiche (CPU)",
        "",
        "Same machine, same run, alternating one step of each, median of "
        f"{ps[0]['rounds']} rounds; the paper's layers, same size, from the same noise. "
        "pastiche runs in a child process that the benchmark steps in turn: napari-nst "
        "changes glibc's malloc settings while its CPU runs last (freed feature maps stay "
        "in the heap, so a step does not fault its memory in anew: 512 px 0.88 → 0.79 s "
        "bf16, 1.60 → 1.47 s fp32, measured alone), and those settings are process-wide. "
        "In a shared process they sped pastiche's step up too (2.005 → 1.726 s), which "
        "is not how pastiche runs for its users.",
        "",
        "| size | pastiche | napari-nst fp32 | ratio | napari-nst bf16 (fast) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in ps:
        lines.append(
            f"| {r['hw'][0]}×{r['hw'][1]} | {r['pastiche_s']:.3f} s | {r['ours_fp32_s']:.3f} s | "
            f"{r['ratio_fp32']:.2f}× | {r['ours_bf16_s']:.3f} s | {r['ratio_bf16']:.2f}× |"
        )
    lines += [
        "",
        "Targets: fp32 ≥ 1.2× and fast mode ≥ 2.5× pastiche's speed at 512 px.",
        "",
        "## 2. Time to quality (CPU)",
        "",
        "pastiche is configured to minimise the paper's J on the raw VGG19 (no "
        "normalisation, since pastiche has none): its content layer weight is "
        "½·N·M·α and its style layer weights β·w_l/4 (see `pastiche_artist` in "
        "`benchmarks/run.py`). Both start from the same noise image.",
        "",
        f"- J at step 0: pastiche {ttq['J0_pastiche']:.6g}, napari-nst's evaluator "
        f"{ttq['J0_ours']:.6g} (ratio {ttq['J0_pastiche'] / ttq['J0_ours']:.4f}).",
        f"- pastiche, {ttq['steps']} steps: {ttq['pastiche_seconds']:.1f} s; its result's J "
        f"(by our fp32 evaluator) = {ttq['target_J']:.6g}.",
    ]
    for label, data in ttq["ours"].items():
        r = data["reached"]
        if r:
            lines.append(
                f"- napari-nst {label}: reached that J at step {r['step']} after "
                f"{r['seconds']:.1f} s = {r['seconds'] / ttq['pastiche_seconds']:.2f}× "
                "pastiche's time (plain L-BFGS at one scale; the time the benchmark spent "
                "checking images with its evaluator is not counted)."
            )
        else:
            lines.append(f"- napari-nst {label}: did not reach it within {ttq['steps']} steps.")
    unclipped = ttq.get("target_J_unclipped")
    if unclipped:
        lines += [
            "",
            "pastiche minimises J of its raw iterate, whose pixels drift outside the valid "
            f"range: its own J after {ttq['steps']} steps is {unclipped:.4g}, but its image, "
            f"clipped, scores {ttq['target_J']:.4g}. napari-nst minimises J of the clipped "
            "image itself, so the stricter target is pastiche's own J:",
            "",
        ]
        for label, data in ttq["ours"].items():
            r = data.get("reached_unclipped")
            lines.append(
                f"- napari-nst {label}: reached {unclipped:.4g} (its image, by the evaluator) "
                f"at step {r['step']} after {r['seconds']:.1f} s = "
                f"{r['seconds'] / ttq['pastiche_seconds']:.2f}× pastiche's time."
                if r
                else f"- napari-nst {label}: not reached in {ttq['steps']} steps."
            )
        fp32 = ttq["ours"]["fp32"]["final_J_evaluated"]
        lines += ["", f"After {ttq['steps']} steps, J of each result by the fp32 evaluator:", ""]
        for label, data in ttq["ours"].items():
            j = data["final_J_evaluated"]
            lines.append(
                f"- {label}: {j:.4g} (its own J {data['final_J_own']:.4g}; "
                f"{100 * (j / fp32 - 1):+.1f}% against fp32)"
            )
    else:  # results measured before J was taken of the clipped image
        curve = ttq["curve_pastiche"]
        crossed = next(((st, w) for st, w, j in curve if j <= ttq["target_J"]), None)
        lines += [
            "",
            "Caveat: pastiche's own J (of its unclipped iterate) falls to "
            f"{curve[-1][2]:.3g}, but its clipped result scores {ttq['target_J']:.3g}."
            + (f" By its own J it reaches that at step {crossed[0]}." if crossed else ""),
        ]
    lines += [
        "",
        "Target: ≤ 0.3× pastiche's time.",
        "",
        "![J against wall time](images/time_to_quality.png)",
        "",
        *_fast_j_section(res.get("fastj")),
        "## 3. Against the hardware limit (CPU)",
        "",
        "FLOPs per step: the convolutions of VGG19 up to conv5_1, forward plus the "
        "backward to the image only (weights are frozen, so about 2× forward). Peak: the "
        "best 3×3 convolution throughput (forward + input gradient) measured here in the "
        "same precision and layout.",
        "",
    ]
    eff = res.get("efficiency")
    if eff:
        lines += [
            f"Measured side by side: {eff['rounds']} rounds, each the conv peak (0.5 s a "
            "shape) and then one L-BFGS step of section 1's set-up, per precision; the "
            "medians are compared. The host's speed drifts over the whole benchmark "
            "(section 1's steps were measured minutes earlier), so its times are not used "
            "here.",
            "",
            f"| precision | conv peak | FLOPs/step at {eff['hw'][0]}×{eff['hw'][1]} px "
            "| time/step | achieved | efficiency |",
            "|---|---|---|---|---|---|",
        ]
        for prec in ("fp32", "bf16"):
            e = eff[prec]
            achieved = eff["flops"] / e["step_s"] / 1e9
            lines.append(
                f"| {prec} | {e['peak']:.0f} GFLOP/s | {eff['flops'] / 1e9:.0f} G | "
                f"{e['step_s']:.3f} s | {achieved:.0f} GFLOP/s | {100 * e['efficiency']:.1f}% |"
            )
        lines.append("")
    lines += [
        "The best conv throughput per shape, measured for 1.5 s each:",
        "",
        "| precision | " + " | ".join(peak["fp32"]["per_shape"]) + " |",
        "|---|" + "---|" * len(peak["fp32"]["per_shape"]),
        *(
            f"| {prec} | "
            + " | ".join(f"{v:.0f} GFLOP/s" for v in peak[prec]["per_shape"].values())
            + " |"
            for prec in ("fp32", "bf16")
        ),
        "",
        "Target: ≥ 85% in each precision.",
        "",
        "## 4. Peak memory",
        "",
        "| size | checkpointing | peak RSS (CPU, fp32) | time for 2 steps |",
        "|---|---|---|---|",
    ]
    for r in res["memory"]:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['checkpoint']} | failed: {r['error'][:80]} | |")
        else:
            lines.append(
                f"| {r['size']} | {'yes' if r['checkpoint'] else 'no'} | "
                f"{r['peak_rss_MiB']} MiB | {r['seconds_for_2_steps']} s |"
            )
    lines += [
        "",
        "Targets: 1024 px ≤ 4 GB on the CPU in fp32; 2048 px completes on 24 GB.",
        "",
        "Two steps show a whole run's peak: the L-BFGS history is allocated before the "
        "first step (capped at 256 MiB: 20 pairs of images up to about 750 × 750 px, 10 "
        "at 1024 × 1024). (With torch.optim.LBFGS, used "
        "until this session, the history grew step by step, so a 2-step figure "
        "understated a long run.) Before the cap, a 1024 px run stopped after 10 steps "
        "reached 4640 MiB by step 8 and stayed there. What brought 1024 px under 4 GB, "
        "each measured over 2 steps at 1024 px: the Gram matrix computed from the "
        "channels-last map as a view (no copy kept for the backward pass) 4520 → 4249 "
        "MiB; its backward as one product instead of two plus a sum → 4083 MiB; max "
        "pooling that recomputes its argmax in the backward pass instead of keeping int64 "
        "indices → 3856 MiB; the history cap (10 pairs instead of 20 at this size) → "
        "3659 MiB. At 192 px, 200 steps, 10 pairs ended 0.3% above 20 in J and 5 pairs "
        "2.3% above.",
        "",
        "Keeping freed memory in the heap (section 1) is limited to runs whose step "
        "needs at most 1 GiB by the memory estimate (512 px: 634 MiB in fp32): in one "
        "heap, blocks of many sizes fragment it, and with it the 1024 px peak rose "
        "3703 → 4493 MiB (2048 px: 11167 → 15909), while at 512 px it fell 2221 → "
        "1826 MiB. Fast mode (bf16) keeps no fp32 copy of the maps its Gram matrices are "
        "computed from (they are widened for each product, in the backward pass a "
        "block of rows at a time): its peak at 1024 px went 2813 → 2520 MiB, at 2048 px "
        "7916 → 6880 MiB (2 steps each), with the same iterates and step time.",
        "",
    ]
    ui = res["ui"]
    lines += [
        "## 5. UI responsiveness",
        "",
        "A 10 ms QTimer in a real viewer (Xvfb, Mesa llvmpipe) during a widget run:",
        "",
    ]
    if "error" in ui:
        lines.append(f"failed: {ui['error'][:200]}")
    else:
        lines += [
            f"- {ui['size']} px, {ui['steps']} steps: largest gap {ui['max_gap_ms']} ms "
            f"overall (this includes creating the output layer; first output after "
            f"{ui['seconds_to_first_output']} s); largest gap after the first output "
            f"{ui['max_gap_after_first_output_ms']} ms; 99th percentile {ui['p99_gap_ms']} ms"
            + (
                f"; the widget's warm-up (torch's import, the network, one tiny step) took "
                f"{ui['warm_up_s']} s in the background before Run was pressed."
                if "warm_up_s" in ui
                else "."
            ),
            "",
            *(
                [
                    f"- every run ({len(ui['runs'])}, each in a new viewer): largest gap "
                    "after the first output "
                    + ", ".join(f"{r['max_gap_after_first_output_ms']}" for r in ui["runs"])
                    + " ms; overall "
                    + ", ".join(f"{r['max_gap_ms']}" for r in ui["runs"])
                    + " ms. The figures above and in the targets table are the worst run's.",
                ]
                if "runs" in ui
                else []
            ),
            "",
            "What the plugin does about stalls: after each image it yields, the worker waits "
            "until the window has been repainted with it (an application event filter sees "
            "Qt's UpdateRequest; at most 1 s), so napari redraws on an idle CPU: in six "
            "runs alternating with and without the wait, the largest gap after the first "
            "output was 47–52 ms with it and 60–68 ms without. The output layer is added "
            "without becoming the selected layer (napari would rebuild its layer-controls "
            "panel: `add_image` of a 512 px RGB layer 62–89 ms idle with selection, 46–50 "
            "ms without) and with its first image, and the first step's bookkeeping waits "
            "for the next event-loop turn. The worker thread (and torch's compute threads "
            "it starts) runs at nice 10; the activity-dock bar, whose every change makes "
            "napari repaint the window (napari calls processEvents), moves at most every 2 s "
            "and in event-loop turns of its own; torch, torchvision, the network and the "
            "first kernels are loaded by a background thread when the widget opens, since "
            "loading libtorch holds the interpreter for ~0.3 s at a time.",
            "",
            *_napari_floor_lines(ui.get("napari_floor")),
        ]
    gpu = res.get("gpu")
    if gpu:
        lines += [
            "",
            "## 6. CUDA GPU",
            "",
            f"{gpu['machine']}; {gpu['pair']}, {gpu['size']} px, {gpu['steps']} L-BFGS "
            "steps from noise. J is the final image's, by the fp32 evaluator.",
            "",
            "Measured with this engine (L-BFGS that takes bad steps back, J of the image "
            "clipped to [0, 1], fast mode's conv1_1 in fp32). On CUDA, a run replays each "
            "step as one CUDA graph by default (`cuda_graph=None`); the eager rows turn "
            "that off.",
            "",
            "| mode | time | per step | final J (fp32) |",
            "|---|---|---|---|",
        ]
        for r in gpu["runs"]:
            if "seconds" in r:
                lines.append(
                    f"| {r['mode']} | {r['seconds']:.2f} s | {r['ms_per_step']} ms | "
                    f"{r['J_fp32']:.5g} |"
                )
        lines += [
            "",
            "Peak memory, fp32 with the default CUDA graph, measured in the same process "
            "after the timed runs (the allocator may still hold pools of the compiled "
            "modes). The graph keeps its own memory pool: run 6, eager, gave 1139, 2646 "
            "and 8141 MiB for the same sizes:",
            "",
            "| size | max_memory_allocated | 5 steps |",
            "|---|---|---|",
        ]
        for r in gpu["memory"]:
            lines.append(
                f"| {r['size']} | {r['max_memory_allocated_MiB']} MiB | "
                f"{r['seconds_for_5_steps']} s |"
            )
        p = gpu.get("per_step", {})
        if "pastiche_ms_per_step" in p:
            lines += [
                "",
                f"Per step against pastiche on the same GPU (fp32/TF32): pastiche "
                f"{p['pastiche_ms_per_step']} ms, napari-nst {p['ours_ms_per_step']} ms "
                f"(ratio {p['ratio_pastiche_over_ours']}); ours with the defaults, which "
                "report every step (the image copied to the host each time), as the "
                "widget's default does.",
            ]
        runs = {r["mode"]: r for r in gpu["runs"] if "J_fp32" in r}
        ref = runs.get(GPU_DEFAULT)
        if ref:
            lines += [
                "",
                "Final J against the fp32 run (PyTorch's default on CUDA: TF32 "
                "convolutions); target for fast modes: within 2%:",
                "",
            ]
            for mode, r in runs.items():
                if mode != ref["mode"]:
                    change = r["J_fp32"] / ref["J_fp32"] - 1
                    lines.append(f"- {mode}: {change:+.1%}")
            strict = runs.get("fp32 (strict, no TF32), CUDA graph")
            if strict:
                lines += [
                    "",
                    f"Strict fp32 itself ends {strict['J_fp32'] / ref['J_fp32'] - 1:+.1%} "
                    "away from TF32: rounding sends L-BFGS down another path. Differences "
                    "of this size between two fp32 runs are trajectory noise, which is "
                    "the scale against which the fast modes' 2% is read.",
                ]
        for r in gpu["runs"]:
            if "error" in r:
                lines += ["", f"- {r['mode']}: failed: {r['error'][:160]}"]
        lines += [
            "",
            "Targets: ≤ 5 s fp32/TF32 and ≤ 2 s fast mode for 500 steps.",
            "Seeded CUDA runs use deterministic cuDNN kernels (the same seed gave "
            "different 7th digits without); the timings above were taken with seed 0. "
            "The unseeded run includes cuDNN's autotuning of every shape in its timed "
            "500 steps.",
            "",
            "Eager timings are host-bound and vary between leases of the same machine "
            "type: fp32/TF32 eager took 3.43, 3.01, 4.13 and 3.46 s on four earlier leases "
            "(`gpu_h200_run3a.json`, `gpu_h200_run3.json`, `gpu_h200_run4.json`, "
            "`gpu_h200_run5.json`, with the engine of their day), and 4.63 and 4.18 s on the "
            "two of this report (`gpu_h200_run6.json`, when the graph was still opt-in, "
            "then `gpu_h200_run7.json`); the replayed graph took 1.63 and 1.60 s. "
            "`python benchmarks/gpu_profile.py` (`docs/results/gpu_h200_profile.txt`, "
            "eager, under the profiler): over 20 bf16 steps the GPU was busy 54.4 ms "
            "(2.7 ms a step: matrix products 8.2 ms, convolutions 8.0 ms forward and 7.7 ms "
            "backward, Gram backward 5.6 ms, dtype copies 5.3 ms) while the host spent "
            "341 ms issuing work.",
            "",
            "So the whole step (network, losses, backward and the L-BFGS update) is "
            "recorded once as a CUDA graph after 3 eager steps, per scale, and replayed. "
            "It needs an optimiser that never reads a value back to the host: ours keeps "
            "its history, counters, step length and accept/reject decisions on the device "
            "(torch.optim.LBFGS reads several values back per step). The replayed runs "
            "end at the same reported J as the eager ones, to the last digit, so the "
            "graph changes the speed only. Adam, gradient checkpointing, torch.compile "
            "and region guides run eagerly. All engine tests passed on the H200, "
            "including tests/test_cuda.py, which runs only there "
            "(`docs/results/gpu_h200_pytest.log`).",
        ]
    temporal = ROOT / "docs" / "results" / "temporal.json"
    if temporal.is_file():
        t = json.loads(temporal.read_text())
        lines += [
            "",
            "## Temporal coherence",
            "",
            f"`python benchmarks/temporal.py`: {t['frames']} frames at {t['size']} px; the "
            f"first frame runs {t['steps']} steps from noise, each later frame "
            f"{t.get('frame_steps', t['steps'])} steps from the previous result (as "
            "`stylize_stack` and the widget's All slices do). Flicker = "
            "mean|G_t − G_t−1| / mean|C_t − C_t−1|; style = mean style loss per frame "
            "(frames 2 onwards). The baseline is the first row: previous result as the "
            "start, no flow, no temporal weight.",
            "",
            "| stack | temporal weight | flow | flicker | change | style loss | change |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, data in t["stacks"].items():
            base, *rest = data["rows"]
            for r in [
                base,
                *sorted(rest, key=lambda r: (r.get("flow", False), r["temporal_weight"])),
            ]:
                lines.append(
                    f"| {name} | {r['temporal_weight']:g} | {'yes' if r.get('flow') else 'no'} "
                    f"| {r['metric']:.3f} | {100 * r.get('metric_change', 0):+.0f}% | "
                    f"{r['style_loss']:.4g} | {100 * r.get('style_change', 0):+.1f}% |"
                )
        added = sorted(
            {
                w
                for data in t["stacks"].values()
                for entry in (
                    data.get("added_later", [])
                    if isinstance(data.get("added_later", []), list)
                    else [data["added_later"]]
                )
                for w in entry["weights"]
            }
        )
        if added:
            lines += [
                "",
                "Rows at weight " + ", ".join(f"{w:g}" for w in added) + " were measured by "
                "later runs of the same script (`--add-weights`), against the same baseline.",
            ]
        for name, data in t["stacks"].items():
            ok = [
                r
                for r in data["rows"][1:]
                if r["metric_change"] <= -0.30 and r["style_change"] <= 0.10
            ]
            met = "; ".join(
                f"weight {r['temporal_weight']:g}{' with flow' if r.get('flow') else ''}: "
                f"{100 * r['metric_change']:+.0f}% flicker, {100 * r['style_change']:+.1f}% style"
                for r in sorted(ok, key=lambda r: r["temporal_weight"])
            )
            lines.append("")
            lines.append(
                f"{name}: target met ({met})."
                if ok
                else f"{name}: target not met; no setting tried lowers the flicker by 30% "
                "within 10% more style loss."
            )
        passing = [
            {
                r["temporal_weight"]
                for r in data["rows"][1:]
                if not r.get("flow") and r["metric_change"] <= -0.30 and r["style_change"] <= 0.10
            }
            for data in t["stacks"].values()
        ]
        common = sorted(set.intersection(*passing)) if passing else []
        lines += [
            "",
            (
                "One weight for every stack: "
                + ", ".join(f"{w:g}" for w in common)
                + " meets the target on all of them."
                if common
                else "No single weight tried meets the target on every stack."
            ),
            "",
            "Target: coherence lowers the flicker by ≥ 30% while raising the per-frame "
            "style loss by ≤ 10%. scikit-image's microscopy stacks (cells3d and others) "
            "need a download, which this machine cannot make; the real sequence is the "
            "short movie clip scikit-image ships (`no_time_for_that_tiny.gif`, 25×14 px "
            "frames, upscaled to the run's size), next to a photo panning across the "
            "frames and a synthetic disc moving over a still photo.",
            "",
            "The temporal term is Σ still·(G − G_prev)², where still falls linearly from "
            "1 (content unchanged) to 0 (content changed by 10% of its range). With a hard "
            "2% threshold instead, the panning photo levelled off at −27% flicker "
            "(weights 1e5 and 3e5: −25.5% / +7.4% and −27.3% / +9.2% style) and the "
            "moving disc met the target at 1e4 (−36.5% / +5.9%).",
        ]
    lines += [
        "",
        "## Reproduce",
        "",
        "```bash",
        "python benchmarks/run.py",
        "python benchmarks/temporal.py",
        "python benchmarks/gpu_check.py --out docs/results/gpu.json   # on a CUDA machine",
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
