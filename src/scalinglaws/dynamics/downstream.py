"""Downstream predictions: error from loss in two stages, and repeated sampling (pass@k, coverage).

- :func:`predict_downstream` chains a loss fit (e.g. Gadre et al.'s ``overtraining``)
  and a loss-to-error fit (``downstream_exp``): (N, M) -> L -> Err, with an interval
  from both fits' bootstrap draws taken together.
- :func:`pass_at_k` is the unbiased estimator of Chen et al. (2021) from per-problem
  counts; :func:`coverage_table` averages it over problems for several k, ready for
  ``sl.fit(table, "coverage", target="coverage")`` (Brown et al. 2024);
  :func:`samples_for_coverage` inverts a coverage fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError, LawError

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


def _scalar_or_array(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _fmt(x: Any) -> str:
    arr = np.asarray(x, dtype=float)
    return f"{float(arr):.6g}" if arr.ndim == 0 else np.array2string(arr, precision=6, separator=", ")


# --------------------------------------------------------------------------- two-stage prediction


@dataclass(frozen=True)
class DownstreamPrediction:
    """Loss and downstream error predicted in two stages, with bootstrap intervals.

    Attributes
    ----------
    inputs : dict
        The point(s) predicted at (law variables of the loss fit).
    loss, error : float or array
        Point predictions: the loss fit at ``inputs``, then the error fit at that loss.
    loss_interval, error_interval : (lower, upper) or None
        Percentile intervals at ``level`` over paired bootstrap draws of both fits
        (None when neither fit has draws).
    level : float
    n_draws : int
        Draws used for the intervals.
    target : str
        What ``error`` holds: the downstream fit's target (``"error"``, ``"accuracy"``, ...).
    """

    inputs: Mapping[str, Any]
    loss: Any
    error: Any
    loss_interval: tuple[Any, Any] | None = None
    error_interval: tuple[Any, Any] | None = None
    level: float = 0.95
    n_draws: int = 0
    target: str = "error"

    def __repr__(self) -> str:
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in self.inputs.items())
        text = f"DownstreamPrediction({point}: loss={_fmt(self.loss)}, {self.target}={_fmt(self.error)}"
        if self.error_interval is not None and self.loss_interval is not None:
            pct = f"{self.level:.0%}"
            text += (
                f"; {pct} loss ({_fmt(self.loss_interval[0])}, {_fmt(self.loss_interval[1])})"
                f", {self.target} ({_fmt(self.error_interval[0])}, {_fmt(self.error_interval[1])}); {self.n_draws} draws"
            )
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        def j(x: Any) -> Any:
            arr = np.asarray(x, dtype=float)
            return float(arr) if arr.ndim == 0 else arr.tolist()

        return {
            "inputs": {k: j(v) if not isinstance(v, str) else v for k, v in self.inputs.items()},
            "loss": j(self.loss),
            "error": j(self.error),
            "loss_interval": None if self.loss_interval is None else [j(v) for v in self.loss_interval],
            "error_interval": None if self.error_interval is None else [j(v) for v in self.error_interval],
            "level": self.level,
            "n_draws": self.n_draws,
            "target": self.target,
        }


_DERIVED = {
    "tokens_per_param": (("n_tokens", "n_params"), lambda v: v["n_tokens"] / v["n_params"]),
    "n_tokens": (("tokens_per_param", "n_params"), lambda v: v["tokens_per_param"] * v["n_params"]),
    "flops": (("n_params", "n_tokens"), lambda v: 6.0 * v["n_params"] * v["n_tokens"]),
}


def _inputs(fit: Fit, given: Mapping[str, Any]) -> dict[str, Any]:
    """The loss fit's variables from what the caller gave: column names, or derived
    (tokens_per_param = n_tokens / n_params, n_tokens = tokens_per_param * n_params)."""
    inverse = {col: var for var, col in dict(fit.options.get("variables") or {}).items()}
    values = {inverse.get(k, k): v for k, v in given.items()}
    out: dict[str, Any] = {}
    for var in fit.law.variables:
        if var in values:
            out[var] = values[var]
            continue
        need, make = _DERIVED.get(var, ((), None))
        pool = dict(values)
        if "n_tokens" in need and "n_tokens" not in pool and {"tokens_per_param", "n_params"} <= set(pool):
            pool["n_tokens"] = np.asarray(pool["tokens_per_param"], dtype=float) * np.asarray(pool["n_params"], dtype=float)
        if make is not None and set(need) <= set(pool):
            out[var] = make({k: np.asarray(pool[k], dtype=float) for k in need})
            continue
        raise LawError(
            f"the loss fit ({fit.law.name!r}) needs {var!r}; give it, e.g. {var}=..., "
            f"(got {', '.join(given) or 'nothing'})"
        )
    extra = sorted(set(values) - set(out) - {"n_tokens", "n_params", "tokens_per_param", "flops"})
    if extra:
        raise LawError(f"the loss fit ({fit.law.name!r}) has no variable {extra[0]!r}; its variables are {list(fit.law.variables)}")
    return out


def _loss_variable(fit: Fit) -> str:
    free = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(free) != 1:
        raise LawError(f"the downstream fit must be a law of one variable (the loss); {fit.law.name!r} has {free}")
    return free[0]


def predict_downstream(
    loss_fit: Fit,
    downstream_fit: Fit,
    *,
    level: float = 0.95,
    **variables: Any,
) -> DownstreamPrediction:
    """Predict loss, then downstream error from it; intervals from both fits' bootstrap draws.

    Parameters
    ----------
    loss_fit : Fit
        A loss law, e.g. ``sl.fit(runs, "overtraining")``.
    downstream_fit : Fit
        An error-from-loss law, e.g. ``sl.fit(pairs, "downstream_exp", target="err")``.
    level : float
        Interval level.
    **variables
        Where to predict: the loss fit's variables (or the columns they were mapped
        from). ``tokens_per_param`` and ``n_tokens`` are derived from each other with
        ``n_params``. Arrays broadcast.

    Returns
    -------
    DownstreamPrediction

    Notes
    -----
    Draw i of the interval evaluates downstream draw i at the loss of loss draw i (the
    two bootstraps are independent, so pairing by index samples their joint
    distribution); with draws in only one fit, the other's point estimate is used.

    Examples
    --------
    ``sl.predict_downstream(ot, ds, n_params=6.9e9, tokens_per_param=20)``
    """
    level = check_level(level)
    X = _inputs(loss_fit, variables)
    loss = np.asarray(loss_fit.predict(**X), dtype=float)
    var = _loss_variable(downstream_fit)
    error = np.asarray(downstream_fit.predict(**{var: loss}), dtype=float)
    has_l = loss_fit.draws is not None and len(loss_fit.draws) > 0
    has_d = downstream_fit.draws is not None and len(downstream_fit.draws) > 0
    loss_band = error_band = None
    n = 0
    if has_l or has_d:
        loss_draws = loss_fit.predict_draws(**X) if has_l else loss[None, ...]
        if has_d:
            d = downstream_fit._valid_draws()
        else:
            d = np.array([[downstream_fit.params[p] for p in downstream_fit.free_params]])
        n = max(len(loss_draws), len(d)) if (len(loss_draws) == 1 or len(d) == 1) else min(len(loss_draws), len(d))
        li = np.arange(n) % len(loss_draws)
        di = np.arange(n) % len(d)
        L = loss_draws[li].reshape(n, -1)
        P = {p: d[di, i : i + 1] for i, p in enumerate(downstream_fit.free_params)}
        with np.errstate(all="ignore"):
            E = np.asarray(downstream_fit.law.function({var: L}, P), dtype=float)
        E = np.broadcast_to(E, L.shape).reshape((n, *loss.shape))
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        lo, hi = np.nanpercentile(loss_draws, q, axis=0)
        loss_band = (_scalar_or_array(lo), _scalar_or_array(hi))
        lo, hi = np.nanpercentile(E, q, axis=0)
        error_band = (_scalar_or_array(lo), _scalar_or_array(hi))
    return DownstreamPrediction(
        inputs={k: _scalar_or_array(np.asarray(v)) if not isinstance(v, str) else v for k, v in X.items()},
        loss=_scalar_or_array(loss),
        error=_scalar_or_array(error),
        loss_interval=loss_band,
        error_interval=error_band,
        level=level,
        n_draws=int(n),
        target=str(downstream_fit.options.get("target") or downstream_fit.law.target),
    )


# --------------------------------------------------------------------------- pass@k and coverage


def _counts(n: Any, c: Any, k: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = []
    for name, value in (("n", n), ("c", c), ("k", k)):
        arr = np.asarray(value)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{name} must hold whole numbers, got {value!r}")
        f = arr.astype(float)
        if not np.all(np.isfinite(f)) or np.any(f != np.round(f)) or np.any(f < 0):
            raise DataError(f"{name} must hold whole numbers >= 0, got {value!r}")
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
