"""Figures of a fit: the law with its bootstrap band over the runs, a learning curve
extrapolated, log residuals, and the pairwise bootstrap distributions of the parameters.

Held-out runs are drawn hollow, so the figures read in grey too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.predict import default_by, predict_runs
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, FitError
from scalinglaws.plan.budgets import cluster_budgets
from scalinglaws.render.style import (
    DATA_COLOR,
    FIT_COLOR,
    HELD_COLOR,
    axis_label,
    cycle,
    finish,
    new_axes,
    new_figure,
    plain_ticks,
    ylim_from_lines,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def fit(
    fit: Fit,
    runs: Runs | Any = None,
    *,
    x: str | None = None,
    color_by: str | None = None,
    holdout: Sequence[bool] | np.ndarray | None = None,
    validation: Any = None,
    level: float = 0.9,
    extend_to: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Loss against a scale column on log axes, with the fitted law and its bootstrap band.

    Parameters
    ----------
    fit : Fit
    runs : Runs or DataFrame, optional
        The runs to draw (usually those fitted, plus held-out ones).
    x : str, optional
        Column on the horizontal axis. Default: the variable of a one-variable law;
        for a law of several variables ``n_params`` (or its first variable).
    color_by : str, optional
        For laws of several variables, the column that splits the runs into coloured
        groups (binned in log when it has more than 8 values); default ``flops`` or the
        law's grouping column. Each group's predictions are joined by a line.
    holdout : boolean array of shape (n_runs,), optional
        Runs held out of the fit, drawn hollow.
    validation : Validation, optional
        Takes ``holdout`` from a :class:`~scalinglaws.judge.validate.Validation` table.
    level : float
        Level of the band (needs bootstrap draws in ``fit``).
    extend_to : float, optional
        Draw a one-variable law's curve up to this value (extrapolation shaded).
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax)
    runs = _runs(runs)
    target = (fit.options.get("target") or "loss")
    mapping = dict(fit.options.get("variables") or {})
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    held = _held(runs, holdout, validation)
    if len(numeric) == 1:
        var = numeric[0]
        col = x or mapping.get(var, var)
        lo, hi = _range(runs, col)
        if extend_to is not None:
            hi = max(hi, float(extend_to))
        if runs is not None and fit.law.categorical:
            _grouped_curves(ax, fit, runs, col, fit.law.categorical[0], held, target)
        else:
            grid = np.geomspace(lo, hi, 300)
            _curve(ax, fit, {var: grid}, grid, level, label=f"{fit.law.name} fit")
            if runs is not None:
                _points(ax, runs.column(col), runs.column(target), held)
        if runs is not None:
            trained_max = float(np.max(runs.column(col)[~held])) if (~held).any() else hi
            if hi > trained_max * 1.0001:
                ax.axvspan(trained_max, hi, color="#999999", alpha=0.12, lw=0, label="extrapolation")
    else:
        if runs is None:
            raise DataError("a law of several variables is drawn at the runs: pass runs")
        col = x or ("n_params" if "n_params" in runs.columns else mapping.get(numeric[0], numeric[0]))
        by = color_by or (fit.law.categorical[0] if fit.law.categorical else "flops" if "flops" in runs.columns else None)
        _grouped_curves(ax, fit, runs, col, by, held, target)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ylim_from_lines(ax)
    plain_ticks(ax.xaxis, *ax.get_xlim())
    ax.set_xlabel(axis_label(col))
    ax.set_ylabel(target)
    ax.set_title(title or f"{fit.law.name} fitted to {fit.n_runs} runs")
    finish(ax)
    return fig


def learning_curve(
    fit: Fit,
    runs: Runs | Any = None,
    *,
    extend_to: float | None = None,
    holdout: Sequence[bool] | np.ndarray | None = None,
    validation: Any = None,
    level: float = 0.9,
    ax: Axes | None = None,
) -> Figure:
    """A one-variable learning curve extrapolated to ``extend_to`` (default: 10 times the
    largest x), the extrapolated range shaded, held-out runs hollow."""
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(numeric) != 1:
        raise FitError(f"learning_curve draws a law of one variable; {fit.law.name!r} has {numeric}")
    runs = _runs(runs)
    if extend_to is None:
        col = dict(fit.options.get("variables") or {}).get(numeric[0], numeric[0])
        extend_to = 10 * _range(runs, col)[1] if runs is not None else None
    return globals()["fit"](fit, runs, holdout=holdout, validation=validation, level=level, extend_to=extend_to,
                            ax=ax, title=f"Learning curve: {fit.law.name}")


def residuals(fit: Fit, runs: Runs | Any, *, x: str | None = None) -> Figure:
    """Log residuals ``log(actual) - log(predicted)`` against a scale column and against
    the prediction, with the Huber threshold drawn when the fit used it."""

    runs = _runs(runs)
    if runs is None:
        raise DataError("residuals need the runs")
    target = (fit.options.get("target") or "loss")
    col = x or default_by(fit.law, runs, fit.options.get("variables"))
    pred = predict_runs(fit, runs)
    with np.errstate(all="ignore"):
        r = np.log(runs.column(target)) - np.log(pred)
    fig = new_figure((10, 4.0))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.13, top=0.88, wspace=0.06)
    a1, a2 = fig.subplots(1, 2, sharey=True)
    for ax, xs, name, logx in ((a1, runs.column(col), col, True), (a2, pred, f"predicted {target}", True)):
        ax.axhline(0, color="#555555", lw=1)
        if fit.options.get("loss") == "huber":
            d = float(fit.options.get("delta", 1e-3))
            for s in (-d, d):
                ax.axhline(s, color="#999999", lw=0.8, ls=":")
        ax.scatter(xs, r, s=18, color=FIT_COLOR, alpha=0.8, edgecolor="none")
        if logx:
            ax.set_xscale("log")
            finite = np.asarray(xs, float)[np.isfinite(xs) & (np.asarray(xs, float) > 0)]
            if finite.size:
                plain_ticks(ax.xaxis, float(finite.min()), float(finite.max()))
        ax.set_xlabel(axis_label(name))
        ax.grid(True, alpha=0.3)
    a1.set_ylabel(f"log {target} residual (actual - fit)")
    fig.suptitle(f"Residuals of {fit.law.name}: RMS {np.sqrt(np.nanmean(r ** 2)):.3g}")
    return fig


def bootstrap(fit: Fit, params: Sequence[str] | None = None, *, max_params: int = 6) -> Figure:
    """Pairwise bootstrap distributions of the free parameters: histograms on the
    diagonal, scatter below it, the point estimate marked."""
    if fit.draws is None:
        raise FitError("this fit has no bootstrap draws: fit again with bootstrap=200 (or any number > 0)")
    names = list(params or fit.free_params)[:max_params]
    unknown = [n for n in names if n not in fit.free_params]
    if unknown:
        raise FitError(f"no free parameter {unknown[0]!r}; the fit has {list(fit.free_params)}")
    idx = [list(fit.free_params).index(n) for n in names]
    d = fit.draws[np.all(np.isfinite(fit.draws), axis=1)][:, idx]
    if len(d) < 2:
        raise FitError("fewer than 2 bootstrap refits converged: nothing to draw")
    k = len(names)
    w, h = 2.2 * k + 0.9, 2.2 * k + 0.7
    fig = new_figure((w, h))
    fig.subplots_adjust(left=0.9 / w, right=1 - 0.15 / w, bottom=0.6 / h, top=1 - 0.45 / h, wspace=0.12, hspace=0.12)
    axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
    logs = [fit.law.param(n).log and bool(np.all(d[:, j] > 0)) for j, n in enumerate(names)]
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            xi = np.log10(d[:, j]) if logs[j] else d[:, j]
            px = math.log10(fit.params[names[j]]) if logs[j] else fit.params[names[j]]
            if i == j:
                ax.hist(xi, bins=min(30, max(5, len(d) // 8)), color=FIT_COLOR, alpha=0.75)
                ax.axvline(px, color=HELD_COLOR, lw=1.2)
                ax.set_yticks([])
            else:
                yi = np.log10(d[:, i]) if logs[i] else d[:, i]
                py = math.log10(fit.params[names[i]]) if logs[i] else fit.params[names[i]]
                ax.scatter(xi, yi, s=5, color=FIT_COLOR, alpha=0.4, edgecolor="none")
                ax.scatter([px], [py], marker="x", s=40, color=HELD_COLOR)
            if i == k - 1:
                ax.set_xlabel(("log10 " if logs[j] else "") + names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(("log10 " if logs[i] else "") + names[i])
            ax.tick_params(labelsize=7)
    fig.suptitle(f"Bootstrap of {fit.law.name}: {len(d)} refits")
    return fig


def _runs(runs: Any) -> Runs | None:
    if runs is None or isinstance(runs, Runs):
        return runs
    return load_runs(runs)


def _held(runs: Runs | None, holdout: Any, validation: Any) -> np.ndarray:
    n = 0 if runs is None else len(runs)
    held = np.zeros(n, dtype=bool)
    if validation is not None and runs is not None:
        rows = validation.table["row"].to_numpy(int)
        if rows.size and rows.max() >= n:
            raise DataError("the validation's held-out rows are not rows of these runs: pass the runs it was made from")
        held[rows] = True
    if holdout is not None:
        mask = np.asarray(holdout, dtype=bool)
        if mask.shape != (n,):
            raise DataError(f"holdout must have one entry per run ({n}), got shape {mask.shape}")
        held |= mask
    return held


def _range(runs: Runs | None, col: str) -> tuple[float, float]:
    if runs is None:
        raise DataError("pass runs (or extend_to) so the curve has a range")
    runs.require([col], positive=[col], purpose="the horizontal axis")
    v = runs.column(col)
    return float(v.min()), float(v.max())


def _curve(ax: Axes, f: Fit, X: dict[str, np.ndarray], grid: np.ndarray, level: float, *, label: str,
           color: str = FIT_COLOR) -> None:
    y = np.asarray(f.predict(**X, check_range=False), dtype=float) * np.ones_like(grid)
    ok = np.isfinite(y) & (y > 0)
    lo, hi = f.predict_interval(level, **X, check_range=False)
    band = ok & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
    if band.any():
        ax.fill_between(grid[band], lo[band], hi[band], color=color, alpha=0.2, lw=0,
                        label=f"{level:.0%} predictive interval")
    ax.plot(grid[ok], y[ok], color=color, lw=2, label=label)


def _points(ax: Axes, xs: np.ndarray, ys: np.ndarray, held: np.ndarray, color: str = DATA_COLOR,
            label: str = "runs") -> None:
    if (~held).any():
        ax.scatter(xs[~held], ys[~held], s=22, color=color, zorder=3, label=f"{label} (fitted)" if held.any() else label)
    if held.any():
        ax.scatter(xs[held], ys[held], s=40, facecolor="none", edgecolor=HELD_COLOR, linewidth=1.5, zorder=3,
                   label="held out")


def _grouped_curves(ax: Axes, f: Fit, runs: Runs, col: str, by: str | None, held: np.ndarray, target: str) -> None:

    xs, ys = runs.column(col), runs.column(target)
    pred = predict_runs(f, runs)
    lines = True
    if by is None:
        groups: list[tuple[str, np.ndarray]] = [("runs", np.ones(len(runs), bool))]
        lines = False
    else:
        groups, lines = _groups(runs, by)
    for (label, m), color in zip(groups, cycle(len(groups))):
        order = np.argsort(xs[m])
        if lines:
            ax.plot(xs[m][order], pred[m][order], color=color, lw=1.5)
        else:
            ax.scatter(xs[m], pred[m], marker="_", s=60, color=color, linewidth=1.5, zorder=4)
        sub = held[m]
        ax.scatter(xs[m][~sub], ys[m][~sub], s=18, color=color, zorder=3, label=label)
        if sub.any():
            ax.scatter(xs[m][sub], ys[m][sub], s=36, facecolor="none", edgecolor=color, linewidth=1.5, zorder=3)
    if held.any():
        ax.scatter([], [], s=36, facecolor="none", edgecolor="#555555", linewidth=1.5, label="held out")
    if lines:
        ax.plot([], [], color="#555555", lw=1.5, label="fit at the runs")
    else:
        ax.scatter([], [], marker="_", s=60, color="#555555", linewidth=1.5, label="fit at each run")


def _groups(runs: Runs, by: str, max_groups: int = 8) -> tuple[list[tuple[str, np.ndarray]], bool]:
    """Coloured groups of runs and whether each group is one setting of ``by`` (so its
    predictions can be joined by a line): categories, a few values, or clusters of
    nearly equal values (IsoFLOP budgets); otherwise quantile bins in log."""
    raw = runs.data[by]
    if raw.dtype == object or raw.nunique() <= max_groups:
        labels = raw.astype(str).to_numpy()
        keys = list(dict.fromkeys(raw.tolist()))
        try:
            keys = sorted(keys)
        except TypeError:
            pass
        out = [(f"{by}={k:.3g}" if isinstance(k, (int, float)) else f"{by}={k}", labels == str(k)) for k in keys]
        return out, True
    v = runs.column(by)
    if np.all(v > 0):
        members, centres = cluster_budgets(v, 0.05)
        if len(members) <= max_groups:
            return [(f"{by}≈{c:.2g}", m) for m, c in zip(members, centres)], True
    logv = np.log(v) if np.all(v > 0) else v
    edges = np.quantile(logv, np.linspace(0, 1, max_groups + 1))
    which = np.clip(np.searchsorted(edges, logv, side="right") - 1, 0, max_groups - 1)
    out = []
    for i in range(max_groups):
        m = which == i
        if m.any():
            lo, hi = v[m].min(), v[m].max()
            out.append((f"{by} {lo:.2g}–{hi:.2g}", m))
    return out, False


__all__ = ["bootstrap", "fit", "learning_curve", "residuals"]
