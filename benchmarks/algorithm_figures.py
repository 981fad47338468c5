"""The measured figures quoted in docs/algorithm.md, rendered from their results files.

    python benchmarks/algorithm_figures.py   # rewrites the marked blocks of docs/algorithm.md

Each block sits between ``<!-- name: rendered by benchmarks/algorithm_figures.py -->``
and ``<!-- /name -->``; the text around it is written by hand. The results come from
``docs/scripts/make_figures.py`` (figures.json) and ``benchmarks/quality_levels.py``
(quality_levels.json); rerunning those and then this keeps the page true.
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


def render(page: str) -> str:
    """``page`` (docs/algorithm.md) with every block rendered afresh."""
    from common import with_rendered_block

    figures = json.loads((RESULTS / "figures.json").read_text())
    levels = json.loads((RESULTS / "quality_levels.json").read_text())
    page = with_rendered_block(page, "figure 2", SCRIPT, figure2_text(figures))
    return with_rendered_block(page, "quality levels", SCRIPT, quality_levels_text(levels))


def main() -> None:
    PAGE.write_text(render(PAGE.read_text()))
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
