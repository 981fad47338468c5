"""docs/benchmarks.md and its plot, rendered from benchmarks/run.py's results JSON.

The page's words are in templates/benchmarks.md.j2; this module only derives what
the template shows (ratios, which targets are met) from the JSON, so every number on
the page comes from a measurement. What was learned once (profiles, the history of a
figure, causes found or not) lives in docs/performance-notes.md, which the page links.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import template_environment
from picture import defaults_words, kept_rows_line, section_measured
from speed.fast_j import fast_j_gaps
from speed.hardware import conv_flops

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().parent / "templates" / "benchmarks.md.j2"
# The GPU run that the targets table reads as the default mode.
GPU_DEFAULT = "fp32 (TF32), default: CUDA graph"
# Why a target is missed, by the start of its row's name (shown only when it is missed).
WHY_MISSED = {
    "fast mode per step": "the convolutions already run at the measured bf16 conv peak; "
    "the rest of the step is outside them (performance-notes.md, where a CPU step's time "
    "goes)",
    "efficiency": "the step's time outside the convolutions (see below)",
    "fast mode's final J": "L-BFGS trajectory noise; see section 2b's control",
    "the same with the engine's defaults": "see section 2b: a single pair of runs differs "
    "by trajectory noise of the size its fp32 control shows",
    "largest UI stall of the whole run": "napari itself takes longer than 50 ms to add a "
    "layer on this software-GL display (section 5)",
    "largest UI stall after the first output": "napari's own data update and repaint "
    "take about as long on this software-GL display (section 5)",
}
TEMPORAL_TARGET = {"flicker": -0.30, "style": 0.10}


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


def efficiency_of(res, prec: str) -> float:
    """Section 3's efficiency: from the side-by-side measurement where there is one."""
    if prec in res.get("efficiency", {}):
        return res["efficiency"][prec]["efficiency"]
    big = res["per_step"][-1]
    return 2 * conv_flops(*big["hw"]) / big[f"ours_{prec}_s"] / 1e9 / res["peak"][prec]["best"]


def target(name, goal, value, bound, unit, lower_is_better=False, spec=".3g") -> dict:
    """One row of the targets table: measured, met or by how much missed, and why."""
    met = value <= bound if lower_is_better else value >= bound
    if met:
        miss = ""
    elif unit == "%":  # a percentage target: missed by percentage points
        miss = f" (missed by {abs(value - bound):.1f} points)"
    else:
        miss = f" (missed by {abs(value / bound - 1):.0%})"
    why = "" if met else next((w for k, w in WHY_MISSED.items() if name.startswith(k)), "")
    return {
        "name": name,
        "goal": goal,
        "measured": f"{value:{spec}}{unit}",
        "verdict": f"{'yes' if met else 'no'}{miss}{': ' + why if why else ''}",
    }


