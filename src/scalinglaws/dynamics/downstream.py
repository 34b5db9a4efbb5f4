"""Downstream predictions: error from loss in two stages, and repeated sampling (pass@k, coverage).

- :func:`predict_downstream` chains a loss fit (e.g. Gadre et al.'s ``overtraining``)
  and a loss-to-error fit (``downstream_exp``): (N, M) -> L -> Err, with an interval
  from both fits' bootstrap draws taken together (defined in
  :mod:`scalinglaws.dynamics.two_stage`, importable from here).
- :func:`pass_at_k` is the unbiased estimator of Chen et al. (2021) from per-problem
  counts; :func:`coverage_table` averages it over problems for several k, ready for
  ``sl.fit(table, "coverage", target="coverage")`` (Brown et al. 2024);
  :func:`samples_for_coverage` inverts a coverage fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.dynamics.two_stage import DownstreamPrediction, _loss_variable, predict_downstream
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError

__all__ = [
    "DownstreamPrediction",
    "SamplesNeeded",
    "coverage_table",
    "pass_at_k",
    "predict_downstream",
    "samples_for_coverage",
]


#: pass@k is computed exactly (rational arithmetic) for problems with at most this many samples.
EXACT_UP_TO = 256


# --------------------------------------------------------------------------- pass@k and coverage


def _shown(value: Any) -> str:
    """``value`` for a one-line message: an array as a plain list, not numpy's repr."""
    arr = np.asarray(value)
    return str(arr.tolist()) if arr.ndim else repr(value)


