"""Pictures at the defaults, judged as pictures, beside pastiche at equal steps.

    python benchmarks/picture.py                 # measure, write JSON, render the report
    python benchmarks/picture.py --render-only   # re-render docs/picture-benchmark.md

Measures (on this machine, one process at a time):

1. *equal steps*: every pair at 256 px, from noise and from the content, our
   defaults (``stylize(content, style, size=256, steps=300)``) against pastiche's
   CLI with 300 steps (``--random-init`` for noise), both judged by
   ``benchmarks/quality.py``'s ``judge``;
2. *every size*: the same pairs and starts at 128 and 512 px, ours only, judged;
3. *time to a good picture*: at 512 px on ``TTG_PAIRS`` from noise, fp32 and bf16,
   with 300 steps and with steps="auto" (the widget's first Run), the wall time until
   a reported image is first judged good (every step of the top stage is judged; the
   judge's own time is not counted), beside pastiche's wall time for its 300 steps on
   the same content at the same size;
4. *second opinion*: ``benchmarks/second_opinion.py``'s measures (not our loss) of
   ours and pastiche's equal-steps results, read from the saved strips;
5. *hit rate*: the whole picture set (``benchmarks/picture_set.py``: tuning and
   held-out pairs) at 128, 256 and 512 px from both starts, judged and given the
   second opinion (``benchmarks/hit_rate.py``), with a contact sheet of the held-out runs.

Results go to docs/results/picture.json; the report is rendered from it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hit_rate  # benchmarks/ is on the path of a script run from it

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "docs" / "results" / "picture.json"
REPORT = ROOT / "docs" / "picture-benchmark.md"
SHEET = ROOT / "docs" / "images" / "picture" / "held_out_sheet.jpg"
STEPS = 300
PRECISIONS = ("fp32", "bf16")
LOWER_EVERY = 10  # time to good: below the top stage, every 10th step is judged
# Time to good: two tuning pairs and one held-out pair (picture_set.py).
TTG_PAIRS = [("tubingen", "shipwreck"), ("tubingen", "starry_night"), ("camera", "starry_night")]
# Time to good: a script's fixed steps and the widget's first Run (stop when settled).
TTG_STEPS = (STEPS, "auto")
# Sections that run no pastiche: where their numbers come from instead.
OWN_SOURCES = {
    "every_size": "ours only",
    "hit_rate": "ours only",
    "second_opinion": "read from the strips above",
}


def pairs():
    """The paper's Figure 2 pairs (from ../shared/data) and one scikit-image pair."""
    import skimage.data
    from skimage import io

    out = []
    if (SHARED / "tubingen.jpg").is_file():
        content = io.imread(SHARED / "tubingen.jpg")
        for name in ("shipwreck", "starry_night", "the_scream"):
            out.append((f"tubingen × {name}", content, io.imread(SHARED / f"{name}.jpg")))
    out.append(
        (
            "chelsea × immunohistochemistry",
            skimage.data.chelsea(),
            skimage.data.immunohistochemistry(),
        )
    )
    return out


def judged(image, content, style) -> dict:
    from quality import as_record, judge

    return as_record(judge(image, content, style))


