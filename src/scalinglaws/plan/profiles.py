"""IsoFLOP profiles: the runs of each budget, the curve fitted through them, its minimum.

A profile is one budget's runs as ``x = log N``, ``y = log loss`` and ``t = log D``,
sorted by size. Its curve is one of

- ``"parabola"``: least squares of loss on ``log N`` (Hoffmann et al. 2022, Approach 2),
  minimum at the vertex ``-b / 2a``;
- ``"cubic"``: the same with a cubic, minimum located on a grid;
- ``"akima"``: :class:`scipy.interpolate.Akima1DInterpolator` of log loss in ``log N``
  (Porian et al. 2024), minimum located on a grid of ``25 (m - 1) + 1`` points refined by
  a parabola through the best three.

Each fit takes draws at once: columns of ``Y`` (perturbed log losses) or rows of
``counts`` (bootstrap multiplicities of the sizes). A minimum at either end of the
sampled range (or a parabola opening downwards) is flagged ``at_edge``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError, ScalingLawsWarning
from scalinglaws.plan.budgets import Grouping, group_budgets
from scalinglaws.plan.powerlaw import batched_lstsq

METHODS: tuple[str, ...] = ("parabola", "cubic", "akima")
_DEGREE = {"parabola": 2, "cubic": 3}


def needed_sizes(method: str) -> int:
    """Distinct sizes a budget needs for ``method``'s curve."""
    return 4 if method == "cubic" else 3


