"""A study for issue 26: time to the first good picture against the first stage's share.

    python benchmarks/stage_budget.py        # write docs/results/settings/stage_budget.json
    python benchmarks/stage_budget.py --name stage_budget_layout --set layout_weight=1

The defaults give the pyramid's first stage (128 px, where noise becomes a picture) two
thirds of the 300 steps and the later stages a sixth each: at 512 px, 200, 50 and 50
steps. The first good picture there comes about ten steps into the 512 px stage, so
the time to good is mostly the time spent below it. Each run here is the defaults at 512
px from noise, fp32, with the steps spread by one of ``SCHEDULES``: the first stage a
share of the budget, each middle stage another, the top stage the rest; judged every 5
steps, and also after ``TOP_STEPS`` steps of its top stage: where a run with a
smaller budget would end. The spread is not a parameter: ``StyleParams.stage_steps``
is replaced for the run, so this measures a candidate default; the shipped one is
unchanged.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE.parent / "docs" / "results" / "settings"
# (first stage's share, each middle stage's share); the top stage takes the rest.
SCHEDULES = ((2 / 3, 1 / 6), (1 / 3, 1 / 12), (1 / 6, 1 / 20))
# Also judged: the image after this many top-stage steps (the defaults' top stage has 50).
TOP_STEPS = 50
EVERY = 5
# Two tuning pairs and one held-out pair (picture_set.py).
PAIRS = [("tubingen", "shipwreck"), ("tubingen", "starry_night"), ("camera", "starry_night")]
SIZE = 512


@contextlib.contextmanager
def spread(first, middle):
    """``StyleParams.stage_steps`` giving the first stage ``first`` of the budget, each
    middle stage ``middle`` and the top stage the rest, for the ``with`` block."""
    from napari_nst.engine.front.params import StyleParams

    def stage_steps(self, stages):
        budget = self.step_budget
        if stages == 1:
            return (budget,)
        lower = [max(1, round(first * budget))]
        lower += [max(1, round(middle * budget))] * (stages - 2)
        return (*lower, max(1, budget - sum(lower)))

    shipped = StyleParams.stage_steps
    StyleParams.stage_steps = stage_steps
    try:
        yield
    finally:
        StyleParams.stage_steps = shipped


def time_to_good_rows(settings: dict) -> list[dict]:
    import picture_set
    from napari_nst import stylize
    from napari_nst.engine.front.params import StyleParams
    from picture import judged

    rows = []
    for content_name, style_name in PAIRS:
        content, style = picture_set.load(content_name), picture_set.load(style_name)
        for first, middle in SCHEDULES:
            with spread(first, middle):
                stages = StyleParams(size=SIZE).stage_steps(3)
                # The image after TOP_STEPS of the top stage: a run with that budget ends there.
                short = sum(stages[:-1]) + TOP_STEPS
                good, judging, at_short, last = None, 0.0, None, None
                for step in stylize(content, style, size=SIZE, every=EVERY, **settings):
                    last = step
                    if good is None:
                        t = time.perf_counter()
                        if judged(step.image, content, style)["good"]:
                            good = {"step": step.iteration, "seconds": step.elapsed - judging}
                        judging += time.perf_counter() - t
                    if step.iteration == short:
                        at_short = judged(step.image, content, style)
            rows.append(
                {
                    "pair": f"{content_name} × {style_name}",
                    "held_out": (content_name, style_name) in picture_set.HELD_OUT,
                    "schedule": [round(first, 3), round(middle, 3)],
                    "stage_steps": list(stages),
                    "first_good": good,
                    "run_seconds": round(last.elapsed - judging, 1),
                    "final": judged(last.image, content, style),
                    f"after_{short}_steps": at_short,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    import argparse

    from common import machine, settings_given

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="stage_budget", help="the results file's name")
    parser.add_argument("--set", nargs="*", default=[], help="parameter=JSON value")
    args = parser.parse_args()
    settings = settings_given(args.set)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "size": SIZE}
    record["settings"] = settings
    record["rows"] = time_to_good_rows(settings)
    out = RESULTS / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
