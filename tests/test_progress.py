"""A run's plan, its clock and its estimate of the time left (engine/front/progress.py)."""

import pytest

from napari_nst.engine.front.params import StyleParams
from napari_nst.engine.front.progress import Progress, RunPlan, Stopwatch, duration_text
from napari_nst.engine.front.step import ending


def test_the_stopwatch_stops_while_paused():
    now = [10.0]
    watch = Stopwatch(clock=lambda: now[0])
    watch.start()
    now[0] = 13.0
    watch.pause()
    now[0] = 100.0  # a long pause
    assert watch.paused and watch.seconds == 3.0
    watch.resume()
    now[0] = 101.5
    assert not watch.paused and watch.seconds == 4.5


def test_the_plan_counts_every_stage_and_later_frames():
    params = StyleParams(steps=300, frame_steps=40)
    plan = RunPlan.of(params, 512, planes=3)
    assert [s.size for s in plan.first] == [128, 256, 512]
    assert [s.steps for s in plan.first] == list(params.stage_steps(3))
    assert [s.cost for s in plan.first] == [1 / 16, 1 / 4, 1.0]
    # Later frames start from the previous result: the final size only, frame_steps.
    assert [(s.size, s.steps) for s in plan.later] == [(512, 40)]
    assert plan.steps == 300 + 2 * 40 and not plan.up_to
    assert RunPlan.of(StyleParams(steps="auto"), 512).up_to


def test_the_estimate_scales_a_stage_rate_by_the_pixels_left():
    plan = RunPlan.of(StyleParams(steps=30), 256)  # stages 128 px (20 steps), 256 px (10)
    progress = Progress(plan)
    assert progress.seconds_left() is None  # no rate before two reports of a stage
    progress.report(0, 0, 1, seconds=5.0)  # the first step also built the targets
    assert progress.seconds_left() is None
    progress.report(0, 0, 11, seconds=6.0)  # 10 steps of 1/4 the final cost in 1 s
    assert progress.steps == 11
    # Left: 9 steps at 128 px (cost 1/4) and 10 at 256 px (cost 1), at 0.4 s per unit.
    assert progress.seconds_left() == pytest.approx(0.4 * (9 / 4 + 10))
    progress.report(0, 0, 20, seconds=6.9)
    progress.report(0, 1, 21, seconds=8.0)  # a new stage keeps the last rate until its own
    assert progress.seconds_left() == pytest.approx(0.4 * 9)
    progress.report(0, 1, 25, seconds=10.0)  # 4 steps at cost 1 in 2 s
    assert progress.seconds_left() == pytest.approx(0.5 * 5)


def test_a_stack_counts_its_later_planes():
    plan = RunPlan.of(StyleParams(steps=10, scales=None), 64, planes=3)
    progress = Progress(plan)
    progress.report(0, 0, 1, seconds=1.0)
    progress.report(0, 0, 10, seconds=10.0)  # 1 s a step
    assert progress.seconds_left() == pytest.approx(20.0)  # two more planes of 10
    progress.report(1, 0, 4, seconds=14.0)  # the plane's own count restarts
    assert progress.steps == 14 and progress.seconds_left() == pytest.approx(16.0)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.2, "1 s"), (42.4, "42 s"), (150, "2 min"), (6000, "1 h 40 min")]
)
def test_durations_read_as_a_person_says_them(seconds, text):
    assert duration_text(seconds) == text


def test_each_stop_reason_has_its_sentence():
    assert ending("steps", 300) == "All 300 steps done."
    assert ending("settled", 212) == "The image settled at step 212."
    assert ending("stopped", 5) == "Stopped at step 5."
    assert ending("", 5) == ""


def test_a_batch_tally_counts_results_and_estimates_from_running_steps():
    from napari_nst.engine.front.progress import BatchTally
    from napari_nst.engine.jobs.batch import BatchResult

    now, heard = [0.0], []
    tally = BatchTally(3, report=heard.append, clock=lambda: now[0])
    tally.add(BatchResult("old", "skipped"))
    assert tally.seconds_left() is None  # nothing computed yet
    now[0] = 30.0
    tally.step("a", 50, 100, up_to=False)  # half of one of the two jobs to do, in 30 s
    assert tally.seconds_left() == pytest.approx(90.0)
    assert heard[-1] == "1 of 3 images done · painting a (step 50 of 100) · about 2 min left"
    tally.add(BatchResult("a", "failed", reason="unreadable"))
    tally.step("b", 10, 600, up_to=True)
    assert heard[-1].startswith("2 of 3 images done · 1 failed · painting b (step 10 of up to")
    tally.add(BatchResult("b", "done"))
    assert heard[-1] == "3 of 3 images done · 1 failed" and not tally.running
    assert [f.name for f in tally.failures] == ["a"]
    assert tally.summary("out", cancelled=True) == (
        "Cancelled: 1 written, 1 already there, 1 failed, into out."
    )


def test_with_auto_stop_the_time_left_waits_for_the_last_stage():
    plan = RunPlan.of(StyleParams(steps="auto"), 256)  # 128 px then 256 px, caps 75, 200
    progress = Progress(plan)
    progress.report(0, 0, 1, seconds=1.0)
    progress.report(0, 0, 11, seconds=2.0)
    assert progress.seconds_left() is None  # a rate, but not yet the last stage
    progress.report(0, 1, 12, seconds=3.0)
    progress.report(0, 1, 22, seconds=5.0)  # 10 steps at the final size in 2 s
    assert progress.seconds_left() == pytest.approx(0.2 * (plan.first[1].steps - 11))
