"""How far a run has come and how long it has left: its plan, its clock, its estimate.

Plain Python (no torch): the viewer's status and the CLI read the same figures.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from .params import StyleParams

# The rate of the last this-many reports of a stage gives the estimate (the first
# report of a stage also paid for its targets, so it is never among them).
RATE_WINDOW = 10


class Stopwatch:
    """Seconds of running time: the clock stops while the run is paused."""

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self._since: float | None = None
        self._banked = 0.0

    def start(self) -> None:
        if self._since is None:
            self._since = self._clock()

    resume = start

    def pause(self) -> None:
        if self._since is not None:
            self._banked += self._clock() - self._since
            self._since = None

    @property
    def paused(self) -> bool:
        return self._since is None

    @property
    def seconds(self) -> float:
        running = 0.0 if self._since is None else self._clock() - self._since
        return self._banked + running


@dataclass(frozen=True)
class Stage:
    size: int  # longer side, px
    steps: int  # its budget
    cost: float  # a step's cost, relative to a step at the final size (∝ pixels)


def stages_of(params: StyleParams, longer_side: int, start_image: bool) -> tuple[Stage, ...]:
    """The stages a run of ``params`` goes through for an output of ``longer_side`` px."""
    sizes = params.stage_sizes(longer_side, start_image)
    budgets = params.stage_steps(len(sizes))
    return tuple(Stage(s, b, (s / sizes[-1]) ** 2) for s, b in zip(sizes, budgets))


@dataclass(frozen=True)
class RunPlan:
    """The stages of a run's first plane and of each later plane of a stack."""

    first: tuple[Stage, ...]
    later: tuple[Stage, ...]
    planes: int
    up_to: bool  # steps="auto": the budgets are caps, a stage may end sooner

    @classmethod
    def of(cls, params: StyleParams, longer_side: int, planes: int = 1, start_image=False):
        # A later plane starts from the previous result and runs frame_steps (stack.py).
        frame = params.replace(steps=params.frame_steps or params.steps)
        return cls(
            stages_of(params, longer_side, start_image),
            stages_of(frame, longer_side, start_image=True),
            planes,
            params.stop_when_settled,
        )

    def stages(self, plane: int) -> tuple[Stage, ...]:
        return self.first if plane == 0 else self.later

    @property
    def steps(self) -> int:
        """Steps planned over every plane (with auto stop: at most)."""
        later = sum(s.steps for s in self.later)
        return sum(s.steps for s in self.first) + (self.planes - 1) * later


class Progress:
    """Steps done, and the seconds left at the rate of the current stage's recent steps.

    Each report gives a plane's stage and its step count (``Step.iteration``, which
    restarts at each plane); the work left is counted in steps at the final size.
    """

    def __init__(self, plan: RunPlan):
        self.plan = plan
        self.steps = 0  # steps done, over every plane
        self.plane = self.stage = 0
        self._iteration = 0  # the plane's step count at the last report
        self._in_stage = 0  # steps done in the current stage
        self._recent: deque[tuple[float, float]] = deque(maxlen=RATE_WINDOW + 1)
        self._units = 0.0  # work done, in final-size steps
        self._rate: float | None = None  # seconds per final-size step

    def report(self, plane: int, stage: int, iteration: int, seconds: float) -> None:
        """A Step of ``plane`` at ``stage`` after ``iteration`` steps, at ``seconds`` of
        running time."""
        if plane != self.plane:
            self.plane, self._iteration = plane, 0
            self.stage, self._in_stage = -1, 0
        new = max(0, iteration - self._iteration)
        self._iteration = iteration
        self.steps += new
        if stage != self.stage:
            self.stage, self._in_stage = stage, 0
            self._recent.clear()  # this stage's own rate, from its next report on
        self._in_stage += new
        self._units += new * self.current_stage.cost
        self._recent.append((seconds, self._units))
        if len(self._recent) >= 2:
            (t0, u0), (t1, u1) = self._recent[0], self._recent[-1]
            if u1 > u0:
                self._rate = (t1 - t0) / (u1 - u0)

    @property
    def current_stage(self) -> Stage:
        stages = self.plan.stages(self.plane)
        return stages[min(self.stage, len(stages) - 1)]

    def units_left(self) -> float:
        stages = self.plan.stages(self.plane)
        here = self.current_stage
        left = max(0, here.steps - self._in_stage) * here.cost
        left += sum(s.steps * s.cost for s in stages[self.stage + 1 :])
        per_plane = sum(s.steps * s.cost for s in self.plan.later)
        return left + (self.plan.planes - self.plane - 1) * per_plane

    def seconds_left(self) -> float | None:
        """None until two reports of one stage give a rate; with auto stop, also before a
        plane's last stage (a stage that settles early makes the cap a poor guide, and a
        small stage's rate, scaled by pixels, overstates a large one's)."""
        if self._rate is None or (self.plan.up_to and not self.in_last_stage):
            return None
        return self._rate * self.units_left()

    @property
    def in_last_stage(self) -> bool:
        return self.stage >= len(self.plan.stages(self.plane)) - 1