def _counts(n: Any, c: Any, k: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = []
    for name, value in (("n", n), ("c", c), ("k", k)):
        arr = np.asarray(value)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{name} must hold whole numbers, got {_shown(value)}")
        f = arr.astype(float)
        if not np.all(np.isfinite(f)) or np.any(f != np.round(f)) or np.any(f < 0):
            raise DataError(f"{name} must hold whole numbers >= 0, got {_shown(value)}")
        arrays.append(f.astype(np.int64))
    n_, c_, k_ = arrays
    if np.any(c_ > n_):
        raise DataError("c (correct samples) cannot exceed n (samples drawn) for any problem")
    if np.any(k_ < 1):
        raise DataError("k must be at least 1")
    if np.any(k_ > np.broadcast_to(n_, np.broadcast_shapes(n_.shape, k_.shape))):
        raise DataError("k cannot exceed n: the unbiased estimator needs n >= k samples per problem")
    return n_, c_, k_


def pass_at_k(n: Any, c: Any, k: Any) -> Any:
    """Unbiased pass@k of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)`` per problem.

    Parameters
    ----------
    n, c, k : int or array of int
        Samples drawn and samples correct for each problem, and the k asked for;
        they broadcast (e.g. ``n``, ``c`` of shape (n_problems,) and a scalar ``k``).

    Returns
    -------
    float or array
        pass@k per problem (average it for a benchmark's score); 1 when ``n - c < k``.
        Up to ``n = EXACT_UP_TO`` samples it is computed in exact rational arithmetic
        and correctly rounded; beyond, as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` in
        logs (Chen et al.'s stable form, relative error ~1e-15 per factor).

    Examples
    --------
    >>> pass_at_k(10, 3, 1)
    0.3
    >>> round(pass_at_k(10, 3, 5), 6)
    0.916667
    """
    n_, c_, k_ = _counts(n, c, k)
    n_b, c_b, k_b = np.broadcast_arrays(n_, c_, k_)
    out = np.empty(n_b.shape, dtype=float)
    flat = out.reshape(-1)
    for j, (nn, cc, kk) in enumerate(zip(n_b.reshape(-1), c_b.reshape(-1), k_b.reshape(-1))):
        if nn - cc < kk:
            flat[j] = 1.0
        elif cc == 0:
            flat[j] = 0.0
        elif nn <= EXACT_UP_TO:
            flat[j] = float(1 - Fraction(math.comb(int(nn - cc), int(kk)), math.comb(int(nn), int(kk))))
        else:
            i = np.arange(nn - cc + 1, nn + 1, dtype=float)
            flat[j] = -math.expm1(float(np.sum(np.log1p(-kk / i))))
    return float(out) if out.ndim == 0 else out


def coverage_table(n: Any, c: Any, ks: Sequence[int] | None = None) -> pd.DataFrame:
    """Coverage (mean pass@k over problems) for several k, ready to fit the ``coverage`` law.

    Parameters
    ----------
    n, c : array of shape (n_problems,)
        Samples drawn and samples correct per problem.
    ks : sequence of int, optional
        The k values; by default up to 40 log-spaced values from 1 to min(n), as Brown
        et al. fit.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_samples`` (k), ``coverage`` and ``n_problems``.

    Examples
    --------
    >>> coverage_table([4, 4], [1, 0], ks=[1, 2, 4]).coverage.tolist()
    [0.125, 0.25, 0.5]
    """
    n_, c_, _ = _counts(n, c, 1)
    if n_.ndim != 1 or n_.size == 0 or c_.shape != n_.shape:
        raise DataError("n and c must be 1-D arrays of the same length, one entry per problem")
    if ks is None:
        top = int(n_.min())
        ks = sorted({int(round(v)) for v in np.geomspace(1, top, min(40, top))})
    rows = []
    for k in ks:
        rows.append({"n_samples": int(k), "coverage": float(np.mean(pass_at_k(n_, c_, int(k)))), "n_problems": int(n_.size)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SamplesNeeded:
    """Samples per problem needed to reach a target coverage.

    Attributes
    ----------
    target : float
    n_samples : float
        Where the fitted coverage law reaches ``target`` (inf if it never does).
    interval : (lower, upper) or None
        Percentile interval over the fit's bootstrap draws.
    level : float
    reachable : float
        Share of bootstrap draws that reach the target at all.
    """

    target: float
    n_samples: float
    interval: tuple[float, float] | None = None
    level: float = 0.95
    reachable: float = field(default=1.0)

    def __repr__(self) -> str:
        text = f"SamplesNeeded(target={self.target:g}, n_samples={self.n_samples:.4g}"
        if self.interval is not None:
            text += f", {self.level:.0%} interval ({self.interval[0]:.4g}, {self.interval[1]:.4g})"
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        def j(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "target": self.target,
            "n_samples": j(self.n_samples),
            "interval": None if self.interval is None else [j(v) for v in self.interval],
            "level": self.level,
            "reachable": self.reachable,
        }


def samples_for_coverage(
    coverage_fit: Fit, target: float, *, level: float = 0.95, max_samples: float = 1e12
) -> SamplesNeeded:
    """Samples k at which a fitted coverage law reaches ``target``, with a bootstrap interval.

    Works for any law of one variable that rises with it (``coverage`` by default),
    by bisection in log k between 1 and ``max_samples``, for the fit and each draw.

    Examples
    --------
    ``samples_for_coverage(sl.fit(table, "coverage", target="coverage"), 0.9)``
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
        raise DataError(f"target coverage must lie strictly between 0 and 1, got {target!r}")
    level = check_level(level)
    var = _loss_variable(coverage_fit)
    law = coverage_fit.law
    names = coverage_fit.free_params
    point = np.array([[coverage_fit.params[p] for p in names]])
    has = coverage_fit.draws is not None and len(coverage_fit.draws) > 0
    thetas = np.vstack([point, coverage_fit._valid_draws()]) if has else point
    P = {p: thetas[:, i] for i, p in enumerate(names)}

    def f(k: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(law.function({var: k}, P), dtype=float), k.shape)

    lo = np.zeros(len(thetas))
    hi = np.full(len(thetas), math.log(max_samples))
    reach = f(np.exp(hi)) >= target
    already = f(np.ones(len(thetas))) >= target
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = f(np.exp(mid)) >= target
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    k = np.where(already, 1.0, np.where(reach, np.exp(hi), np.inf))
    band = None
    if has:
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        a, b = np.percentile(k[1:], q, method="nearest")  # draws that never reach it count as inf
        band = (float(a), float(b))
    return SamplesNeeded(
        target=float(target),
        n_samples=float(k[0]),
        interval=band,
        level=level,
        reachable=float(np.mean(reach[1:])) if has else float(reach[0]),
    )
