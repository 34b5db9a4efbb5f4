"""The learning-rate schedule that a fitted curve law predicts to end lowest, for a step budget.

Luo et al. (2025, arXiv 2503.12811, §5) optimise the schedule itself through their
multi-power law: with the peak rate and the number of steps fixed, search the
non-increasing schedules for the lowest predicted final loss. :func:`optimize_schedule`
does that with any :class:`~scalinglaws.dynamics.curves.CurveFit` (``multi_power``,
``lr_annealing``, ...): after the warmup, the multiplier of the peak rate is a
piecewise-linear curve through ``knots`` values, each a fraction of the one before it
(so the schedule never rises), chosen by L-BFGS-B from a WSD start.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.dynamics import schedules as _sched
from scalinglaws.errors import DataError, FitError

__all__ = ["ScheduleSearch", "optimize_schedule"]


@dataclass(frozen=True)
class ScheduleSearch:
    """The schedule with the lowest predicted final loss, and what it beats.

    Attributes
    ----------
    lrs : array of shape (steps,)
        Per-step learning rates of the best schedule found.
    final_loss : float
        Its predicted final loss.
    baselines : dict
        Predicted final loss of reference schedules with the same peak, warmup and steps
        (``constant``, ``cosine``, ``wsd`` with a 20% 1-sqrt cooldown).
    knots : tuple of float
        The multiplier of the peak at the knots, evenly spaced over the steps after warmup.
    """

    lrs: np.ndarray = field(repr=False)
    final_loss: float
    baselines: dict[str, float]
    knots: tuple[float, ...] = field(repr=False)
    steps: int = 0
    peak: float = 0.0
    warmup: int = 0
    evaluations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"lrs": self.lrs.tolist(), "final_loss": self.final_loss, "baselines": dict(self.baselines),
                "knots": list(self.knots), "steps": self.steps, "peak": self.peak, "warmup": self.warmup,
                "evaluations": self.evaluations}

    def __repr__(self) -> str:
        base = ", ".join(f"{k} {v:.5g}" for k, v in self.baselines.items())
        return (f"ScheduleSearch(final_loss={self.final_loss:.6g}; {self.steps} steps, peak {self.peak:.3g}; "
                f"baselines: {base})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _expand(ratios: np.ndarray, peak: float, steps: int, warmup: int) -> np.ndarray:
    knots = np.concatenate([[1.0], np.cumprod(ratios)])
    u = np.linspace(0.0, 1.0, knots.size)
    t = np.arange(1, steps - warmup + 1) / (steps - warmup)
    body = peak * np.interp(t, u, knots)
    head = peak * np.arange(1, warmup + 1) / max(warmup, 1)
    return np.concatenate([head, body])


def optimize_schedule(
    curve_fit: Any,
    steps: int,
    *,
    peak: float,
    warmup: int = 0,
    knots: int = 24,
    floor: float = 0.0,
    maxiter: int = 200,
) -> ScheduleSearch:
    """Search the non-increasing schedules for the lowest predicted final loss after ``steps``.

    Parameters
    ----------
    curve_fit : CurveFit
        A fitted curve law (from :func:`scalinglaws.fit_curves`); anything with
        ``predict_final(lrs)`` works.
    steps : int
        The step budget.
    peak : float
        The peak learning rate, held fixed (as in Luo et al.).
    warmup : int
        Steps of linear warmup before the searched part.
    knots : int
        Number of free multipliers after the peak (more: finer shapes, slower).
    floor : float
        Lowest multiplier of the peak allowed at any step (0: may decay to zero).

    Returns
    -------
    ScheduleSearch

    Examples
    --------
    ``optimize_schedule(cf, 10_000, peak=3e-4, warmup=500)``
    """
    from scipy.optimize import minimize

    steps = int(steps)
    if not (isinstance(knots, int) and knots >= 2):
        raise DataError(f"knots must be an integer >= 2, got {knots!r}")
    if not 0 <= floor < 1:
        raise DataError(f"floor must lie in [0, 1), got {floor!r}")
    peak = float(peak)
    if not (np.isfinite(peak) and peak > 0):
        raise DataError(f"peak must be a positive learning rate, got {peak!r}")
    if not 0 <= int(warmup) < steps - 1:
        raise DataError(f"warmup ({warmup}) must be shorter than the run ({steps} steps)")
    warmup = int(warmup)
    count = [0]

    def loss_of(lrs: np.ndarray) -> float:
        count[0] += 1
        return float(curve_fit.predict_final(lrs))

    def objective(ratios: np.ndarray) -> float:
        lrs = _expand(ratios, peak, steps, warmup)
        if floor:
            lrs[warmup:] = np.maximum(lrs[warmup:], floor * peak)
        value = loss_of(lrs)
        return value if np.isfinite(value) else 1e300

    baselines = {
        "constant": loss_of(_sched.constant(peak, steps, warmup=warmup)),
        "cosine": loss_of(_sched.cosine(peak, steps, warmup=warmup)),
        "wsd": loss_of(_sched.wsd(peak, steps, warmup=warmup, cooldown=0.2, shape="sqrt")),
    }
    # start from the WSD baseline: 1 through 80% of the steps, then the 1-sqrt cooldown
    u = np.linspace(0.0, 1.0, knots + 1)
    start = np.clip(_sched.cooldown_multiplier((u - 0.8) / 0.2, "sqrt"), 1e-3, 1.0)
    x0 = np.clip(start[1:] / start[:-1], 1e-3, 1.0)
    res = minimize(objective, x0, method="L-BFGS-B", bounds=[(0.0, 1.0)] * knots,
                   options={"maxiter": int(maxiter), "eps": 1e-4})
    best = res.x if res.fun <= objective(x0) else x0
    lrs = _expand(best, peak, steps, warmup)
    if floor:
        lrs[warmup:] = np.maximum(lrs[warmup:], floor * peak)
    final = loss_of(lrs)
    if not np.isfinite(final):
        raise FitError("the curve law predicts no finite final loss for the schedules searched")
    return ScheduleSearch(lrs=lrs, final_loss=final, baselines=baselines,
                          knots=tuple(float(v) for v in np.concatenate([[1.0], np.cumprod(best)])),
                          steps=steps, peak=peak, warmup=warmup, evaluations=count[0])