def duration_text(seconds: float) -> str:
    """``seconds`` as a person would say it: "40 s", "3 min", "1 h 20 min"."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class BatchTally:
    """A batch's jobs as they end, the steps of those still running, and its sentences.

    One place for what the CLI and Apply to folder say about a batch: ``stylize_batch``
    fills it in, and ``report(sentence)``, if given, hears each change from the start
    (from the thread that made it).
    """

    def __init__(self, jobs: int, report=None, clock=time.perf_counter):
        self.jobs = jobs
        self.report = report
        self.results: list = []  # BatchResults, in the order they ended
        self.running: dict[str, tuple[int, int, bool]] = {}  # job: (step, of, up_to)
        self._clock = clock
        self._start = clock()

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("done", "skipped", "failed"), 0)
        for result in self.results:
            counts[result.status] += 1
        return counts

    @property
    def failures(self) -> list:
        return [result for result in self.results if result.status == "failed"]

    @property
    def finished(self) -> int:
        return len(self.results)

    def add(self, result) -> None:
        """A job's ``BatchResult``."""
        self.results.append(result)
        self.running.pop(result.name, None)
        self.say(self.news())

    def step(self, job: str, step: int, of: int, up_to: bool) -> None:
        """A running job's step count, as its worker reported it."""
        self.running[job] = (step, of, up_to)
        self.say(self.news())

    def say(self, sentence: str) -> None:
        if self.report is not None:
            self.report(sentence)

    def seconds_left(self) -> float | None:
        """From the share of the work done so far (None before any)."""
        computed = self.counts["done"] + self.counts["failed"]
        partly = sum(step / of for step, of, _ in self.running.values() if of)
        todo = self.jobs - self.counts["skipped"]
        share = (computed + partly) / todo if todo else 1.0
        if share <= 0:
            return None
        return (self._clock() - self._start) * (1 - share) / share

    def news(self) -> str:
        """Where the batch is: e.g. "1 of 3 images done · painting one (step 40 of 300) ·
        about 2 min left"."""
        parts = [f"{self.finished} of {self.jobs} images done"]
        if self.counts["failed"]:
            parts.append(f"{self.counts['failed']} failed")
        if self.running:
            jobs = ", ".join(
                f"{name} (step {step} of {'up to ' if up_to else ''}{of})"
                for name, (step, of, up_to) in sorted(self.running.items())
            )
            parts.append(f"painting {jobs}")
        left = self.seconds_left()
        if left is not None and self.finished < self.jobs:
            parts.append(f"about {duration_text(left)} left")
        return " · ".join(parts)

    def summary(self, output_dir, cancelled: bool = False) -> str:
        c = self.counts
        text = (
            f"{c['done']} written, {c['skipped']} already there, {c['failed']} failed, "
            f"into {output_dir}."
        )
        return ("Cancelled: " + text) if cancelled else text
