"""Two ladders (a baseline and a variant) compared with one law, by effective compute.

:func:`compare_ladders` fits one law to each ladder and reports the effective-compute
multiplier ``k(C)``, the factor such that ``variant(C) = baseline(k * C)`` (k > 1: the
variant is worth k times more compute), with bootstrap intervals, and where the curves
cross. A law in ``n_params`` and ``n_tokens`` is compared on its compute-optimal frontier
``L*(C) = min_N L(N, C / (6 N))`` (the 6ND convention).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError, LawError
from scalinglaws.laws.law import Law
from scalinglaws.laws import get_law
from scalinglaws.engine.result import Fit, check_level, finite_or_none
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.fit import fit
from scalinglaws.judge.holdout import frame_records

Seed = int | np.random.Generator | None


@dataclass(frozen=True, eq=False)
class LadderComparison:
    """A variant ladder against a baseline: effective-compute multiplier and crossings.

    Attributes
    ----------
    law : str
        The law fitted to both ladders.
    frontier : bool
        True when the law is in ``n_params`` and ``n_tokens`` and losses are those of the
        compute-optimal frontier.
    flops : array of shape (n_points,)
        Compute at which the ladders are compared.
    loss_baseline, loss_variant : arrays of shape (n_points,)
        The two fitted curves.
    multiplier : array of shape (n_points,)
        ``k(C)`` with ``variant(C) = baseline(k * C)``; inf where the variant goes below
        anything the baseline reaches (its floor), NaN where undefined.
    lower, upper : arrays of shape (n_points,)
        Bootstrap percentile interval of ``k`` at ``level`` (NaN without bootstrap).
    crossings : tuple of float
        Compute values where the fitted curves cross (``k = 1``), within ``flops``.
    crossing_interval : tuple of float or None
        Bootstrap interval of the first crossing, over draws that cross in range.
    crossing_share : float
        Share of bootstrap draws whose curves cross within ``flops`` (NaN without).
    baseline_fit, variant_fit : Fit
    """

    law: str
    frontier: bool
    level: float
    flops: np.ndarray = field(repr=False)
    loss_baseline: np.ndarray = field(repr=False)
    loss_variant: np.ndarray = field(repr=False)
    multiplier: np.ndarray = field(repr=False)
    lower: np.ndarray = field(repr=False)
    upper: np.ndarray = field(repr=False)
    crossings: tuple[float, ...] = ()
    crossing_interval: tuple[float, float] | None = None
    crossing_share: float = math.nan
    baseline_fit: Fit | None = field(default=None, repr=False)
    variant_fit: Fit | None = field(default=None, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per compute value: flops, both losses, multiplier and its interval."""
        return pd.DataFrame({
            "flops": self.flops, "loss_baseline": self.loss_baseline, "loss_variant": self.loss_variant,
            "multiplier": self.multiplier, "lower": self.lower, "upper": self.upper,
        })

    def multiplier_at(self, flops: float | np.ndarray) -> np.ndarray:
        """``k`` at other compute values, interpolated in log-log within the grid."""
        logk = np.log(self.multiplier)
        return np.exp(np.interp(np.log(np.asarray(flops, dtype=float)), np.log(self.flops), logk))

    def summary(self) -> str:
        i = [0, len(self.flops) // 2, len(self.flops) - 1]
        parts = []
        for j in i:
            ci = f" ({self.lower[j]:.3g} to {self.upper[j]:.3g})" if np.isfinite(self.lower[j]) else ""
            parts.append(f"  C={self.flops[j]:.3g}: k={self.multiplier[j]:.3g}{ci}")
        cross = ", ".join(f"{c:.3g}" for c in self.crossings) or "none in range"
        lines = [
            f"Variant vs baseline ({self.law}{', compute-optimal frontier' if self.frontier else ''}): "
            f"effective-compute multiplier k(C), variant(C) = baseline(k C), {self.level:.0%} intervals",
            *parts,
            f"  curves cross at C = {cross}"
            + (f"; first crossing {self.level:.0%} interval {self.crossing_interval[0]:.3g} to "
               f"{self.crossing_interval[1]:.3g}" if self.crossing_interval else "")
            + (f"; {self.crossing_share:.0%} of bootstrap draws cross in range" if math.isfinite(self.crossing_share) else ""),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        mid = len(self.flops) // 2
        return (
            f"LadderComparison(law={self.law!r}, frontier={self.frontier}, flops={self.flops[0]:.3g}..{self.flops[-1]:.3g}, "
            f"multiplier@{self.flops[mid]:.3g}={self.multiplier[mid]:.4g}, crossings={tuple(float(f'{c:.4g}') for c in self.crossings)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "frontier": self.frontier,
            "level": self.level,
            "table": frame_records(self.table),
            "crossings": list(self.crossings),
            "crossing_interval": None if self.crossing_interval is None else list(self.crossing_interval),
            "crossing_share": finite_or_none(self.crossing_share),
            "baseline_params": None if self.baseline_fit is None else dict(self.baseline_fit.params),
            "variant_params": None if self.variant_fit is None else dict(self.variant_fit.params),
        }


def compare_ladders(
    baseline: Runs | pd.DataFrame | str,
    variant: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any] = "power",
    *,
    by: str = "flops",
    flops: Sequence[float] | np.ndarray | None = None,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: Seed = 0,
    **fit_kwargs: Any,
) -> LadderComparison:
    """Fit ``law`` to both ladders and compare them by effective compute.

    Parameters
    ----------
    baseline, variant : Runs, DataFrame or path
        The two ladders.
    law : str, Law or callable
        A law of one variable (mapped to the column ``by``; default ``power``, loss
        against compute), or a law in ``n_params`` and ``n_tokens`` (compared on its
        compute-optimal frontier).
    by : str
        Compute column for a one-variable law (default ``flops``).
    flops : array, optional
        Where to compare; default 50 log-spaced values from the smallest compute of
        either ladder to 100 times the largest.
    level : float
        Level of the bootstrap intervals.
    bootstrap : int
        Bootstrap refits of each ladder (0: no intervals).
    seed : int or numpy Generator
    **fit_kwargs
        Options of :func:`scalinglaws.engine.fit`, the same for both ladders.

    Returns
    -------
    LadderComparison

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> c = np.geomspace(1e18, 1e21, 8)
    >>> base = pd.DataFrame({"flops": c, "loss": 1.7 + (1e17 / c) ** 0.1})
    >>> var = pd.DataFrame({"flops": c, "loss": 1.7 + (0.5e17 / c) ** 0.1})
    >>> r = compare_ladders(base, var, bootstrap=0)
    >>> round(float(r.multiplier[0]), 3)
    2.0
    """

    base_runs = baseline if isinstance(baseline, Runs) else load_runs(baseline)
    var_runs = variant if isinstance(variant, Runs) else load_runs(variant)
    check_level(level)
    the_law = get_law(law, **dict(fit_kwargs.get("law_options") or {}))
    free_vars = [v for v in the_law.variables if v not in the_law.categorical]
    kwargs = dict(fit_kwargs)
    if len(free_vars) == 1:
        frontier = False
        kwargs["variables"] = {free_vars[0]: by, **dict(kwargs.get("variables") or {})}
        column = kwargs["variables"][free_vars[0]]
    elif set(free_vars) == {"n_params", "n_tokens"} and not the_law.categorical:
        frontier = True
        column = "flops"
    else:
        raise LawError(
            f"compare_ladders needs a law of one variable (loss against compute) or of n_params and n_tokens; "
            f"{the_law.name!r} has {free_vars}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    fits = []
    for runs in (base_runs, var_runs):
        runs.require([column], positive=[column], purpose="comparing ladders by compute")
        fits.append(fit(runs, law, bootstrap=bootstrap, seed=int(rng.integers(2**31)), **kwargs))
    fb, fv = fits
    if flops is None:
        lo = min(base_runs.column(column).min(), var_runs.column(column).min())
        hi = max(base_runs.column(column).max(), var_runs.column(column).max()) * 100
        grid = np.geomspace(lo, hi, 50)
    else:
        grid = np.sort(np.asarray(flops, dtype=float).ravel())
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise DataError("flops must be positive finite numbers")

    def curve(f: Fit, params: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        P = {n: params[:, i : i + 1] for i, n in enumerate(f.free_params)}
        return _frontier(f.law, P) if frontier else _one_variable(f.law, free_vars[0], P)

    point_b = curve(fb, _point(fb))
    point_v = curve(fv, _point(fv))
    lb, lv = point_b(grid[None, :])[0], point_v(grid[None, :])[0]
    k = _multiplier(point_b, lv[None, :], grid[None, :])[0]
    crossings = tuple(_refine(point_b, point_v, c, grid) for c in _crossings(grid, lv - lb))
    lower = upper = np.full(grid.shape, np.nan)
    c_int: tuple[float, float] | None = None
    share = math.nan
    if bootstrap:
        db, dv = _draws(fb), _draws(fv)
        m = min(len(db), len(dv))
        if m >= 2:
            cb, cv = curve(fb, db[:m]), curve(fv, dv[:m])
            G = np.broadcast_to(grid, (m, grid.size))
            lvd = cv(G)
            kd = _multiplier(cb, lvd, G)
            q = [(1 - level) / 2, (1 + level) / 2]
            with np.errstate(all="ignore"):
                lower = np.quantile(kd, q[0], axis=0, method="inverted_cdf")
                upper = np.quantile(kd, q[1], axis=0, method="inverted_cdf")
            diff = lvd - cb(G)
            firsts = np.array([(_crossings(grid, d) or (math.nan,))[0] for d in diff])
            ok = np.isfinite(firsts)
            share = float(ok.mean())
            if ok.sum() >= 2:
                c_int = tuple(float(v) for v in np.exp(np.quantile(np.log(firsts[ok]), q)))  # type: ignore[assignment]
    return LadderComparison(
        law=the_law.name, frontier=frontier, level=level, flops=grid, loss_baseline=lb, loss_variant=lv,
        multiplier=k, lower=lower, upper=upper, crossings=crossings, crossing_interval=c_int, crossing_share=share,
        baseline_fit=fb, variant_fit=fv,
    )


def _point(f: Fit) -> np.ndarray:
    return np.array([[f.params[n] for n in f.free_params]], dtype=float)


def _draws(f: Fit) -> np.ndarray:
    if f.draws is None:
        return np.empty((0, len(f.free_params)))
    return f.draws[np.all(np.isfinite(f.draws), axis=1)]


def _one_variable(law: Law, var: str, P: Mapping[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    def L(C: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(law.function({var: C}, P), dtype=float), C.shape).copy()

    return L


def _frontier(law: Law, P: Mapping[str, np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``L*(C) = min over N of L(N, C / (6 N))`` by golden-section search in log(N / sqrt(C/6))."""
    g = (math.sqrt(5) - 1) / 2

    def L(C: np.ndarray) -> np.ndarray:
        half = 0.5 * np.log(C / 6.0)

        def f(s: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                v = np.asarray(law.function({"n_params": np.exp(half + s), "n_tokens": np.exp(half - s)}, P), dtype=float)
            v = np.broadcast_to(v, C.shape)
            return np.where(np.isfinite(v), v, np.inf)

        a, b = np.full(C.shape, -20.0), np.full(C.shape, 20.0)
        c, d = b - g * (b - a), a + g * (b - a)
        fc, fd = f(c), f(d)
        for _ in range(60):
            left = fc < fd
            b = np.where(left, d, b)
            a = np.where(left, a, c)
            c, d = b - g * (b - a), a + g * (b - a)
            fc, fd = f(c), f(d)
        return np.minimum(fc, fd)

    return L


def _multiplier(baseline: Callable[[np.ndarray], np.ndarray], target: np.ndarray, C: np.ndarray) -> np.ndarray:
    """k with baseline(k C) = target, by bisection in log k over e**-60 .. e**60.

    Assumes the baseline decreases with compute; inf where the target lies below the
    baseline at e**60 C (beyond its floor), 0 where above it at e**-60 C.
    """
    lo, hi = np.full(C.shape, -60.0), np.full(C.shape, 60.0)
    with np.errstate(all="ignore"):
        at_hi = baseline(C * np.exp(hi))
        at_lo = baseline(C * np.exp(lo))
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            above = baseline(C * np.exp(mid)) > target  # baseline still worse: need more compute
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        k = np.exp(0.5 * (lo + hi))
    k = np.where(target < at_hi, np.inf, k)
    k = np.where(target > at_lo, 0.0, k)
    return np.where(np.isfinite(target), k, np.nan)


def _refine(baseline: Callable[[np.ndarray], np.ndarray], variant: Callable[[np.ndarray], np.ndarray],
            guess: float, grid: np.ndarray) -> float:
    """Bisection in log compute for variant = baseline within the grid cell around ``guess``."""
    i = int(np.clip(np.searchsorted(grid, guess), 1, len(grid) - 1))
    lo, hi = math.log(grid[i - 1]), math.log(grid[i])

    def diff(u: float) -> float:
        c = np.array([[math.exp(u)]])
        return float(variant(c)[0, 0] - baseline(c)[0, 0])

    d_lo = diff(lo)
    if not math.isfinite(d_lo) or not math.isfinite(diff(hi)) or d_lo * diff(hi) > 0:
        return guess
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if diff(mid) * d_lo > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def _crossings(grid: np.ndarray, diff: np.ndarray) -> tuple[float, ...]:
    """Where ``diff`` changes sign along ``grid``, interpolated linearly in log compute."""
    out = []
    s = np.sign(diff)
    for i in range(len(grid) - 1):
        if not (np.isfinite(diff[i]) and np.isfinite(diff[i + 1])):
            continue
        if s[i] == 0:
            out.append(float(grid[i]))
        elif s[i] * s[i + 1] < 0:
            t = diff[i] / (diff[i] - diff[i + 1])
            out.append(float(np.exp(np.log(grid[i]) + t * (np.log(grid[i + 1]) - np.log(grid[i])))))
    return tuple(out)


__all__ = ["LadderComparison", "compare_ladders"]
