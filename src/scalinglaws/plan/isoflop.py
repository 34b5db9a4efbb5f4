"""IsoFLOP analysis: where the loss is lowest at each budget, and how that moves with C.

:func:`isoflop` is Approach 2 of Hoffmann et al. (2022; LAWS.md §3.5): group the runs by
compute budget, fit a curve of log loss against log N for each budget, take its minimum
N_opt(C), then fit ``n_opt(C) = k C^a`` and ``d_opt(C)`` by weighted least squares in
log-log space. :func:`envelope` is Approach 1 (§3.4): the lowest loss over training
curves at log-spaced FLOP values. :func:`fit_power_law` is the power-law fit both use.

Per budget
----------
- Curves: ``"parabola"`` (Hoffmann), ``"cubic"``, or ``"akima"``
  (:class:`scipy.interpolate.Akima1DInterpolator`, as Porian et al. 2024 do). The two
  polynomials can be fitted to the ``window`` points around the lowest measured loss
  instead of all of them.
- The minimum is located on a grid of ``25 (m - 1) + 1`` points over the sampled range
  of log N (m sizes), refined by a parabola through the best three grid points. A
  minimum at either end of the range is flagged ``at_edge``: the true optimum may lie
  outside the sampled sizes, so the budget is left out of the power-law fits (warning).
- Uncertainty, seeded: by default a bootstrap over the points of the budget (sizes
  resampled with replacement); with ``noise=`` a parametric bootstrap adding Gaussian
  noise of that standard deviation to log loss (Porian et al.'s "seed noise"). The
  spread ``n_opt_sd`` is the standard deviation of log N_opt over the draws with an
  interior minimum, floored at a third of the median spacing of log N and inflated by
  the share of draws whose minimum fell on the edge (Porian et al.'s rule); a budget
  where fewer than half of the draws have an interior minimum is flagged ``unstable``
  and left out. Resamples with too few distinct sizes to fit the curve are skipped.
- ``d_opt`` is read off the budget's own runs: log tokens interpolated linearly in
  log N at N_opt, so it holds under any FLOP convention.

Power laws
----------
Weighted least squares of ``log y`` on ``log C`` with weights ``1 / sd^2`` (Porian et
al.); the interval on exponent and coefficient comes from refitting the b-th bootstrap
optimum of every budget, for each draw b.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.data.runs import Runs, load_runs

Seed = int | np.random.Generator | None
METHODS: tuple[str, ...] = ("parabola", "cubic", "akima")
_DEGREE = {"parabola": 2, "cubic": 3}
_MIN_STD_FACTOR = 0.33


# --------------------------------------------------------------------------- power laws


@dataclass(frozen=True)
class PowerLawFit:
    """``y = coefficient * x ** exponent``, fitted in log-log space.

    Attributes
    ----------
    exponent, coefficient : float
    exponent_interval, coefficient_interval : (float, float) or None
        Percentile intervals at ``level`` over the refits of the draws.
    r2 : float
        Coefficient of determination of the (weighted) fit in log space.
    n_points : int
    weighted : bool
    x, y : str
        Names of the two quantities (for display).
    draws : array of shape (n_draws, 2) or None
        ``(exponent, coefficient)`` of each refit.
    """

    exponent: float
    coefficient: float
    r2: float
    n_points: int
    exponent_interval: tuple[float, float] | None = None
    coefficient_interval: tuple[float, float] | None = None
    level: float = 0.95
    weighted: bool = False
    x: str = "flops"
    y: str = "y"
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def predict(self, x: Any) -> Any:
        """``coefficient * x ** exponent``."""
        out = self.coefficient * np.asarray(x, dtype=float) ** self.exponent
        return out if np.ndim(out) else float(out)

    def predict_interval(self, x: Any, level: float | None = None) -> tuple[Any, Any]:
        """Percentile band of the prediction over the refits: (lower, upper)."""
        if self.draws is None or len(self.draws) < 2:
            raise FitError("this power-law fit has no draws: intervals are not available")
        lvl = self.level if level is None else level
        xs = np.asarray(x, dtype=float)
        pred = self.draws[:, 1:2] * xs.reshape(1, -1) ** self.draws[:, 0:1]
        lo, hi = np.percentile(pred, [(1 - lvl) / 2 * 100, (1 + lvl) / 2 * 100], axis=0)
        return lo.reshape(xs.shape), hi.reshape(xs.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "exponent": self.exponent,
            "coefficient": self.coefficient,
            "exponent_interval": None if self.exponent_interval is None else list(self.exponent_interval),
            "coefficient_interval": None if self.coefficient_interval is None else list(self.coefficient_interval),
            "level": self.level,
            "r2": self.r2,
            "n_points": self.n_points,
            "weighted": self.weighted,
        }

    def __repr__(self) -> str:
        ci = ""
        if self.exponent_interval is not None:
            ci = f" ({self.level:.0%}: {self.exponent_interval[0]:.4g} to {self.exponent_interval[1]:.4g})"
        return (
            f"PowerLawFit({self.y} = {self.coefficient:.4g} * {self.x}**{self.exponent:.4g}{ci}, "
            f"r2={self.r2:.4f}, {self.n_points} points{', weighted' if self.weighted else ''})"
        )


def _wls(logx: np.ndarray, logy: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares line; returns (slope, intercept, weighted r2)."""
    W = w / w.sum()
    mx, my = (W * logx).sum(), (W * logy).sum()
    sxx = (W * (logx - mx) ** 2).sum()
    if sxx <= 0:
        return math.nan, math.nan, math.nan
    slope = (W * (logx - mx) * (logy - my)).sum() / sxx
    intercept = my - slope * mx
    resid = logy - intercept - slope * logx
    tot = (W * (logy - my) ** 2).sum()
    r2 = 1.0 - (W * resid**2).sum() / tot if tot > 0 else 1.0
    return float(slope), float(intercept), float(r2)


