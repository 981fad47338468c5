"""L-BFGS with backtracking, computed in compact form and without host syncs.

Each step is one loss and gradient. While every trial step is accepted, the
iterates are those of ``torch.optim.LBFGS(max_iter=1, line_search_fn=None)``
called once per step, which is how a style transfer run is usually driven. What
differs is how the direction −H·g is formed, and that a step which does not
lower J enough is taken back (see ``CompactLBFGS``):

- torch runs the two-loop recursion, 4·m small kernels and m Python iterations
  per step, and reads several tolerances back to the host (a device sync each);
- here the history lives in one (2m × n) matrix and H·g uses the compact
  representation of Byrd, Nocedal & Schnabel (1994, eq. 3.13 for the inverse):

      H·g = γ·g + [S  γY] · [[R⁻ᵀ(D + γYᵀY)R⁻¹, −R⁻ᵀ], [−R⁻¹, 0]] · [Sᵀg; γYᵀg]

  with R the upper triangle of SᵀY in chronological order and D its diagonal:
  two reads of the history per step (as the two-loop recursion), a handful of
  kernels, and an m × m solve done in float64. Nothing is read back to the host,
  so a GPU is never left waiting for Python: every decision is a ``torch.where``.
"""

from __future__ import annotations

from ._torch import torch

# L-BFGS pairs kept (torch's default is 100; fewer ended higher: docs/performance-notes.md).
# Each pair holds two images, so large images keep fewer, within the bytes.
LBFGS_HISTORY = 20
LBFGS_HISTORY_BYTES = 256 * 2**20
# Armijo's constant: a trial must lower J by this fraction of the linear prediction.
ARMIJO = 1e-4


