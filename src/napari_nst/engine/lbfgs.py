"""L-BFGS with a fixed step length, computed in compact form and without host syncs.

The iterates are those of ``torch.optim.LBFGS(max_iter=1, line_search_fn=None)``
called once per step (one loss and gradient per step), which is how a style
transfer run is usually driven. What differs is how the direction −H·g is formed:

- torch runs the two-loop recursion, 4·m small kernels and m Python iterations
  per step, and reads several tolerances back to the host (a device sync each);
- here the history lives in one (2m × n) matrix and H·g uses the compact
  representation of Byrd, Nocedal & Schnabel (1994, eq. 3.13 for the inverse):

      H·g = γ·g + [S  γY] · [[R⁻ᵀ(D + γYᵀY)R⁻¹, −R⁻ᵀ], [−R⁻¹, 0]] · [Sᵀg; γYᵀg]

  with R the upper triangle of SᵀY in chronological order and D its diagonal:
  two reads of the history per step (as the two-loop recursion), a handful of
  kernels, and an m × m solve done in float64. Nothing is read back to the host,
  so a GPU is never left waiting for Python.

One deliberate difference: a pair with sᵀy ≤ 1e-10 (torch skips it) still takes
a history slot here, zeroed, rather than keeping the oldest pair one step longer;
this keeps the step free of data-dependent host decisions.
"""

from __future__ import annotations

from ._torch import torch

# L-BFGS pairs kept (torch's default is 100). Measured on astronaut × Hubble at 192 px,
# 200 steps: J with 10 pairs ended 0.3% above 20, with 5 pairs 2.3% above. Each pair
# holds two images, so large images keep fewer pairs: at most 256 MiB of history
# (20 pairs up to about 750 × 750 px, 10 at 1024 × 1024, never fewer than 5).
LBFGS_HISTORY = 20
LBFGS_HISTORY_BYTES = 256 * 2**20


def lbfgs_history(values: int) -> int:
    """Pairs kept for an image of ``values`` floats (fp32), within the memory cap."""
    return max(5, min(LBFGS_HISTORY, LBFGS_HISTORY_BYTES // (2 * 4 * values)))


class CompactLBFGS:
    """Minimise by fixed-step L-BFGS over one tensor ``x`` (updated in place).

    Every step runs the same kernels on tensors that live as long as the
    optimiser (counters included), with no Python branch on data: a step can be
    captured once as a CUDA graph and replayed.
    """

    def __init__(self, x, lr: float = 1.0, history: int = 20):
        n, m = x.numel(), history
        self.x, self.lr, self.m = x, lr, m
        self.history = x.new_zeros(2 * m, n)  # rows [0, m): s_i, rows [m, 2m): y_i
        small = {"dtype": torch.float64, "device": x.device}
        self.s_dot_y = torch.zeros(m, m, **small)  # s_i · y_j
        self.y_dot_y = torch.zeros(m, m, **small)
        self.age = torch.full((m,), -1.0, **small)  # step of each pair; −1: empty/skipped
        self.gamma = torch.ones((), **small)  # initial inverse-Hessian scale, sᵀy / yᵀy
        self.k = torch.zeros((), **small)  # steps taken
        self.slot = torch.zeros(1, dtype=torch.long, device=x.device)  # the next pair's slot
        self.prev_grad = x.new_zeros(n)
        self.prev_step = x.new_zeros(n)

    @torch.no_grad()
    def step(self, grad) -> None:
        """Take one step from the gradient at the current ``x``."""
        g = grad.reshape(-1).to(self.history.dtype)
        self._remember(self.prev_step, g - self.prev_grad)  # nothing at the first step
        direction = -self._inverse_hessian_times(g)
        # torch's first step has length min(1, 1/‖g‖₁)·lr, later ones lr.
        first = (1.0 / g.abs().sum().double()).clamp(max=1.0)
        t = torch.where(self.k == 0, first, 1.0) * self.lr
        step = direction * t.to(direction.dtype)
        self.x.add_(step.view_as(self.x))
        self.prev_grad.copy_(g)
        self.prev_step.copy_(step)
        self.k += 1

    def _remember(self, s, y) -> None:
        m, slot = self.m, self.slot
        ys, yy = torch.dot(y, s).double(), torch.dot(y, y).double()
        keep = (ys > 1e-10) & (self.k > 0)
        weight = keep.to(s.dtype)
        s, y = s * weight, y * weight
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
        self.age.index_copy_(0, slot, torch.where(keep, self.k, -1.0)[None])
        self.gamma.copy_(torch.where(keep, ys / yy, self.gamma))
        self.slot.copy_((slot + 1) % m)

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
        return gamma.to(g.dtype) * g + self.history.T @ coeffs.to(g.dtype)
