"""PassUntil (Hu et al. 2024): tiny pass rates from sampling each problem until it passes.

A model that solves a problem once in 10,000 samples scores 0 on pass@1 with any
affordable number of samples per problem, so its progress with scale is invisible.
Hu et al. ("Unlock Predictable Scaling from Emergent Abilities", ICLR 2024, arXiv
2310.03262) sample each problem until it is solved (or r times solved) and estimate the
pass rate from how many samples that took. :func:`pass_until` is the maximum-likelihood
estimate of a common pass rate ``p`` under that model: every sample passes independently
with probability ``p``, so whatever the stopping rule the likelihood is
``p^passes * (1 - p)^failures`` and the estimate is ``passes / samples``. Pass rates so
estimated for several model sizes can then be fitted with a law (Hu et al. fit
``log(-log PU)`` linear in ``log N``, i.e. ``PU = exp(a * n_params**b)``) and extrapolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.dynamics.downstream import _shown
from scalinglaws.engine.result import check_level
from scalinglaws.errors import DataError

__all__ = ["PassRate", "pass_until"]


@dataclass(frozen=True)
class PassRate:
    """A pass rate estimated from samples drawn until pass (PassUntil).

    Attributes
    ----------
    rate : float
        Maximum-likelihood pass rate per sample: total passes / total samples.
    interval : (lower, upper)
        Confidence interval at ``level`` (see :func:`pass_until`).
    level : float
    n_problems, n_passes, n_samples : int
        Problems, passes seen and samples drawn in all.
    per_problem : tuple of float
        Each problem's own estimate, passes / samples (Hu et al.'s instance-level PU).
    """

    rate: float
    interval: tuple[float, float]
    level: float
    n_problems: int
    n_passes: int
    n_samples: int
    per_problem: tuple[float, ...] = ()

    def __repr__(self) -> str:
        return (f"PassRate(rate={self.rate:.4g}, {self.level:.0%} interval ({self.interval[0]:.4g}, "
                f"{self.interval[1]:.4g}); {self.n_passes} passes in {self.n_samples} samples over "
                f"{self.n_problems} problems)")

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(repr(self))}</pre>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "interval": list(self.interval),
            "level": self.level,
            "n_problems": self.n_problems,
            "n_passes": self.n_passes,
            "n_samples": self.n_samples,
            "per_problem": list(self.per_problem),
        }


def _whole(value: Any, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{name} must hold whole numbers, got {_shown(value)}")
    f = arr.astype(float)
    if not np.all(np.isfinite(f)) or np.any(f != np.round(f)) or np.any(f < 0):
        raise DataError(f"{name} must hold whole numbers >= 0, got {_shown(value)}")
    return f.astype(np.int64)


def pass_until(samples: Any, passes: Any = 1, *, level: float = 0.95) -> PassRate:
    """Estimate a small pass rate from the samples drawn per problem until it passed.

    Parameters
    ----------
    samples : int or array of int, one per problem
        Samples drawn on each problem, the passing ones included: with ``passes=1``, the
        index of the first pass. A problem stopped at a budget without passing counts
        its budget here and 0 in ``passes``.
    passes : int or array of int
        Passes seen on each problem (1: sampled until the first pass; r: until the r-th).
    level : float
        Confidence level of the interval.

    Returns
    -------
    PassRate

    Notes
    -----
    The interval is the exact (Clopper-Pearson-type) interval of the negative binomial:
    with ``R`` passes and ``F`` failures in all, ``F`` is negative binomial in ``R`` and
    ``p`` when every problem is sampled until its last pass, and the bounds are the
    ``Beta(R, F + 1)`` and ``Beta(R, F)`` quantiles. It assumes one pass rate for all
    problems (pool problems of like difficulty); when some problems stopped at a budget
    the same formula is used on the totals, which is then approximate.

    Examples
    --------
    >>> r = pass_until([120, 80, 400, 200])
    >>> round(r.rate, 6), r.n_samples
    (0.005, 800)
    """
    level = check_level(level)
    k = _whole(samples, "samples")
    r = np.broadcast_to(_whole(passes, "passes"), k.shape)
    if k.ndim != 1:
        raise DataError("samples must be one number per problem (a 1-D array)")
    if np.any(r > k):
        raise DataError("a problem cannot pass more often than it was sampled (passes > samples)")
    R, N = int(r.sum()), int(k.sum())
    if N == 0:
        raise DataError("no samples drawn: give at least one sample per problem")
    F = N - R
    alpha = 1 - level
    if R == 0:
        lo, hi = 0.0, float(1 - (alpha / 2) ** (1 / N))  # no pass in N samples
    else:
        from scipy import stats  # imported here: scipy.stats costs half a second at start-up

        lo = float(stats.beta.ppf(alpha / 2, R, F + 1))
        hi = 1.0 if F == 0 else float(stats.beta.ppf(1 - alpha / 2, R, F))
    with np.errstate(divide="ignore", invalid="ignore"):
        each = np.where(k > 0, r / np.where(k > 0, k, 1), math.nan)
    return PassRate(
        rate=R / N,
        interval=(lo, hi),
        level=level,
        n_problems=int(k.size),
        n_passes=R,
        n_samples=N,
        per_problem=tuple(float(v) for v in each),
    )
