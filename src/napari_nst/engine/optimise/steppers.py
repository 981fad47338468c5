"""One stepper per optimiser: ``step()`` runs one evaluation and update, ``current()``
is the image the step reports, and ``reported`` its losses.

``evaluate(x)`` returns (J to minimise, vector of reported losses). Nothing here
reads a value back to the host, so an L-BFGS step can be captured as a CUDA graph.
"""

from __future__ import annotations

from ._torch import torch
from .lbfgs import CompactLBFGS, lbfgs_history


class LBFGSStepper:
    """Our compact L-BFGS: a step that does not lower J enough is taken back, and
    the step reports the last accepted point."""

    def __init__(self, x, evaluate, lr: float, width: int, scale=None):
        self.x, self.evaluate = x, evaluate
        self.opt = CompactLBFGS(x, lr=lr, history=lbfgs_history(x.numel()), scale=scale)
        self.reported = torch.full((width,), torch.nan, dtype=torch.float64, device=x.device)

    def step(self) -> None:
        self.x.grad = None
        loss, report = self.evaluate(self.x)
        loss.backward()
        self.opt.step(self.x.grad, loss)
        # Until a point is accepted, the start's own losses.
        take = self.opt.accepted | (self.opt.k == 0)
        self.reported.copy_(torch.where(take, report, self.reported))

    def current(self):
        return self.opt.accepted_point()

    def step_scale(self):
        """The inverse-Hessian scale γ learnt so far (see ``carried_scale``)."""
        return self.opt.gamma


class AdamStepper:
    """Adam, kept inside [0, 1] by clamping after each update."""

    def __init__(self, x, evaluate, lr: float, width: int, scale=None):
        self.x, self.evaluate = x, evaluate  # Adam scales its own steps: no scale taken
        self.opt = torch.optim.Adam([x], lr=lr)
        self.reported = torch.full((width,), torch.nan, dtype=torch.float64, device=x.device)

    def step(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss, report = self.evaluate(self.x)
        loss.backward()
        self.reported.copy_(report)
        self.opt.step()
        with torch.no_grad():
            self.x.clamp_(0, 1)

    def current(self):
        return self.x

    def step_scale(self):
        return None


STEPPERS = {"lbfgs": LBFGSStepper, "adam": AdamStepper}


def carried_scale(carried, values_now: int, per_element: bool):
    """The γ a later pyramid stage starts with: None, or from ``carried``, the stage
    before's (γ, values) (carry_step_scale).

    Per-element losses are means over the image, so their curvature per value falls, and
    γ grows, with the image's size; the paper's sums keep it.
    """
    if carried is None:
        return None
    gamma, values_before = carried
    return gamma * (values_now / values_before) if per_element else gamma


def on_side_stream(step) -> None:
    """An eager step before capture, on a side stream as torch's CUDA-graph docs ask."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)


def captured(step):
    """Record ``step`` (forward, losses, backward, update) as one CUDA graph; return its replay.

    Every tensor the step reads or writes keeps its address between replays, which
    is what makes the replay valid.
    """
    graph = torch.cuda.CUDAGraph()
    # Only this thread's CUDA work joins the graph: in napari the run is a worker thread.
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        step()
    return graph.replay