def _wls_rows(lx: np.ndarray, LY: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted lines of each row of LY (R, n) on lx (n,) with weights W (R, n).

    Returns ``(slope, exp(intercept))`` for the rows with two distinct weighted x.
    """
    sw = W.sum(axis=1)
    keep = ((W > 0).sum(axis=1) >= 2) & (sw > 0)
    sw = np.where(keep, sw, 1.0)
    mx = (W * lx).sum(axis=1) / sw
    my = (W * LY).sum(axis=1) / sw
    dx = lx[None, :] - mx[:, None]
    sxx = (W * dx**2).sum(axis=1)
    keep &= sxx > 1e-300
    slope = (W * dx * (LY - my[:, None])).sum(axis=1) / np.where(keep, sxx, 1.0)
    out = np.column_stack([slope, np.exp(my - slope * mx)])
    return out[keep]


def fit_power_law(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    sd: Sequence[float] | np.ndarray | None = None,
    y_draws: np.ndarray | None = None,
    bootstrap: int = 0,
    seed: Seed = 0,
    level: float = 0.95,
    x_name: str = "flops",
    y_name: str = "y",
) -> PowerLawFit:
    """Fit ``y = k x^a`` by (weighted) least squares of ``log y`` on ``log x``.

    Parameters
    ----------
    x, y : array of shape (n,)
        Positive values.
    sd : array of shape (n,), optional
        Standard deviation of each ``log y``; weights are ``1 / sd^2``.
    y_draws : array of shape (n_draws, n), optional
        Draws of ``y`` (NaN where a draw failed); each row is refitted for the interval.
    bootstrap : int
        Without ``y_draws``: resample the points this many times for the interval.
    seed : int or Generator
    level : float

    Returns
    -------
    PowerLawFit

    Examples
    --------
    >>> c = np.array([1e18, 1e19, 1e20])
    >>> round(fit_power_law(c, 0.1 * c**0.5, y_name="n_opt").exponent, 6)
    0.5
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise DataError(f"x and y must be 1-D arrays of one shape, got {xs.shape} and {ys.shape}")
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    w = np.ones_like(xs)
    if sd is not None:
        s = np.asarray(sd, dtype=float)
        if s.shape != xs.shape:
            raise DataError(f"sd must have one value per point ({xs.size}), got shape {s.shape}")
        ok &= np.isfinite(s) & (s > 0)
        w = np.where(ok, 1.0 / np.where(ok, s, 1.0) ** 2, 0.0)
    if ok.sum() < 2 or np.unique(xs[ok]).size < 2:
        raise FitError(f"a power law needs at least 2 points with distinct positive x; got {int(ok.sum())}")
    lx, ly = np.log(xs[ok]), np.log(ys[ok])
    slope, intercept, r2 = _wls(lx, ly, w[ok])
    draws = None
    if y_draws is not None:
        Y = np.asarray(y_draws, dtype=float)
        if Y.ndim != 2 or Y.shape[1] != xs.size:
            raise DataError(f"y_draws must have shape (n_draws, {xs.size}), got {Y.shape}")
        Y = Y[:, ok]
        M = (np.isfinite(Y) & (Y > 0)).astype(float)
        draws = _wls_rows(lx, np.log(np.where(M > 0, Y, 1.0)), M * w[ok])
    elif bootstrap:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        n = lx.size
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=bootstrap).astype(float)
        draws = _wls_rows(lx, np.broadcast_to(ly, counts.shape), counts * w[ok])
    e_ci = c_ci = None
    if draws is not None and len(draws) >= 2:
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        e_ci = tuple(float(v) for v in np.percentile(draws[:, 0], q))
        c_ci = tuple(float(v) for v in np.percentile(draws[:, 1], q))
    return PowerLawFit(
        exponent=slope,
        coefficient=math.exp(intercept),
        r2=r2,
        n_points=int(ok.sum()),
        exponent_interval=e_ci,  # type: ignore[arg-type]
        coefficient_interval=c_ci,  # type: ignore[arg-type]
        level=level,
        weighted=sd is not None,
        x=x_name,
        y=y_name,
        draws=draws,
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class IsoFlop:
    """The result of an IsoFLOP analysis (Approach 2) or of a training-curve envelope (Approach 1).

    Attributes
    ----------
    optima : pandas.DataFrame
        One row per budget: ``flops, n_sizes, n_opt, n_opt_lo, n_opt_hi, n_opt_sd,
        d_opt, d_opt_lo, d_opt_hi, d_opt_sd, loss_opt, loss_opt_lo, loss_opt_hi,
        tokens_per_param, n_valid_draws, at_edge, unstable, used`` (``*_sd``: standard
        deviation of the log).
    n_opt, d_opt : PowerLawFit
        ``n_opt(C) = k C^a`` and ``d_opt(C)``, fitted on the ``used`` budgets.
    method : str
    level : float
    options : dict
    warnings : tuple of str
    """

    optima: pd.DataFrame
    n_opt: PowerLawFit
    d_opt: PowerLawFit
    method: str
    level: float = 0.95
    options: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        table = self.optima.astype(object).where(pd.notna(self.optima), None)
        return {
            "method": self.method,
            "level": self.level,
            "options": dict(self.options),
            "n_opt": self.n_opt.to_dict(),
            "d_opt": self.d_opt.to_dict(),
            "optima": table.to_dict(orient="records"),
            "warnings": list(self.warnings),
        }

    def report(self) -> str:
        """A plain-text table of the optima and the two power laws."""
        used = int(self.optima["used"].sum())
        lines = [f"IsoFLOP analysis ({self.method}): {len(self.optima)} budgets, {used} used in the fits"]
        lines.append(f"  {'flops':>10} {'sizes':>5} {'n_opt':>10} {'interval':>23} {'d_opt':>10} {'D/N':>7} {'loss':>8}  note")
        for r in self.optima.itertuples():
            note = "edge" if r.at_edge else ("unstable" if r.unstable else "")
            interval = f"{r.n_opt_lo:.3g} to {r.n_opt_hi:.3g}" if np.isfinite(r.n_opt_lo) else ""
            lines.append(
                f"  {r.flops:>10.4g} {r.n_sizes:>5d} {r.n_opt:>10.4g} {interval:>23} {r.d_opt:>10.4g} "
                f"{r.tokens_per_param:>7.3g} {r.loss_opt:>8.5g}  {note}"
            )
        for fit in (self.n_opt, self.d_opt):
            lines.append(f"  {fit.y}(C) = {fit.coefficient:.4g} * C^{fit.exponent:.4f}" + (
                f"   ({fit.level:.0%} interval of the exponent {fit.exponent_interval[0]:.4f} to {fit.exponent_interval[1]:.4f})"
                if fit.exponent_interval else "") + f"   r2 {fit.r2:.4f}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        used = int(self.optima["used"].sum())
        return (
            f"IsoFlop(method={self.method!r}, {len(self.optima)} budgets, {used} used; "
            f"n_opt ~ C^{self.n_opt.exponent:.4f}, d_opt ~ C^{self.d_opt.exponent:.4f})"
        )


# --------------------------------------------------------------------------- curve minima


def _grid_minimum(grid: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum of each column of V (G, B) over the grid (G,): refined x, value, at_edge."""
    G = len(grid)
    Vf = np.where(np.isfinite(V), V, np.inf)
    i = np.argmin(Vf, axis=0)
    cols = np.arange(V.shape[1])
    valid = np.isfinite(Vf[i, cols])
    finite_idx = np.isfinite(Vf)
    first = np.argmax(finite_idx, axis=0)
    last = G - 1 - np.argmax(finite_idx[::-1], axis=0)
    edge = (i <= first) | (i >= last)
    x = grid[i].astype(float)
    v = Vf[i, cols].astype(float)
    inner = valid & ~edge
    if inner.any():
        j = i[inner]
        c = cols[inner]
        y0, y1, y2 = Vf[j - 1, c], Vf[j, c], Vf[j + 1, c]
        den = y0 - 2 * y1 + y2
        h = grid[1] - grid[0]
        shift = np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0)
        shift = np.clip(shift, -1.0, 1.0)
        x[inner] = grid[j] + shift * h
        v[inner] = y1 - 0.25 * (y0 - y2) * shift
    x[~valid] = np.nan
    v[~valid] = np.nan
    return x, v, edge & valid


def _poly_curves(x: np.ndarray, Y: np.ndarray, counts: np.ndarray | None, deg: int, grid: np.ndarray) -> np.ndarray:
    """Least-squares polynomials of degree ``deg`` per column; values on the grid (G, B)."""
    xc = x.mean()
    V = np.vander(x - xc, deg + 1)  # (m, k)
    Vg = np.vander(grid - xc, deg + 1)  # (G, k)
    if counts is None:
        coef, *_ = np.linalg.lstsq(V, Y, rcond=None)  # (k, B)
        return Vg @ coef
    # weighted normal equations per draw: counts (B, m)
    M = np.einsum("bm,mi,mj->bij", counts, V, V)
    r = np.einsum("bm,mi,mb->bi", counts, V, Y)
    distinct = (counts > 0).sum(axis=1)
    ok = distinct >= deg + 1
    coef = np.full((counts.shape[0], deg + 1), np.nan)
    if ok.any():
        coef[ok] = np.linalg.solve(M[ok], r[ok][..., None])[..., 0]
    return Vg @ coef.T


def _akima_curves(x: np.ndarray, Y: np.ndarray, counts: np.ndarray | None, grid: np.ndarray) -> np.ndarray:
    from scipy.interpolate import Akima1DInterpolator  # lazily: scipy is slow to import

    if counts is None:
        return Akima1DInterpolator(x, Y, axis=0)(grid)
    out = np.full((len(grid), counts.shape[0]), np.nan)
    cache: dict[bytes, np.ndarray] = {}
    for b, row in enumerate(counts):
        keep = row > 0
        if keep.sum() < 3:
            continue
        key = keep.tobytes()
        if key not in cache:
            f = Akima1DInterpolator(x[keep], Y[keep, 0])
            vals = f(grid)
            vals[(grid < x[keep][0] - 1e-12) | (grid > x[keep][-1] + 1e-12)] = np.nan
            cache[key] = vals
        out[:, b] = cache[key]
    return out


def _curves(method: str, x: np.ndarray, Y: np.ndarray, counts: np.ndarray | None, grid: np.ndarray) -> np.ndarray:
    if method == "akima":
        return _akima_curves(x, Y, counts, grid)
    return _poly_curves(x, Y, counts, _DEGREE[method], grid)


# --------------------------------------------------------------------------- grouping


def _budget_groups(C: np.ndarray, bins: int | None) -> list[np.ndarray]:
    if bins is None:
        key = np.round(np.log(C) * 1e6).astype(np.int64)
    else:
        if not (isinstance(bins, int) and bins > 0):
            raise DataError(f"bins must be a positive integer (bins per decade of FLOPs), got {bins!r}")
        key = np.floor(np.log10(C) * bins + 0.5).astype(np.int64)
    return [np.flatnonzero(key == k) for k in np.unique(key)]


def _prepare(
    runs: Runs | pd.DataFrame | str, budget: str | None = "auto"
) -> tuple[Runs, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    if budget == "auto":
        # a sweep store records each run's designed budget; its measured flops differ slightly
        budget = "budget" if "budget" in runs.columns else "flops"
    budget = budget or "flops"
    runs.require(["n_params", "loss", budget], positive=["n_params", "loss", budget], purpose="an IsoFLOP analysis")
    N, L, C = runs.column("n_params"), runs.column("loss"), runs.column(budget)
    if "n_tokens" in runs.columns and np.all(np.isfinite(runs.column("n_tokens"))) and np.all(runs.column("n_tokens") > 0):
        D = runs.column("n_tokens")
    else:
        D = C / (6.0 * N)
    return runs, N, D, L, C


# --------------------------------------------------------------------------- Approach 2


def _profiles(N: np.ndarray, L: np.ndarray, D: np.ndarray, C: np.ndarray, bins: int | None, duplicates: str) -> list[tuple[float, pd.DataFrame]]:
    """Per budget: (budget, table of x = log N, y = log loss, t = log D sorted by x)."""
    out = []
    for idx in _budget_groups(C, bins):
        members = C[idx]
        budget = float(members[0]) if np.all(members == members[0]) else float(np.exp(np.mean(np.log(members))))
        x, y, t = np.log(N[idx]), np.log(L[idx]), np.log(D[idx])
        ux, inv = np.unique(x, return_inverse=True)
        counts = np.bincount(inv, minlength=ux.size)
        tt = np.bincount(inv, weights=t, minlength=ux.size) / counts
        if duplicates == "min":
            yy = np.full(ux.size, np.inf)
            np.minimum.at(yy, inv, y)
        else:
            yy = np.bincount(inv, weights=y, minlength=ux.size) / counts
        out.append((budget, pd.DataFrame({"x": ux, "y": yy, "t": tt})))
    return out


def estimate_noise(runs: Runs | pd.DataFrame | str, *, bins: int | None = None, duplicates: str = "min") -> float:
    """Noise of log loss in IsoFLOP profiles, estimated from the profiles themselves.

    Every four consecutive sizes of a budget are fitted by a parabola in log N; the
    residuals (one degree of freedom each) are pooled over all budgets. Curvature beyond
    a parabola over four neighbouring sizes inflates the estimate a little, so it errs
    on the side of wider intervals. Floored at 1e-4.

    Returns
    -------
    float
        Standard deviation of log loss.
    """
    _, N, D, L, C = _prepare(runs)
    ss, dof = 0.0, 0
    for _, agg in _profiles(N, L, D, C, bins, duplicates):
        x, y = agg["x"].to_numpy(), agg["y"].to_numpy()
        for i in range(len(x) - 3):
            xx, yy = x[i : i + 4], y[i : i + 4]
            res = yy - np.polyval(np.polyfit(xx - xx.mean(), yy, 2), xx - xx.mean())
            ss += float((res**2).sum())
            dof += 1
    if dof == 0:
        raise DataError("estimating the noise of log loss needs a budget with at least 4 model sizes; pass noise=...")
    return max(math.sqrt(ss / dof), 1e-4)



def isoflop(
    runs: Runs | pd.DataFrame | str,
    *,
    method: str = "parabola",
    window: int | None = None,
    bins: int | None = None,
    duplicates: str = "min",
    bootstrap: int = 200,
    noise: str | float | Callable[[np.ndarray], np.ndarray] | None = "auto",
    weighted: bool = True,
    seed: Seed = 0,
    level: float = 0.95,
    budget: str | None = "auto",
) -> IsoFlop:
    """IsoFLOP profiles (Hoffmann et al. Approach 2): per-budget optima and their power laws.

    Parameters
    ----------
    runs : Runs, DataFrame or path
        Final losses of runs with ``n_params``, ``flops`` (the budget) and ``loss``;
        ``n_tokens`` if known (else ``flops / (6 n_params)``).
    method : {"parabola", "cubic", "akima"}
        The curve of log loss in log N fitted at each budget.
    window : int, optional
        Fit the parabola or cubic to this many sizes around the lowest measured loss
        (default: all sizes). Ignored by ``akima``.
    bins : int, optional
        Group budgets into bins of ``1/bins`` decade (default: exact budgets).
    budget : str, optional
        The column giving each run's budget. ``"auto"`` (default) uses ``budget``
        when the runs have it (a sweep store records the designed budget, which the
        measured ``flops`` only approximate), else ``flops``.
    duplicates : {"min", "mean"}
        Several runs of one size at one budget (seeds, learning rates): keep the lowest
        loss (default) or average the log losses.
    bootstrap : int
        Draws per budget for the uncertainty (0: none; then the fits are unweighted).
    noise : "auto", float, callable or None
        How the bootstrap perturbs a budget. ``None``: resample its sizes with
        replacement. A float: add Gaussian noise of that standard deviation to log loss
        (a callable gets the losses and returns one standard deviation per run).
        ``"auto"`` (default): resample for ``parabola`` and ``cubic``; for ``akima``,
        which interpolates and so has no residuals to resample, add noise with the
        standard deviation estimated from the data (:func:`estimate_noise`).
    weighted : bool
        Weight the power-law fits by ``1 / sd^2`` of the per-budget optima.
    seed : int or Generator
    level : float

    Returns
    -------
    IsoFlop

    Raises
    ------
    DataError
        If a budget has fewer sizes than the curve needs (3; 4 for ``cubic``) or there
        are fewer than 2 budgets.
    FitError
        If fewer than 2 budgets have their minimum inside the sampled sizes.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [(c, n, 1.7 + 400 / n**0.34 + 410 / (c / 6 / n)**0.28)
    ...         for c in (1e18, 1e19, 1e20) for n in np.geomspace(1e7, 1e10, 9)]
    >>> df = pd.DataFrame(rows, columns=["flops", "n_params", "loss"])
    >>> round(isoflop(df, bootstrap=0).n_opt.exponent, 2)
    0.46
    """
    if method not in METHODS:
        raise FitError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if duplicates not in ("min", "mean"):
        raise FitError(f"duplicates must be 'min' or 'mean', got {duplicates!r}")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise FitError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
    need = 4 if method == "cubic" else 3
    if window is not None and method != "akima" and (not isinstance(window, int) or window < need):
        raise FitError(f"window must be an integer of at least {need} for {method}, got {window!r}")
    if isinstance(noise, str) and noise != "auto":
        raise FitError(f"noise must be 'auto', None, a standard deviation of log loss or a function, got {noise!r}")
    if isinstance(noise, (int, float)) and not (noise > 0 and math.isfinite(noise)):
        raise FitError(f"noise must be a positive standard deviation of log loss, got {noise!r}")
    runs, N, D, L, C = _prepare(runs, budget)
    if noise == "auto":
        noise = estimate_noise(runs, bins=bins, duplicates=duplicates) if method == "akima" else None
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    profiles = _profiles(N, L, D, C, bins, duplicates)
    if len(profiles) < 2:
        raise DataError(
            f"an IsoFLOP analysis needs runs at 2 or more budgets; all {len(C)} runs share one budget "
            f"({C[0]:.4g} FLOPs)" + ("" if bins is None else f" with bins={bins}")
        )
    rows = []
    n_draws_all: list[np.ndarray] = []
    d_draws_all: list[np.ndarray] = []
    for budget, agg in profiles:
        m = len(agg)
        if m < need:
            sizes = ", ".join(f"{v:.3g}" for v in np.exp(agg["x"]))
            raise DataError(
                f"budget {budget:.4g} FLOPs has {m} model size{'s' if m != 1 else ''} ({sizes}); "
                f"an IsoFLOP {method} needs at least {need} per budget: drop it (where=...), add runs, "
                "or group nearby budgets with bins=..."
            )
        x, y, t = agg["x"].to_numpy(), agg["y"].to_numpy(), agg["t"].to_numpy()
        if window is not None and method != "akima" and m > window:
            best = int(np.argmin(y))
            lo = max(0, min(best - window // 2, m - window))
            sel = slice(lo, lo + window)
            x, y, t = x[sel], y[sel], t[sel]
        k = len(x)
        grid = np.linspace(x[0], x[-1], 25 * (k - 1) + 1)
        V0 = _curves(method, x, y[:, None], None, grid)
        xs0, vs0, edge0 = _grid_minimum(grid, V0)
        x_star, v_star, at_edge = float(xs0[0]), float(vs0[0]), bool(edge0[0])

        x_draws = np.full(bootstrap, np.nan)
        v_draws = np.full(bootstrap, np.nan)
        if bootstrap:
            if noise is None:
                counts = rng.multinomial(k, np.full(k, 1.0 / k), size=bootstrap).astype(float)
                V = _curves(method, x, y[:, None], counts, grid)
            else:
                sd = noise(np.exp(y)) if callable(noise) else np.full(k, float(noise))
                Y = y[:, None] + np.asarray(sd, dtype=float).reshape(k, 1) * rng.standard_normal((k, bootstrap))
                V = _curves(method, x, Y, None, grid)
            xb, vb, eb = _grid_minimum(grid, V)
            fitted = np.isfinite(xb)  # draws whose curve could be fitted (enough distinct sizes)
            good = fitted & ~eb
            x_draws[good], v_draws[good] = xb[good], vb[good]
            n_fitted = int(fitted.sum())
        else:
            n_fitted = 0
        n_valid = int(np.isfinite(x_draws).sum())
        spacing = float(np.median(np.diff(x)))
        t_of = lambda v: np.interp(v, x, t)  # noqa: E731
        sd_n = sd_d = math.nan
        unstable = bool(bootstrap) and n_valid < max(n_fitted, 1) / 2
        if bootstrap and n_valid >= 2:
            inflate = n_fitted / n_valid
            sd_n = max(float(np.nanstd(x_draws)), _MIN_STD_FACTOR * spacing) * inflate
            tspacing = float(np.median(np.abs(np.diff(t))))
            sd_d = max(float(np.nanstd(t_of(x_draws[np.isfinite(x_draws)]))), _MIN_STD_FACTOR * tspacing) * inflate
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        valid = np.isfinite(x_draws)
        ci_n = np.exp(np.percentile(x_draws[valid], q)) if n_valid >= 2 else (math.nan, math.nan)
        ci_d = np.exp(np.percentile(t_of(x_draws[valid]), q)) if n_valid >= 2 else (math.nan, math.nan)
        ci_l = np.exp(np.percentile(v_draws[valid], q)) if n_valid >= 2 else (math.nan, math.nan)
        n_star = math.exp(x_star) if np.isfinite(x_star) else math.nan
        d_star = math.exp(float(t_of(x_star))) if np.isfinite(x_star) else math.nan
        rows.append({
            "flops": budget, "n_sizes": m, "n_opt": n_star, "n_opt_lo": ci_n[0], "n_opt_hi": ci_n[1], "n_opt_sd": sd_n,
            "d_opt": d_star, "d_opt_lo": ci_d[0], "d_opt_hi": ci_d[1], "d_opt_sd": sd_d,
            "loss_opt": math.exp(v_star) if np.isfinite(v_star) else math.nan, "loss_opt_lo": ci_l[0], "loss_opt_hi": ci_l[1],
            "tokens_per_param": d_star / n_star, "n_valid_draws": n_valid, "at_edge": at_edge, "unstable": unstable,
        })  # fmt: skip
        n_draws_all.append(np.exp(x_draws))
        d_draws_all.append(np.exp(np.where(valid, t_of(np.where(valid, x_draws, x[0])), np.nan)))
    optima = pd.DataFrame(rows)
    optima["used"] = ~optima["at_edge"] & ~optima["unstable"] & np.isfinite(optima["n_opt"])
    notes = _notes(optima)
    for note in notes:
        warnings.warn(note, ScalingLawsWarning, stacklevel=2)
    used = optima["used"].to_numpy()
    if used.sum() < 2:
        raise FitError(
            f"only {int(used.sum())} of {len(optima)} budgets have their minimum inside the sampled sizes; "
            "the power laws need 2: sample sizes around the optimum of each budget"
        )
    nd = np.array(n_draws_all).T[:, used] if bootstrap else None
    dd = np.array(d_draws_all).T[:, used] if bootstrap else None
    use_w = weighted and bool(bootstrap)
    sub = optima[used]
    n_fit = fit_power_law(sub["flops"], sub["n_opt"], sd=sub["n_opt_sd"] if use_w else None, y_draws=nd, level=level, y_name="n_opt")
    d_fit = fit_power_law(sub["flops"], sub["d_opt"], sd=sub["d_opt_sd"] if use_w else None, y_draws=dd, level=level, y_name="d_opt")
    options = {"window": window, "bins": bins, "duplicates": duplicates, "bootstrap": bootstrap,
               "noise": None if noise is None else (float(noise) if isinstance(noise, (int, float)) else "callable"),
               "weighted": use_w, "seed": seed if isinstance(seed, int) or seed is None else "generator",
               "data": runs.source, "data_fingerprint": runs.fingerprint()}  # fmt: skip
    return IsoFlop(optima=optima, n_opt=n_fit, d_opt=d_fit, method=method, level=level, options=options, warnings=tuple(notes))


def _notes(optima: pd.DataFrame) -> list[str]:
    notes = []
    edge = optima.loc[optima["at_edge"], "flops"]
    if len(edge):
        many = len(edge) > 1
        notes.append(
            f"{len(edge)} budget{'s' if many else ''} ({', '.join(f'{c:.3g}' for c in edge)} FLOPs) "
            f"{'have their' if many else 'has its'} minimum at the edge of the sampled sizes; left out of the "
            "power-law fits (sample sizes beyond that edge)"
        )
    unstable = optima.loc[optima["unstable"] & ~optima["at_edge"], "flops"]
    if len(unstable):
        many = len(unstable) > 1
        notes.append(
            f"{len(unstable)} budget{'s' if many else ''} ({', '.join(f'{c:.3g}' for c in unstable)} FLOPs) "
            f"{'have a minimum' if many else 'has a minimum'} that fewer than half of the bootstrap draws locate "
            "inside the sampled sizes (a flat valley); left out of the power-law fits"
        )
    return notes


# --------------------------------------------------------------------------- Approach 1


def envelope(
    curves: Runs | pd.DataFrame | str,
    *,
    run_column: str = "run_id",
    n_points: int = 100,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> IsoFlop:
    """The envelope of training curves (Hoffmann et al. Approach 1).

    Parameters
    ----------
    curves : Runs, DataFrame or path
        A long table, one row per checkpoint: ``run_column``, ``n_params`` (per run),
        ``n_tokens`` seen so far (or ``flops``) and ``loss``.
    run_column : str
        The column naming the run of each checkpoint.
    n_points : int
        Log-spaced FLOP values at which the lowest loss over runs is taken.
    bootstrap : int
        Resamples of the runs for intervals on the power laws (0: none).
    seed : int or Generator
    level : float

    Returns
    -------
    IsoFlop
        ``method = "envelope"``; one row of ``optima`` per FLOP value. A FLOP value whose
        best run is the smallest or the largest model covering it is flagged ``at_edge``
        and left out of the fits.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [(f"r{i}", n, d, 1.7 + 400 / n**0.34 + 410 / d**0.28)
    ...         for i, n in enumerate(np.geomspace(1e7, 1e10, 16)) for d in np.geomspace(1e8, 1e12, 40)]
    >>> df = pd.DataFrame(rows, columns=["run_id", "n_params", "n_tokens", "loss"])
    >>> round(envelope(df, bootstrap=0).n_opt.exponent, 2)
    0.45
    """
    if not isinstance(curves, Runs):
        curves = load_runs(curves)
    if run_column not in curves.columns:
        raise DataError(f"column {run_column!r} naming the run of each checkpoint is missing (columns: {', '.join(curves.columns)})")
    if not (isinstance(n_points, int) and n_points >= 2):
        raise FitError(f"n_points must be an integer of at least 2, got {n_points!r}")
    _, N, D, L, C = _prepare(curves)
    ids = curves.data[run_column].astype(str).to_numpy()
    runs = []
    for rid in pd.unique(ids):
        m = ids == rid
        order = np.argsort(C[m])
        n_vals = np.unique(N[m])
        if n_vals.size != 1:
            raise DataError(f"run {rid!r} has several n_params values ({', '.join(f'{v:.3g}' for v in n_vals)}); one per run")
        runs.append((float(n_vals[0]), np.log(C[m][order]), np.log(L[m][order]), np.log(D[m][order])))
    if len(runs) < 2:
        raise DataError(f"the envelope needs training curves of 2 or more runs; got {len(runs)}")
    lo = min(r[1][0] for r in runs)
    hi = max(r[1][-1] for r in runs)
    grid = np.linspace(lo, hi, n_points)
    sizes = np.array([r[0] for r in runs])
    # loss of each run at each FLOP value (NaN outside its curve): (R, G)
    Lg = np.full((len(runs), n_points), np.nan)
    Dg = np.full((len(runs), n_points), np.nan)
    for i, (_, lc, ll, ld) in enumerate(runs):
        inside = (grid >= lc[0] - 1e-12) & (grid <= lc[-1] + 1e-12)
        if len(lc) >= 2:
            Lg[i, inside] = np.interp(grid[inside], lc, ll)
            Dg[i, inside] = np.interp(grid[inside], lc, ld)

    def pick(members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Lm = Lg[members]
        cover = np.isfinite(Lm)
        ok = cover.sum(axis=0) >= 2
        j = np.argmin(np.where(cover, Lm, np.inf), axis=0)
        best_n = sizes[members][j]
        smin = np.where(cover, sizes[members][:, None], np.inf).min(axis=0)
        smax = np.where(cover, sizes[members][:, None], -np.inf).max(axis=0)
        edge = (best_n <= smin) | (best_n >= smax)
        cols = np.arange(n_points)
        return (np.where(ok, best_n, np.nan), np.where(ok, np.exp(Dg[members][j, cols]), np.nan),
                np.where(ok, np.exp(Lm[j, cols]), np.nan), ok & ~edge)

    n_best, d_best, l_best, used = pick(np.arange(len(runs)))
    optima = pd.DataFrame({
        "flops": np.exp(grid), "n_opt": n_best, "d_opt": d_best, "loss_opt": l_best,
        "tokens_per_param": d_best / n_best, "n_covering": np.isfinite(Lg).sum(axis=0),
        "at_edge": np.isfinite(n_best) & ~used, "used": used,
    })  # fmt: skip
    if used.sum() < 2 or np.unique(n_best[used]).size < 2:
        raise FitError("the envelope's best run is the smallest or largest model at almost every FLOP value; "
                       "the power laws need optima strictly inside the sampled sizes")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    nd = dd = None
    if bootstrap:
        nd = np.full((bootstrap, n_points), np.nan)
        dd = np.full((bootstrap, n_points), np.nan)
        for b in range(bootstrap):
            members = np.unique(rng.integers(0, len(runs), len(runs)))
            if members.size < 3:
                continue
            nb, db, _, ub = pick(members)
            nd[b, ub], dd[b, ub] = nb[ub], db[ub]
        nd, dd = nd[:, used], dd[:, used]
    sub = optima[used]
    n_fit = fit_power_law(sub["flops"], sub["n_opt"], y_draws=nd, level=level, y_name="n_opt")
    d_fit = fit_power_law(sub["flops"], sub["d_opt"], y_draws=dd, level=level, y_name="d_opt")
    options = {"run_column": run_column, "n_points": n_points, "bootstrap": bootstrap,
               "seed": seed if isinstance(seed, int) or seed is None else "generator", "data": curves.source}
    return IsoFlop(optima=optima, n_opt=n_fit, d_opt=d_fit, method="envelope", level=level, options=options)


__all__ = ["METHODS", "IsoFlop", "PowerLawFit", "envelope", "estimate_noise", "fit_power_law", "isoflop"]