def prepare(runs: Runs | pd.DataFrame | str, budget: str | None = "auto", *,
            warn: bool = True) -> tuple[Runs, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs and their ``N, D, L, C`` arrays, plus the row index of each kept run.

    Runs whose loss is missing, zero or negative are dropped with a warning."""
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    if budget == "auto":
        # a sweep store records each run's designed budget; its measured flops differ slightly
        budget = "budget" if "budget" in runs.columns else "flops"
    budget = budget or "flops"
    runs.require(["n_params", budget], positive=["n_params", budget], purpose="an IsoFLOP analysis")
    N, L, C = runs.column("n_params"), runs.column("loss"), runs.column(budget)  # column() names a missing loss
    ok = np.isfinite(L) & (L > 0)
    if not ok.all() and warn:
        warnings.warn(f"{int((~ok).sum())} run{'s' if (~ok).sum() != 1 else ''} with a missing, zero or negative "
                      "loss left out of the IsoFLOP analysis", ScalingLawsWarning, stacklevel=3)
    if ok.sum() == 0:
        raise DataError("no run has a positive loss: nothing to analyse")
    tokens = runs.column("n_tokens") if "n_tokens" in runs.columns else None
    if tokens is not None and np.all(np.isfinite(tokens[ok])) and np.all(tokens[ok] > 0):
        D = tokens
    else:
        D = C / (6.0 * N)
    rows = np.flatnonzero(ok)
    return runs, N[ok], D[ok], L[ok], C[ok], rows


def profiles(N: np.ndarray, L: np.ndarray, D: np.ndarray, C: np.ndarray, grouping: Grouping,
             duplicates: str) -> list[tuple[float, pd.DataFrame]]:
    """Per budget: (budget, table of ``x = log N``, ``y = log loss``, ``t = log D`` sorted by x).

    Several runs of one size keep the lowest loss (``"min"``) or the mean log loss."""
    out = []
    for budget, idx in zip(grouping.budgets, grouping.members):
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


# --------------------------------------------------------------------------- curves


def poly_coefs(x: np.ndarray, V: np.ndarray, counts: np.ndarray | None, deg: int) -> np.ndarray:
    """Least-squares polynomials of ``V`` (m, B) in ``x - mean(x)``: coefficients (B, deg + 1),
    highest power first (NaN where a draw has too few distinct sizes)."""
    A = np.vander(x - x.mean(), deg + 1)
    if counts is None:
        return np.linalg.lstsq(A, V, rcond=None)[0].T
    return batched_lstsq(A, np.broadcast_to(V[:, 0], counts.shape), counts)


def parabola_vertex(x: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex of each parabola (B, 3): location in x, value, and at_edge (the vertex lies
    outside the sampled range or the parabola opens downwards)."""
    a, b, c = coef[:, 0], coef[:, 1], coef[:, 2]
    valid = np.all(np.isfinite(coef), axis=1)
    convex = valid & (a > 0)
    u = np.where(convex, -b / (2 * np.where(convex, a, 1.0)), np.nan)
    xc = x.mean()
    inside = convex & (u + xc > x[0]) & (u + xc < x[-1])
    value = np.where(inside, c - b * b / (4 * np.where(convex, a, 1.0)), np.nan)
    xs = np.where(inside, u + xc, np.nan)
    return xs, value, valid & ~inside


def grid_minimum(grid: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        j, c = i[inner], cols[inner]
        y0, y1, y2 = Vf[j - 1, c], Vf[j, c], Vf[j + 1, c]
        den = y0 - 2 * y1 + y2
        h = grid[1] - grid[0]
        shift = np.clip(np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0), -1.0, 1.0)
        x[inner] = grid[j] + shift * h
        v[inner] = y1 - 0.25 * (y0 - y2) * shift
    x[~(valid & ~edge)] = np.nan
    v[~(valid & ~edge)] = np.nan
    return x, v, edge & valid


def _akima(x: np.ndarray, Y: np.ndarray, counts: np.ndarray | None, grid: np.ndarray) -> np.ndarray:
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
            vals = Akima1DInterpolator(x[keep], Y[keep, 0])(grid)
            vals[(grid < x[keep][0] - 1e-12) | (grid > x[keep][-1] + 1e-12)] = np.nan
            cache[key] = vals
        out[:, b] = cache[key]
    return out


def curve_minima(method: str, x: np.ndarray, Y: np.ndarray,
                 counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum of each draw's curve through ``(x, Y[:, b])`` (Y: log losses, (m, B)).

    Returns ``log N`` at the minimum, log loss there, and at_edge (B,) each; NaN where a
    draw cannot be fitted or its minimum is at the edge."""
    if method == "parabola":
        xs, value, edge = parabola_vertex(x, poly_coefs(x, np.exp(Y), counts, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            logv = np.where(value > 0, np.log(np.where(value > 0, value, 1.0)), np.nan)
        bad = np.isfinite(xs) & ~np.isfinite(logv)  # a vertex at zero or negative loss: no valid minimum
        return np.where(bad, np.nan, xs), logv, edge | bad
    grid = np.linspace(x[0], x[-1], 25 * (len(x) - 1) + 1)
    V = curve_values(method, x, Y, counts, grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "cubic":
            V = np.where(V > 0, np.log(np.where(V > 0, V, 1.0)), np.nan)
    return grid_minimum(grid, V)


def curve_values(method: str, x: np.ndarray, Y: np.ndarray, counts: np.ndarray | None,
                 grid: np.ndarray) -> np.ndarray:
    """Each draw's curve on ``grid`` (G, B): loss for the polynomials, log loss for akima."""
    if method == "akima":
        return _akima(x, Y, counts, grid)
    coef = poly_coefs(x, np.exp(Y), counts, _DEGREE[method])
    return np.vander(grid - x.mean(), _DEGREE[method] + 1) @ coef.T


def fitted_curve(method: str, x: np.ndarray, y: np.ndarray, points: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curve of one budget on a dense grid over its sizes: (N, loss)."""
    grid = np.linspace(x[0], x[-1], points)
    v = curve_values(method, x, y[:, None], None, grid)[:, 0]
    return np.exp(grid), (np.exp(v) if method == "akima" else v)


def estimate_noise(runs: Runs | pd.DataFrame | str, *, bins: int | str | None = "auto", duplicates: str = "min") -> float:
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
    _, N, D, L, C, _ = prepare(runs, warn=False)
    ss, dof = 0.0, 0
    for _, agg in profiles(N, L, D, C, group_budgets(C, N, bins=bins), duplicates):
        x, y = agg["x"].to_numpy(), agg["y"].to_numpy()
        for i in range(len(x) - 3):
            xx, yy = x[i : i + 4], y[i : i + 4]
            res = yy - np.polyval(np.polyfit(xx - xx.mean(), yy, 2), xx - xx.mean())
            ss += float((res**2).sum())
            dof += 1
    if dof == 0:
        raise DataError("estimating the noise of log loss needs a budget with at least 4 model sizes; pass noise=...")
    return max(math.sqrt(ss / dof), 1e-4)


__all__ = ["METHODS", "curve_minima", "curve_values", "estimate_noise", "fitted_curve", "grid_minimum",
           "needed_sizes", "parabola_vertex", "prepare", "profiles"]