def lbfgs_history(values: int) -> int:
    """Pairs kept for an image of ``values`` floats (fp32), within the memory cap."""
    return max(5, min(LBFGS_HISTORY, LBFGS_HISTORY_BYTES // (2 * 4 * values)))


class CompactLBFGS:
    """Minimise by L-BFGS over one tensor ``x`` (updated in place), one evaluation a step.

    Every step runs the same kernels on tensors that live as long as the
    optimiser (counters included), with no Python branch on data: a step can be
    captured once as a CUDA graph and replayed.

    Each step first judges the point it was evaluated at, a trial step from the
    last accepted point (Armijo's sufficient decrease, or a finite loss at the
    first step). An accepted point adds its pair to the history and the next
    trial starts from it. A rejected one is replaced, on the same line, by a
    shorter trial (quadratic interpolation, between 1/10 and 1/2 of the step):
    backtracking with one evaluation per trial. Fixed-step L-BFGS (torch's
    without a line search) never looks back, and from noise it sometimes took
    steps that raised J a millionfold or made it NaN.
    """

    def __init__(self, x, lr: float = 1.0, history: int = 20, scale=None):
        """``scale``: a known inverse-Hessian scale γ (a 0-d tensor), which makes the first
        step −lr·γ·g instead of torch's tiny min(1, 1/‖g‖₁)·lr·g."""
        n, m = x.numel(), history
        self.x, self.lr, self.m = x, lr, m
        self.history = x.new_zeros(2 * m, n)  # rows [0, m): s_i, rows [m, 2m): y_i
        small = {"dtype": torch.float64, "device": x.device}
        self.s_dot_y = torch.zeros(m, m, **small)  # s_i · y_j
        self.y_dot_y = torch.zeros(m, m, **small)
        self.age = torch.full((m,), -1.0, **small)  # step of each pair; −1: empty/skipped
        self.gamma = torch.ones((), **small)  # initial inverse-Hessian scale, sᵀy / yᵀy
        if scale is not None:
            self.gamma.copy_(scale)
        self.scale_known = torch.tensor(scale is not None, device=x.device)
        self.k = torch.zeros((), **small)  # accepted steps
        self.slot = torch.zeros(1, dtype=torch.long, device=x.device)  # the next pair's slot
        self.prev_grad = x.new_zeros(n)  # the gradient at the last accepted point
        self.prev_step = x.new_zeros(n)  # x minus the last accepted point
        self.accepted_loss = torch.full((), float("nan"), **small)
        self.slope = torch.zeros((), **small)  # prev_gradᵀ·prev_step, < 0
        self.accepted = torch.zeros((), dtype=torch.bool, device=x.device)

    def accepted_point(self):
        """The last point whose loss was accepted (``x`` is the next trial)."""
        return self.x - self.prev_step.view_as(self.x)

    @torch.no_grad()
    def step(self, grad, loss) -> None:
        """Judge the current ``x`` by its ``loss`` and ``grad`` (which may be overwritten),
        then move to the next trial.

        Image-sized temporaries are written in place: at 4096 px each is 192 MiB, and
        the step's plain expressions held eight at once.
        """
        g = grad.reshape(-1).to(self.history.dtype)
        loss = loss.detach().double()
        first = self.k == 0
        finite = torch.isfinite(loss) & torch.isfinite(g.sum())
        decrease = loss <= self.accepted_loss + ARMIJO * self.slope
        accept = finite & (first | decrease)
        self.accepted.copy_(accept)
        # A rejected point's gradient may be inf or NaN: it must not reach the history.
        torch.where(accept, g, self.prev_grad, out=g)
        self._remember(self.prev_step, g - self.prev_grad, accept & ~first)
        direction = self._inverse_hessian_times(g).neg_()
        slope = torch.dot(g, direction).double()
        # Numerical trouble can leave H·g pointing uphill; fall back to −γ·g then.
        uphill = ~(slope < 0)
        torch.where(uphill, -self.gamma.to(g.dtype) * g, direction, out=direction)
        slope = torch.where(uphill, -self.gamma * torch.dot(g, g).double(), slope)
        # torch's first step has length min(1, 1/‖g‖₁)·lr, later ones (or all, with a
        # known scale) lr.
        tiny_first = first & ~self.scale_known
        t = torch.where(tiny_first, (1.0 / g.abs().sum().double()).clamp(max=1.0), 1.0) * self.lr
        step = direction.mul_(t.to(direction.dtype))
        # Backtracking: the minimum of the quadratic through J(0), J'(0) and J(1) on
        # the rejected step's line, kept within [1/10, 1/2] (1/10 when J was not finite).
        excess = loss - self.accepted_loss - self.slope
        shrink = (-self.slope / (2 * excess)).nan_to_num(nan=0.1).clamp(0.1, 0.5)
        shrink = torch.where(finite, shrink, 0.1)
        torch.where(accept, step, self.prev_step * shrink.to(g.dtype), out=step)
        taken_back = torch.where(accept, 0.0, self.prev_step)  # a rejected trial's step
        self.prev_step.copy_(step)
        self.x.add_(step.sub_(taken_back).view_as(self.x))
        del taken_back
        self.prev_grad.copy_(g)
        self.accepted_loss.copy_(torch.where(accept, loss, self.accepted_loss))
        self.slope.copy_(torch.where(accept, slope * t, self.slope * shrink))
        self.k += accept.double()

    def _remember(self, s, y, keep) -> None:
        """Store the pair (s, y) in the next slot where ``keep``; ``y`` is overwritten."""
        m, slot = self.m, self.slot
        ys, yy = torch.dot(y, s).double(), torch.dot(y, y).double()
        keep = keep & (ys > 1e-10)
        # A pair left out rewrites the slot with what it held, so that the next pair
        # takes it and no older pair is lost.
        s = torch.where(keep, s, self.history.index_select(0, slot)[0])
        torch.where(keep, y, self.history.index_select(0, slot + m)[0], out=y)
        self.history.index_copy_(0, slot, s[None])
        self.history.index_copy_(0, slot + m, y[None])
        s_rows, y_rows = self.history[:m], self.history[m:]
        # The new pair's row and column of the small matrices.
        s_new_y = (y_rows @ s).double()  # s_new · y_j
        s_y_new = (s_rows @ y).double()  # s_i · y_new
        y_y_new = (y_rows @ y).double()
        self.s_dot_y.index_copy_(0, slot, s_new_y[None])
        self.s_dot_y.index_copy_(1, slot, s_y_new[:, None])
        self.y_dot_y.index_copy_(0, slot, y_y_new[None])
        self.y_dot_y.index_copy_(1, slot, y_y_new[:, None])
        age = torch.where(keep, self.k, self.age.index_select(0, slot)[0])
        self.age.index_copy_(0, slot, age[None])
        self.gamma.copy_(torch.where(keep, ys / yy, self.gamma))
        self.slot.copy_((slot + keep.long()) % m)

    def _inverse_hessian_times(self, g):
        m = self.m
        # Chronological order makes R upper triangular: empty slots (age −1) first,
        # with 1 on R's diagonal and no coupling, so their zero rows contribute nothing.
        order = torch.argsort(self.age, stable=True)
        age = self.age[order]
        valid = age >= 0
        both = valid[:, None] & valid[None, :]
        s_dot_y = self.s_dot_y[order][:, order]
        r = torch.where(both, s_dot_y.triu(), 0.0) + torch.diag((~valid).double())
        d = torch.diag(torch.where(valid, torch.diagonal(s_dot_y), 0.0))
        y_dot_y = torch.where(both, self.y_dot_y[order][:, order], 0.0)
        proj = (self.history @ g).double()  # [Sᵀg; Yᵀg] in slot order
        p_s, p_y = proj[:m][order], proj[m:][order]
        gamma = self.gamma
        r_inv_p_s = torch.linalg.solve_triangular(r, p_s[:, None], upper=True)[:, 0]
        rhs = (d + gamma * y_dot_y) @ r_inv_p_s - gamma * p_y
        q_s = torch.linalg.solve_triangular(r.T, rhs[:, None], upper=False)[:, 0]
        q_y = -r_inv_p_s
        # Back to slot order for the product with the history rows.
        coeffs = torch.zeros(2 * m, dtype=torch.float64, device=g.device)
        coeffs[order] = q_s
        coeffs[m + order] = gamma * q_y
        return (self.history.T @ coeffs.to(g.dtype)).add_(gamma.to(g.dtype) * g)