def cpu_targets(res) -> list[dict]:
    """The CPU rows of the targets table."""
    big, ttq = res["per_step"][-1], res["ttq"]
    at = f"{big['size']} px CPU"
    rows = [
        target(f"fp32 per step vs pastiche, {at}", "≥ 1.2×", big["ratio_fp32"], 1.2, "×"),
        target(f"fast mode per step vs pastiche, {at}", "≥ 2.5×", big["ratio_bf16"], 2.5, "×"),
    ]
    for prec in ("fp32", "bf16"):
        rows.append(
            target(f"efficiency {prec}, CPU", "≥ 85%", 100 * efficiency_of(res, prec), 85, "%")
        )
    for key, what in (("reached", "its image's J"), ("reached_unclipped", "its iterate's J")):
        fp32 = ttq["ours"]["fp32"].get(key)
        if fp32:
            name = f"time to quality vs pastiche, fp32 (pastiche's 300 steps, {what})"
            ratio = fp32["seconds"] / ttq["pastiche_seconds"]
            rows.append(target(name, "≤ 0.3×", ratio, 0.3, "×", lower_is_better=True))
    fp32, bf16 = (ttq["ours"][k]["final_J_evaluated"] for k in ("fp32", "bf16"))
    name = (
        "fast mode's final J above fp32's, by the fp32 evaluator: section 2's set-up "
        f"(raw VGG19, α = {ttq['alpha']:g}, β = {ttq['beta']:g}; {ttq['hw'][1]} px, "
        f"{ttq['steps']} steps)"
    )
    rows.append(target(name, "≤ 2%", 100 * (bf16 / fp32 - 1), 2, "%", lower_is_better=True))
    if "seeds" in res.get("fastj", {}):
        fj, d = res["fastj"], res["fastj"]["defaults"]
        name = (
            f"the same with the engine's defaults of the day "
            f"({'normalised' if d['normalized'] else 'raw'} VGG19, {d['loss_scale']} scale, "
            f"α = {d['alpha']:g}, β = {d['beta']:g}; {fj['size']} px, {fj['steps']} steps), "
            f"mean of {len(fj['seeds'])} seeds (section 2b)"
        )
        gap = 100 * fast_j_gaps(fj)["bf16_mean"]
        rows.append(target(name, "≤ 2%", gap, 2, "%", lower_is_better=True))
    mem = {r["size"]: r for r in res["memory"] if not r["checkpoint"] and "peak_rss_MiB" in r}
    if 1024 in mem:
        rows.append(
            target(
                "peak RSS at 1024 px, CPU fp32",
                "≤ 4 GB (3815 MiB)",
                mem[1024]["peak_rss_MiB"],
                3815,
                " MiB",
                lower_is_better=True,
            )
        )
    return rows + ui_targets(res["ui"]) + [strict_time_to_quality(ttq)]


def ui_targets(ui) -> list[dict]:
    if "max_gap_after_first_output_ms" not in ui:
        return []
    worst = f", worst of {len(ui['runs'])} runs" if "runs" in ui else ""
    floor, note = ui.get("napari_floor"), ""
    if floor and "error" not in floor:
        add = floor["add_unselected"]
        note = f" (napari alone, no plugin: {min(add):.0f}–{max(add):.0f} ms to add such a layer)"
    return [
        target(
            f"largest UI stall after the first output, {ui['size']} px{worst}",
            "≤ 50 ms",
            ui["max_gap_after_first_output_ms"],
            50,
            " ms",
            lower_is_better=True,
        ),
        target(
            f"largest UI stall of the whole run, with the output layer's creation{worst}{note}",
            "≤ 50 ms",
            max(r["max_gap_ms"] for r in ui.get("runs", [ui])),
            50,
            " ms",
            lower_is_better=True,
        ),
    ]


def strict_time_to_quality(ttq) -> dict:
    """The stricter time-to-quality row: pastiche's own J of its unclipped iterate."""
    fp32 = ttq["ours"]["fp32"]
    name = "time to quality, fp32, against pastiche's own J of its unclipped iterate (stricter)"
    if fp32.get("reached_unclipped"):
        ratio = fp32["reached_unclipped"]["seconds"] / ttq["pastiche_seconds"]
        return target(name, "≤ 0.3×", ratio, 0.3, "×", lower_is_better=True)
    above = fp32["final_J_evaluated"] / ttq["target_J_unclipped"] - 1
    return {
        "name": name,
        "goal": "≤ 0.3×",
        "measured": f"not reached in {ttq['steps']} steps: J {above:+.1%} above it then",
        "verdict": "no: that J scores pixels outside [0, 1] that pastiche's own output clips "
        "away; napari-nst minimises J of the image it outputs (section 2)",
    }


def gpu_targets(gpu) -> list[dict]:
    if not gpu:
        return []
    rows = []
    for r in gpu["runs"]:
        if r.get("mode") == GPU_DEFAULT and "seconds" in r:
            name = "500 steps at 512 px, lent GPU, fp32/TF32"
            rows.append(target(name, "≤ 5 s", r["seconds"], 5, " s", True, ".2f"))
    fast = [r for r in gpu["runs"] if "bf16" in r.get("mode", "") and "seconds" in r]
    if fast:
        best = min(fast, key=lambda r: r["seconds"])
        name = "500 steps at 512 px, lent GPU, fast mode"
        row = target(name, "≤ 2 s", best["seconds"], 2, " s", True, ".2f")
        row["measured"] += f" ({best['mode']})"
        rows.append(row)
    return rows


