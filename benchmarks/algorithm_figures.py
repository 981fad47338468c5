"""The measured figures quoted in docs/algorithm.md, rendered from their results files.

    python benchmarks/algorithm_figures.py   # rewrites the marked blocks of docs/algorithm.md

Each block sits between ``<!-- name: rendered by benchmarks/algorithm_figures.py -->``
and ``<!-- /name -->``; the text around it is written by hand. The results come from
``docs/scripts/make_figures.py`` (figures.json), ``benchmarks/quality_levels.py``
(quality_levels.json), ``benchmarks/picture.py`` (picture.json's hit rate and time to
good) and
settings/layout_weight_0.json, conv5_1_beta_5.json and range_margin_1.json (that hit rate
at the defaults before ``layout_weight`` became 1, before ``conv5_1`` left and before the
range wall moved in, kept from picture.json); rerunning those and then this keeps the
page true.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE.parent / "docs" / "results"
PAGE = HERE.parent / "docs" / "algorithm.md"
SCRIPT = "benchmarks/algorithm_figures.py"
FIGURE2_STYLES = ("shipwreck", "starry_night", "the_scream")
# The results' pair names as the page writes them.
PAIR_NAMES = {
    "tubingen × shipwreck": "Tübingen × Shipwreck",
    "chelsea × immunohistochemistry": "chelsea × IHC",
}


def _verdict(run: dict) -> str:
    """style_ratio / structure / stuck, as the judge prints them."""
    return f"{run['style_ratio']:.2f} / {run['structure']:.2f} / {100 * run['stuck']:.2f}%"


def figure2_text(figures: dict) -> str:
    runs = {r["name"]: r for r in figures["runs"]}
    starts = {"noise": "from noise", "content": "from the photo"}
    parts, verdicts = [], []
    for init, words in starts.items():
        chosen = [runs[f"figure2 {style} {init}"] for style in FIGURE2_STYLES]
        parts.append(f"{words}: " + ", ".join(_verdict(r) for r in chosen))
        verdicts += [r["good"] for r in chosen]
    judged = "all good" if all(verdicts) else f"{sum(verdicts)} of {len(verdicts)} good"
    return f"Judged (style_ratio / structure / stuck), {'; '.join(parts)}: {judged}."


def quality_levels_text(levels: dict) -> str:
    lines = [
        f"Measured {levels['date']} on {levels['machine']}:" if "machine" in levels else "",
        "",
        "| pair | Quality | steps | time | style_ratio | structure | judged good |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in levels["rows"]:
        lines.append(
            f"| {PAIR_NAMES.get(r['pair'], r['pair'])} | {r['quality']} ({r['settle_levels']:g}) "
            f"| {r['steps']} | {r['seconds']:.1f} s | {r['style_ratio']:.3f} "
            f"| {r['structure']:.3f} | {'yes' if r['good'] else 'no'} |"
        )
    return "\n".join(lines)


def earlier_hit_rate(name: str) -> list[dict]:
    """The hit rate's runs at earlier defaults, kept from picture.json in
    results/settings/``name``.json: layout_weight_0 (before ``layout_weight`` became 1),
    conv5_1_beta_5 (before ``conv5_1`` left the style layers) and range_margin_1 (before
    the range wall moved to two grey levels in and ``carry_step_scale`` came on)."""
    return json.loads((RESULTS / "settings" / f"{name}.json").read_text())["rows"]


def verdicts_text(before: list[dict], after: list[dict], labels: tuple[str, str]) -> str:
    """Good runs per part and size at two settings (``labels``: how the table names
    them), the median edge agreement (not our loss), the largest stuck share after, and
    every run whose verdict changed; runs measured at one setting only are left out."""
    from common import median

    key = ("content", "style", "size", "init")
    earlier = {tuple(r[k] for k in key): r for r in before}
    pairs = [(earlier[k], r) for r in after if (k := tuple(r[c] for c in key)) in earlier]
    lines = [
        f"| part | size | runs | good, {labels[0]} | good, {labels[1]} "
        "| median edges, before → after |",
        "|---|---|---|---|---|---|",
    ]
    for part in ("tuning", "held-out", "all"):
        for size in (*sorted({r["size"] for r in after}), "all"):
            chosen = [
                (a, b)
                for a, b in pairs
                if part in (b["part"], "all") and size in (b["size"], "all")
            ]
            if not chosen:  # a part not measured at this size
                continue
            good = [sum(r["good"] for r in side) for side in zip(*chosen)]
            edges = [median([r["edges"] for r in side]) for side in zip(*chosen)]
            lines.append(
                f"| {part} | {size} | {len(chosen)} | {good[0]} ({good[0] / len(chosen):.0%}) "
                f"| {good[1]} ({good[1] / len(chosen):.0%}) | {edges[0]:.2f} → {edges[1]:.2f} |"
            )
    lines += ["", "Every run whose verdict changed (style_ratio / structure, before → after):", ""]
    for a, b in pairs:
        if a["good"] != b["good"]:
            word = "now good" if b["good"] else "no longer good"
            lines.append(
                f"- {b['content']} × {b['style']}, {b['size']} px from {b['init']} ({b['part']}):"
                f" {a['style_ratio']:.2f} / {a['structure']:.2f} → "
                f"{b['style_ratio']:.2f} / {b['structure']:.2f}, {word}"
            )
    largest = max(r["stuck"] for r in after)
    lines += ["", f"The largest stuck share after: {100 * largest:.2f}%."]
    return "\n".join(lines)


def time_to_good_auto_text(rows: list[dict]) -> str:
    """picture.json's time to good: steps="auto" beside the fixed 300 steps, per pair."""
    from picture import STEPS, first_good_ratio, first_good_text, kept_rows_line

    fixed = {(r["pair"], r["precision"]): r for r in rows if r.get("steps", STEPS) != "auto"}
    lines = [
        "| pair | precision | first good, auto | × pastiche's 300 | first good, 300 steps "
        "| whole run, auto | final, auto |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r.get("steps") == "auto"):
        before = fixed.get((r["pair"], r["precision"]))
        held = " (held out)" if r["held_out"] else ""
        kept = " †" if "measured" in r else ""
        lines.append(
            f"| {r['pair']}{held}{kept} | {r['precision']} | {first_good_text(r)} "
            f"| {first_good_ratio(r)} | {first_good_text(before) if before else '—'} "
            f"| {r['steps_run']} steps, {r['run_seconds']:.0f} s "
            f"| {r['final']['style_ratio']:.2f} / {r['final']['structure']:.2f}, "
            f"{'good' if r['final']['good'] else 'not good'} |"
        )
    kept = kept_rows_line([r for r in rows if r.get("steps") == "auto"])
    return "\n".join(lines + (["", kept] if kept else []))


def render(page: str) -> str:
    """``page`` (docs/algorithm.md) with every block rendered afresh."""
    from common import with_rendered_block

    figures = json.loads((RESULTS / "figures.json").read_text())
    levels = json.loads((RESULTS / "quality_levels.json").read_text())
    picture = json.loads((RESULTS / "picture.json").read_text())
    page = with_rendered_block(page, "figure 2", SCRIPT, figure2_text(figures))
    layout = verdicts_text(
        earlier_hit_rate("layout_weight_0"),
        earlier_hit_rate("conv5_1_beta_5"),
        ("layout_weight 0", "layout_weight 1"),
    )
    page = with_rendered_block(page, "light layout", SCRIPT, layout)
    layers = verdicts_text(
        earlier_hit_rate("conv5_1_beta_5"),
        earlier_hit_rate("range_margin_1"),
        ("with conv5_1, β 5", "without, β 7.5"),
    )
    page = with_rendered_block(page, "style layers", SCRIPT, layers)
    wall = verdicts_text(
        earlier_hit_rate("range_margin_1"),
        picture["hit_rate"],
        ("wall 1 level in", "2 levels in, carried γ (defaults)"),
    )
    page = with_rendered_block(page, "range wall", SCRIPT, wall)
    page = with_rendered_block(
        page, "time to good, auto", SCRIPT, time_to_good_auto_text(picture["time_to_good"])
    )
    return with_rendered_block(page, "quality levels", SCRIPT, quality_levels_text(levels))


def main() -> None:
    PAGE.write_text(render(PAGE.read_text()))
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