def pastiche(content, style, size, steps, noise, workdir: Path, every=None):
    """pastiche's CLI on PNG copies; returns (final image, wall seconds, workspace images)."""
    from skimage import io

    c, s, out = workdir / "c.png", workdir / "s.png", workdir / "out.png"
    for image, path in ((content, c), (style, s)):
        pixels = np.asarray(image)
        if pixels.ndim == 2:  # a greyscale photo (camera): pastiche reads RGB
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        io.imsave(path, pixels[..., :3], check_contrast=False)
    cmd = [
        sys.executable,
        "-m",
        "pastiche",
        "--device",
        "cpu",
        "--size",
        str(size),
        "--num-steps",
        str(steps),
        "--seed",
        "0",
        "-c",
        str(c),
        "-s",
        str(s),
        "-o",
        str(out),
    ]
    if noise:
        cmd.append("--random-init")
    if every:
        cmd += ["--workspace", str(workdir / "ws"), "--workspace-step", str(every)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    shots = sorted((workdir / "ws").glob("*.png")) if every else []
    return io.imread(out), seconds, shots


def ours(content, style, size, steps=STEPS, judge_each=False, **params):
    """Our run at the defaults; with ``judge_each``, the first good step's time: every
    step of the top stage is judged, and every ``LOWER_EVERY``th below it."""
    from napari_nst import stylize
    from napari_nst.engine.front.params import StyleParams

    run = StyleParams(size=size, steps=steps, **params)
    top = len(run.stage_sizes(size)) - 1
    first_good, judge_seconds, last = None, 0.0, None
    every = 1 if judge_each else run.step_budget
    for step in stylize(content, style, size=size, steps=steps, every=every, **params):
        last = step
        if not judge_each or first_good is not None:
            continue
        if step.stage == top or step.iteration % LOWER_EVERY == 0:
            t = time.perf_counter()
            verdict = judged(step.image, content, style)
            if verdict["good"]:  # step.elapsed was read before this judging
                first_good = {"step": step.iteration, "seconds": step.elapsed - judge_seconds}
            judge_seconds += time.perf_counter() - t
    return last, last.elapsed - judge_seconds, first_good


def equal_steps(size=256, recorded=None):
    """``recorded``: an earlier run's rows, whose pastiche results are kept, not rerun."""
    rows = []
    for name, content, style in pairs():
        for init in ("noise", "content"):
            last, seconds, _ = ours(content, style, size, init=init)
            earlier = _recorded_row(recorded, name, init)
            if earlier is not None:
                image, p_result = _pastiche_tile(name, init, size, content, style), earlier
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    image, p_seconds, _ = pastiche(
                        content, style, size, STEPS, init == "noise", Path(tmp)
                    )
                p_result = {**judged(image, content, style), "seconds": round(p_seconds, 1)}
            rows.append(
                {
                    "pair": name,
                    "init": init,
                    "size": size,
                    "steps": STEPS,
                    "ours": {**judged(last.image, content, style), "seconds": round(seconds, 1)},
                    "pastiche": p_result,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            save_strip(name, init, size, content, style, last.image, image)
    return rows


def _recorded_row(recorded, name, init):
    for row in (recorded or {}).get("equal_steps", []):
        if (row["pair"], row["init"]) == (name, init):
            return row["pastiche"]
    return None


def _pastiche_tile(name, init, size, content, style):
    """pastiche's image, cut from the strip its recorded run saved (the last tile)."""
    return _strip_tiles(name, init, size, content, style)[1]


def _strip_tiles(name, init, size, content, style):
    """(ours, pastiche), cut from a saved strip: content | style | ours | pastiche."""
    from skimage import io

    strip = io.imread(_strip_path(name, init, size))[..., :3]
    widths = [
        round(np.asarray(im).shape[1] * size / np.asarray(im).shape[0])
        for im in (content, style, content)
    ]
    ours_start = widths[0] + widths[1] + 8
    pastiche_start = sum(widths) + 4 * len(widths)
    return strip[:, ours_start : ours_start + widths[2]], strip[:, pastiche_start:]


def _at_run_size(tile, content, size):
    from skimage.transform import resize

    from napari_nst.engine.front.images import fit_size

    hw = fit_size(np.asarray(content).shape[:2], size)
    return resize(tile, hw, anti_aliasing=True)


def second_opinions(recorded=None):
    """``second_opinion`` of ours and pastiche's results at equal steps, both read from
    the saved strips (the same JPEG for both, scaled back to the run's size), beside the
    judge's rows."""
    from second_opinion import second_opinion

    rows = []
    for name, content, style in pairs():
        for init in ("noise", "content"):
            # Back to the run's own size: the strip scaled each tile to 256 px high.
            ours_image, theirs = (
                _at_run_size(tile, content, 256)
                for tile in _strip_tiles(name, init, 256, content, style)
            )
            rows.append(
                {
                    "pair": name,
                    "init": init,
                    "ours": second_opinion(ours_image, content, style),
                    "pastiche": second_opinion(theirs, content, style),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def every_size(sizes=(128, 512), recorded=None):
    """Ours only, at the other sizes the issue names: every pair, both starts, judged."""
    rows = []
    for name, content, style in pairs():
        for size in sizes:
            for init in ("noise", "content"):
                last, seconds, _ = ours(content, style, size, init=init)
                verdict = {**judged(last.image, content, style), "seconds": round(seconds, 1)}
                rows.append({"pair": name, "init": init, "size": size, "ours": verdict})
                print(json.dumps(rows[-1]), flush=True)
                _save_result(name, init, size, last.image)
    return rows


def _save_result(name, init, size, image):
    from skimage import io

    path = _strip_path(name, init, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    io.imsave(path, (np.clip(image, 0, 1) * 255).round().astype(np.uint8), quality=85)


def time_to_good(sizes=(512,), recorded=None, steps=TTG_STEPS, precisions=PRECISIONS):
    """On ``TTG_PAIRS`` from noise: our first good picture in each of ``precisions``, with
    each of ``steps`` (the recorded rows of the others are kept, each with the record of
    the run that measured it), beside pastiche's 300 steps on the same content at the same
    size (its time per step does not depend on the style, so one pastiche run serves each
    content)."""
    import picture_set

    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    section = results.get("measured", {}).get("time_to_good")
    earlier_rows = [
        r if "measured" in r or section is None else {**r, "measured": section}
        for r in results.get("time_to_good", [])
        if r.get("steps", STEPS) not in steps or r["precision"] not in precisions
    ]
    earlier = {
        (r.get("content", "tubingen"), r["size"]): r["pastiche_300_steps_seconds"]
        for r in (recorded or {}).get("time_to_good", [])
    }
    rows = list(earlier_rows)
    for size in sizes:
        for content_name, style_name in TTG_PAIRS:
            content, style = picture_set.load(content_name), picture_set.load(style_name)
            if (content_name, size) not in earlier:
                with tempfile.TemporaryDirectory() as tmp:
                    _, seconds, _ = pastiche(content, style, size, STEPS, True, Path(tmp))
                earlier[content_name, size] = seconds
            for run_steps in steps:
                for precision in precisions:
                    last, seconds, good = ours(
                        content, style, size, run_steps, judge_each=True, precision=precision
                    )
                    rows.append(
                        {
                            "pair": f"{content_name} × {style_name}",
                            "content": content_name,
                            "held_out": (content_name, style_name) in picture_set.HELD_OUT,
                            "size": size,
                            "steps": run_steps,
                            "steps_run": last.iteration,
                            "precision": precision,
                            "first_good": good,
                            "run_seconds": round(seconds, 1),
                            "final": judged(last.image, content, style),
                            "pastiche_300_steps_seconds": round(earlier[content_name, size], 1),
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    pairs = [f"{c} × {s}" for c, s in TTG_PAIRS]
    return sorted(  # kept and new rows in the report's order
        rows,
        key=lambda r: (
            TTG_STEPS.index(r.get("steps", STEPS)),
            pairs.index(r["pair"]) if r["pair"] in pairs else len(pairs),
            PRECISIONS.index(r["precision"]),
        ),
    )


def save_strip(name, init, size, content, style, mine, theirs):
    """content | style | ours | pastiche, for the report (docs/images/picture/)."""
    from common import tile_row

    _save_result(name, init, size, tile_row((content, style, mine, theirs), size))


def _strip_path(name, init, size) -> Path:
    stem = name.replace(" × ", "_x_").replace(" ", "_")
    return ROOT / "docs" / "images" / "picture" / f"{stem}_{init}_{size}.jpg"


def render(results: dict) -> str:
    from common import template_environment

    eq_rows = "\n".join(
        "| {pair} | {init} | {o[style_ratio]} | {p[style_ratio]} | {o[structure]} | "
        "{p[structure]} | {o_stuck:.2%} | {p_stuck:.2%} | {o[good]} | {p[good]} | "
        "{o[seconds]} | {p[seconds]} | {vs:.2f}× | {dstruct:+.2f} | {met} |".format(
            pair=r["pair"],
            init=r["init"],
            o=r["ours"],
            p=r["pastiche"],
            o_stuck=r["ours"]["stuck"],
            p_stuck=r["pastiche"]["stuck"],
            vs=r["ours"]["style_ratio"] / r["pastiche"]["style_ratio"],
            dstruct=r["ours"]["structure"] - r["pastiche"]["structure"],
            met="yes" if _against_pastiche(r) else "no",
        )
        for r in results.get("equal_steps", [])
    )
    ttg_rows = "\n".join(
        "| {pair}{held}{kept} | {size} | {mode} | {precision} | {good} | "
        "{final[style_ratio]} / {final[structure]} | {run_seconds} | "
        "{pastiche_300_steps_seconds} | {ratio} |".format(
            **r,
            held=" (held out)" if r.get("held_out") else "",
            kept=" †" if "measured" in r else "",
            mode=_steps_mode(r),
            good=first_good_text(r),
            ratio=first_good_ratio(r),
        )
        for r in results.get("time_to_good", [])
    )
    size_rows = "\n".join(
        "| {pair} | {size} | {init} | {o[style_ratio]} | {o[structure]} | {stuck:.2%} | "
        "{o[good]} | {o[seconds]} |".format(**r, o=r["ours"], stuck=r["ours"]["stuck"])
        for r in results.get("every_size", [])
    )
    images = "\n".join(
        f"![{r['pair']}, {r['init']}](images/picture/"
        f"{r['pair'].replace(' × ', '_x_').replace(' ', '_')}_{r['init']}_{r['size']}.jpg)"
        for r in results.get("equal_steps", [])
    )
    template = template_environment(ROOT / "benchmarks" / "templates").get_template(
        "picture-benchmark.md.j2"
    )
    return template.render(
        measured=_measured(results),
        equal_rows=eq_rows,
        ttg_rows=ttg_rows,
        ttg_kept=kept_rows_line(results.get("time_to_good", [])),
        size_rows=size_rows or "| (not measured in this run) |",
        images=images,
        steps=STEPS,
        second=results.get("second_opinion", []),
        hit_rate=results.get("hit_rate", []),
        hit_summary=hit_rate.summary(results.get("hit_rate", [])),
        sheet_tiles=sorted(
            {(r["size"], r["init"]) for r in results.get("hit_rate", [])},
            key=lambda t: (t[0], t[1] != "noise"),
        ),
        sheet=SHEET.relative_to(ROOT / "docs") if SHEET.is_file() else None,
    )


def kept_rows_line(rows) -> str:
    """Where the time-to-good rows marked † were measured: a run before this section's."""
    kept = {json.dumps(r["measured"], sort_keys=True) for r in rows if "measured" in r}
    return "\n".join(
        f"† Kept from the run of {m['date']} on {m['machine']}, with {defaults_words(m)}; "
        "its pastiche column is that run's."
        for m in map(json.loads, sorted(kept))
    )


def first_good_text(row) -> str:
    """A time-to-good row's first good picture, as the reports write it."""
    good = row["first_good"]
    return f"step {good['step']}, {good['seconds']:.1f} s" if good else "never (missed)"


def first_good_ratio(row) -> str:
    """A time-to-good row's first good picture over pastiche's 300 steps."""
    good = row["first_good"]
    return f"{good['seconds'] / row['pastiche_300_steps_seconds']:.3f}×" if good else "—"


def _steps_mode(row) -> str:
    steps = row.get("steps", STEPS)
    if steps == "auto":
        return f"auto (stopped at {row['steps_run']})"
    return str(steps)


def section_measured(results: dict, name: str) -> dict | None:
    """When and where section ``name`` was measured, and where its pastiche results
    came from (``source``); None for a section without that record."""
    m = results.get("measured", {}).get(name)
    if m is None or name not in results:
        return None
    if name in OWN_SOURCES:
        source = OWN_SOURCES[name]
    elif m["pastiche"] == "same run":
        source = "pastiche in the same run"
    else:
        source = (
            f"pastiche's results kept from the run of {m['pastiche']} (`--pastiche-from-record`)"
        )
    return {**m, "source": source, "defaults": defaults_words(m)}


def defaults_words(m: dict) -> str:
    """The painting defaults a section ran with, in words; records from before a setting
    was recorded ran with its earlier default."""
    layer = m.get("content_layer", "conv4_2")  # recorded since conv3_2 became the default
    layout = m.get("layout_weight", 0)  # recorded since the term became the default
    deepest = m.get("style_layers", ["conv5_1"])[-1]  # recorded since conv5_1 left
    beta = m.get("beta", 5.0)
    margin = m.get("range_margin", 1)  # recorded since the wall moved to 2 grey levels
    carry = m.get("carry_step_scale", False)  # recorded since it became the default
    return (
        f"the content on `{layer}`, `layout_weight` {layout:g}, "
        f"style layers up to `{deepest}`, β {beta:g}, the range wall {margin} grey "
        f"level{'s' if margin > 1 else ''} in and `carry_step_scale` {'on' if carry else 'off'}"
    )


def _pastiche_run(recorded: dict | None, name: str) -> str:
    """Where section ``name``'s pastiche results come from: "same run", or the date of the
    run that measured them, when they are kept from the record."""
    if recorded is None:
        return "same run"
    earlier = recorded.get("measured", {}).get(name, {})
    if earlier.get("pastiche", "same run") == "same run":
        return earlier.get("date", "an earlier run")
    return earlier["pastiche"]


def _measured(results: dict) -> str:
    lines = []
    for name in SECTIONS:
        m = section_measured(results, name)
        if m is None:
            continue
        label = name.replace("_", " ")
        if name == "hit_rate" and "hit_rate_runs" in results["measured"]:
            lines += _hit_rate_runs_lines(results["measured"]["hit_rate_runs"], m["source"])
            continue
        lines.append(
            f"- {label}: {m['date']}, {m['machine']}; {m['source']}; defaults with {m['defaults']}"
        )
    return "\n".join(lines)


def _hit_rate_runs_lines(by_run: dict, source: str) -> list[str]:
    """One line per record of a hit rate measured in parts, naming the runs it covers."""
    groups = {}
    for key, m in sorted(by_run.items(), key=lambda kv: (int(kv[0].split()[0]), kv[0])):
        groups.setdefault(json.dumps(m, sort_keys=True), []).append(key.split())
    return [
        f"- hit rate ({_runs_words(runs)}): {m['date']}, {m['machine']}; {source}; "
        f"defaults with {defaults_words(m)}"
        for m, runs in ((json.loads(k), v) for k, v in groups.items())
    ]


def _against_pastiche(row) -> bool:
    """The goal: style_ratio at most 10% above pastiche's, structure at most 0.1 below."""
    o, p = row["ours"], row["pastiche"]
    return o["style_ratio"] <= 1.1 * p["style_ratio"] and o["structure"] >= p["structure"] - 0.1


def hit_rate_section(
    recorded=None, sizes=hit_rate.SIZES, parts=("tuning", "held-out"), starts=hit_rate.STARTS
):
    """Measures ``sizes`` from ``starts``; the recorded rows of other sizes or starts are
    kept (a size or a start at a time)."""
    earlier = json.loads(RESULTS.read_text()).get("hit_rate", []) if RESULTS.is_file() else []
    kept = [r for r in earlier if r["size"] not in sizes or r["init"] not in starts]

    def keep_partial(new_rows):  # a stopped run keeps what it measured
        results = json.loads(RESULTS.read_text())
        results["hit_rate"] = _hit_rate_order(kept + new_rows)
        RESULTS.write_text(json.dumps(results, indent=1))

    rows = _hit_rate_order(kept + hit_rate.measure(sizes, parts, keep_partial, starts))
    hit_rate.contact_sheet(rows, SHEET)
    return rows


def _record_hit_rate_runs(results, earlier, section_args):
    """The hit rate measured at some sizes or starts: each (size, start) keeps the record
    of the run that measured it (``measured["hit_rate_runs"]``), so that the report dates
    each; none while one run's record covers them all."""
    measured = results["measured"]
    by_run = measured.pop("hit_rate_runs", {})
    for size, start in {(r["size"], r["init"]) for r in results["hit_rate"]}:
        key = f"{size} {start}"
        if size in section_args["sizes"] and start in section_args["starts"]:
            by_run[key] = measured["hit_rate"]
        elif key not in by_run and earlier is not None:
            by_run[key] = earlier
    if len({json.dumps(m, sort_keys=True) for m in by_run.values()}) > 1:
        measured["hit_rate_runs"] = by_run


def _runs_words(runs) -> str:
    return ", ".join(f"{size} px from {start}" for size, start in runs)


def _hit_rate_order(rows):
    return sorted(rows, key=lambda r: (r["part"] != "tuning", r["content"], r["style"], r["size"]))


SECTIONS = {
    "equal_steps": equal_steps,
    "second_opinion": second_opinions,
    "every_size": every_size,
    "time_to_good": time_to_good,
    "hit_rate": hit_rate_section,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, help="measure these sections, keep the others"
    )
    parser.add_argument(
        "--pastiche-from-record",
        action="store_true",
        help="keep pastiche's results (numbers, images, times) from docs/results/picture.json "
        "and rerun ours only; the report gives both dates",
    )
    parser.add_argument(
        "--hit-sizes",
        type=int,
        nargs="+",
        default=list(hit_rate.SIZES),
        help="the hit rate's sizes (default: 128 256 512)",
    )
    parser.add_argument(
        "--hit-starts",
        nargs="+",
        default=list(hit_rate.STARTS),
        choices=hit_rate.STARTS,
        help="the hit rate's starts (default: noise content)",
    )
    parser.add_argument(
        "--ttg-steps",
        nargs="+",
        default=[str(s) for s in TTG_STEPS],
        choices=[str(s) for s in TTG_STEPS],
        help="time to good: the steps to measure, keeping the other's rows (default: both; "
        "with one, add --pastiche-from-record so that the kept rows' pastiche is the new's)",
    )
    parser.add_argument(
        "--ttg-precisions",
        nargs="+",
        default=list(PRECISIONS),
        choices=PRECISIONS,
        help="time to good: the precisions to measure, keeping the other's rows with the "
        "record of their run (fast mode needs a CPU with bf16 instructions)",
    )
    parser.add_argument(
        "--hit-parts",
        nargs="+",
        default=["tuning", "held-out"],
        choices=["tuning", "held-out"],
        help="the hit rate's parts of the picture set, in this order",
    )
    args = parser.parse_args()
    if not args.render_only:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from common import machine, picture_defaults

        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        recorded = dict(results) if args.pastiche_from_record else None
        today = time.strftime("%Y-%m-%d")
        results.update(machine=machine(), date=today)
        results.pop("pastiche_date", None)  # each section records its own (below)
        for name, measure in SECTIONS.items():
            if args.only is None or name in args.only:
                section_args = {
                    "hit_rate": {
                        "sizes": tuple(args.hit_sizes),
                        "parts": tuple(args.hit_parts),
                        "starts": tuple(args.hit_starts),
                    },
                    "time_to_good": {
                        "steps": tuple(s if s == "auto" else int(s) for s in args.ttg_steps),
                        "precisions": tuple(args.ttg_precisions),
                    },
                }.get(name, {})
                earlier = results.get("measured", {}).get(name)
                results[name] = measure(recorded=recorded, **section_args)
                results.setdefault("measured", {})[name] = {
                    "date": today,
                    "machine": results["machine"],
                    "pastiche": _pastiche_run(recorded, name),
                    **picture_defaults(),
                }
                if name == "hit_rate":
                    _record_hit_rate_runs(results, earlier, section_args)
                RESULTS.write_text(json.dumps(results, indent=1))
    REPORT.write_text(render(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