def gpu_j_changes(gpu) -> tuple[dict, float | None]:
    """Each GPU mode's final J against the default mode's, and strict fp32's alone."""
    runs = {r["mode"]: r for r in (gpu or {}).get("runs", []) if "J_fp32" in r}
    ref = runs.get(GPU_DEFAULT)
    if not ref:
        return {}, None
    changes = {m: r["J_fp32"] / ref["J_fp32"] - 1 for m, r in runs.items() if m != GPU_DEFAULT}
    return changes, changes.get("fp32 (strict, no TF32), CUDA graph")


def temporal_summary(t) -> dict:
    """temporal.json's rows in table order, the later-added weights and the verdicts."""

    def passes(r):
        return (
            r["metric_change"] <= TEMPORAL_TARGET["flicker"]
            and r["style_change"] <= TEMPORAL_TARGET["style"]
        )

    rows, verdicts, passing, added = [], [], [], set()
    for name, data in t["stacks"].items():
        base, *rest = data["rows"]
        ordered = sorted(rest, key=lambda r: (r.get("flow", False), r["temporal_weight"]))
        rows += [(name, r) for r in [base, *ordered]]
        later = data.get("added_later", [])
        for entry in later if isinstance(later, list) else [later]:
            added.update(entry["weights"])
        ok = sorted((r for r in rest if passes(r)), key=lambda r: r["temporal_weight"])
        met = "; ".join(
            f"weight {r['temporal_weight']:g}{' with flow' if r.get('flow') else ''}: "
            f"{100 * r['metric_change']:+.0f}% flicker, {100 * r['style_change']:+.1f}% style"
            for r in ok
        )
        verdicts.append((name, met))
        passing.append({r["temporal_weight"] for r in rest if not r.get("flow") and passes(r)})
    common = sorted(set.intersection(*passing)) if passing else []
    return {
        "temporal_rows": rows,
        "temporal_added": [f"{w:g}" for w in sorted(added)],
        "temporal_verdicts": verdicts,
        "temporal_common": [f"{w:g}" for w in common],
    }


def fast_j_table(fj) -> dict | None:
    if not fj or "seeds" not in fj:
        return None
    gaps = fast_j_gaps(fj)
    rows = [
        (seed, r, b, n)
        for (seed, r), b, n in zip(fj["seeds"].items(), gaps["bf16"], gaps["nudged"])
    ]
    return {**gaps, "rows": rows}


def picture_headline() -> dict | None:
    """The headline figure, the time to a first good picture, from picture.py's JSON:
    its rows and when and where they were measured."""
    path = ROOT / "docs" / "results" / "picture.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    measured = section_measured(results, "time_to_good") or {
        "date": results.get("date"),
        "machine": results.get("machine"),
        "source": "pastiche's times not recorded with the section",
        "defaults": defaults_words({}),
    }
    rows = results["time_to_good"]
    return {"rows": rows, **measured, "kept": kept_rows_line(rows)}


def span(values) -> str:
    return f"{min(values):.0f}–{max(values):.0f} ms"


def report(res) -> str:
    """docs/benchmarks.md for ``res`` (the results JSON, with ``gpu`` loaded)."""
    temporal_path = ROOT / "docs" / "results" / "temporal.json"
    temporal = json.loads(temporal_path.read_text()) if temporal_path.is_file() else None
    changes, strict = gpu_j_changes(res.get("gpu"))
    env = template_environment(TEMPLATE.parent)
    env.globals.update(g=format, span=span, gflops=lambda vs: [f"{v:.0f} GFLOP/s" for v in vs])
    return env.get_template(TEMPLATE.name).render(
        res=res,
        gpu=res.get("gpu"),
        gpu_file=res.get("gpu_results"),
        headline=picture_headline(),
        targets=cpu_targets(res) + gpu_targets(res.get("gpu")),
        fast_j=fast_j_table(res.get("fastj")),
        gpu_changes=changes,
        gpu_strict=strict,
        temporal=temporal,
        temporal_defaults=defaults_words(temporal) if temporal else None,
        **(temporal_summary(temporal) if temporal else {}),
    )
