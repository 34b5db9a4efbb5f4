"""Figures of a fit: the law drawn as lines over the runs with its predictive band, and a
learning curve extrapolated, the extrapolated range shaded and marked.

A law of several variables is drawn along each group of runs: a line of the law per
compute budget (``color_by="flops"``, the budget held fixed so tokens fall as size grows)
or per setting of another column, coloured from a continuous colormap with a colorbar
(the IsoFLOP figure's style) or, for categories, from the Okabe–Ito palette. Held-out
runs are drawn hollow, so the figures read in grey too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.predict import derive_variables
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, FitError
from scalinglaws.plan.budgets import cluster_budgets
from scalinglaws.render.style import (
    DATA_COLOR,
    FIT_COLOR,
    HELD_COLOR,
    TICKS,
    axis_label,
    count_label,
    cycle,
    finish,
    log_ticks,
    need_fit,
    new_axes,
    ylim_from_lines,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CMAP = "viridis"  # the IsoFLOP figure's colormap of compute
GRID = 240  # points along each drawn line: the band is smooth, not a polygon


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
    """Loss against a scale column on log axes (the vertical axis linear for a fit in
    linear space, ``Objective(space="linear")``, such as a score): the fitted law as lines
    with its predictive band (:meth:`Fit.predict_interval`), over the runs.

    Parameters
    ----------
    fit : Fit
    runs : Runs or DataFrame, optional
        The runs to draw (usually those fitted, plus held-out ones).
    x : str, optional
        Column on the horizontal axis. Default: the variable of a one-variable law;
        for a law of several variables ``n_params`` (or its first variable).
    color_by : str, optional
        For laws of several variables, the column that splits the runs into groups, one
        line of the law each; default ``flops`` (or the law's grouping column). Along a
        compute group the budget is held at the group's geometric mean, so the other
        size variable follows it; along any other group the remaining variables are held
        at the group's geometric mean. Numeric groups are coloured by a colormap with a
        colorbar, categories by the palette.
    holdout : boolean array of shape (n_runs,), optional
        Runs held out of the fit, drawn hollow.
    validation : Validation, optional
        Takes ``holdout`` from a :class:`~scalinglaws.judge.validate.Validation` table.
    level : float
        Level of the predictive band.
    extend_to : float, optional
        One variable: draw the law up to this value. Several variables grouped by
        ``flops``: also draw the law, dashed, at this compute budget (default 10 times
        the largest budget of the fitted runs; ``0`` for none). Either way the range
        beyond the fitted runs is shaded and marked "extrapolated".
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure (no colorbar is added then).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    need_fit(fit, "fit")
    own = ax is None
    fig, ax = new_axes(ax)
    runs = _runs(runs)
    target = (fit.options.get("target") or "loss")
    mapping = dict(fit.options.get("variables") or {})
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    held = _held(runs, holdout, validation)
    noun = _observations(runs)  # "points" of learning curves, else "runs": in the title and legend
    bar = None
    if len(numeric) == 1 and not (runs is not None and fit.law.categorical):
        col = x or mapping.get(numeric[0], numeric[0])
        lo, hi = _range(runs, col)
        hi = max(hi, float(extend_to)) if extend_to is not None else hi
        grid = np.geomspace(lo, hi, GRID)
        _curve(ax, fit, {numeric[0]: grid}, grid, level, label=f"{fit.law.name} fit")
        if runs is not None:
            _points(ax, runs.column(col), runs.column(target), held, label=noun)
    else:
        if runs is None:
            raise DataError("a law of several variables is drawn along the runs: pass runs")
        runs = derive_variables(runs, fit.law, mapping)
        col = x or ("n_params" if "n_params" in runs.columns else mapping.get(numeric[0], numeric[0]))
        by = color_by or (fit.law.categorical[0] if fit.law.categorical else "flops" if "flops" in runs.columns else None)
        if by is not None and by not in runs.columns:
            raise DataError(f"no column {by!r} to colour by; the runs have {list(runs.columns)}")
        bar = _law_lines(ax, fit, runs, col, by, held, target, level, extend_to)
    ax.set_xscale("log")
    linear = fit.options.get("space") == "linear"  # fitted on the target itself (a score): drawn so
    ax.set_yscale("linear" if linear else "log")
    ylim_from_lines(ax, linear=linear)
    if runs is not None:
        _mark_extrapolation(ax, runs.column(col)[~held] if (~held).any() else runs.column(col), noun)
    log_ticks(ax.xaxis, TICKS.get(col, "plain"))
    ax.set_xlabel(axis_label(col))
    ax.set_ylabel(axis_label(target))
    ax.set_title(title or f"{fit.law.name} fitted to {fit.n_runs} {noun}", fontsize=11)
    finish(ax)
    if own and bar is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import LogNorm

        norm, cmap, label = bar
        fig.set_size_inches(7.4, 5.6)
        fig.subplots_adjust(left=0.11, right=0.9, bottom=0.25, top=0.93)
        legend = ax.get_legend()
        if legend is not None:  # below the axes, as in the IsoFLOP figure: never over the data
            legend.remove()
            ax.legend(*ax.get_legend_handles_labels(), fontsize=8, frameon=False, loc="upper center",
                      bbox_to_anchor=(0.5, -0.13), ncol=2)
        cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
        cb.set_label(label)
        if isinstance(norm, LogNorm):
            log_ticks(cb.ax.yaxis, TICKS.get(str(color_by or "flops"), "plain"))
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
    largest x) with its predictive band, the extrapolated range shaded, held-out runs
    hollow."""
    need_fit(fit, "learning_curve")
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(numeric) != 1:
        raise FitError(f"learning_curve draws a law of one variable; {fit.law.name!r} has {numeric}")
    runs = _runs(runs)
    if extend_to is None:
        col = dict(fit.options.get("variables") or {}).get(numeric[0], numeric[0])
        extend_to = 10 * _range(runs, col)[1] if runs is not None else None
    return globals()["fit"](fit, runs, holdout=holdout, validation=validation, level=level, extend_to=extend_to,
                            ax=ax, title=f"Learning curve: {fit.law.name}")


def _observations(runs: Runs | None) -> str:
    """What a fit's rows are: "points" of learning curves (a ``step`` column, or a run named
    on several rows), else "runs"."""
    if runs is None:
        return "runs"
    if "step" in runs.columns:
        return "points"
    named = next((c for c in ("run", "run_id") if c in runs.columns), None)
    return "points" if named is not None and runs.data[named].duplicated().any() else "runs"


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


def _mark_extrapolation(ax: Axes, trained: np.ndarray, noun: str = "runs") -> None:
    """Shade the horizontal range beyond the fitted runs (or points) and say so on the plot."""
    xmax = max((float(np.max(ln.get_xdata())) for ln in ax.get_lines() if np.size(ln.get_xdata())), default=0.0)
    edge = float(np.max(trained)) if len(trained) else 0.0
    if not (edge > 0 and xmax > edge * 1.0001):
        return
    from matplotlib.transforms import blended_transform_factory

    ax.axvspan(edge, xmax, color="#999999", alpha=0.13, lw=0, label=f"extrapolated (beyond the fitted {noun})", zorder=0)
    ax.axvline(edge, color="#777777", lw=0.8, ls=":", zorder=1)
    ax.text(edge * (xmax / edge) ** 0.04, 0.97, "extrapolated", transform=blended_transform_factory(ax.transData, ax.transAxes),
            ha="left", va="top", fontsize=8, color="#555555")


def _curve(ax: Axes, f: Fit, X: dict[str, Any], grid: np.ndarray, level: float, *, label: str | None,
           color: Any = FIT_COLOR, ls: str = "-", band_label: bool = True, lw: float = 2.0) -> None:
    y = np.asarray(f.predict(**X, check_range=False), dtype=float) * np.ones_like(grid)
    ok = np.isfinite(y) & (y > 0)
    try:
        lo, hi = f.predict_interval(level, **X, check_range=False)
    except FitError:  # no interval for this fit: draw the law alone
        lo = hi = np.full_like(grid, np.nan)
    lo, hi = np.asarray(lo, float) * np.ones_like(grid), np.asarray(hi, float) * np.ones_like(grid)
    band = ok & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
    if band.any():
        ax.fill_between(grid[band], lo[band], hi[band], color=color, alpha=0.18, lw=0,
                        label=f"{level:.0%} predictive interval" if band_label else None)
    ax.plot(grid[ok], y[ok], color=color, lw=lw, ls=ls, label=label)


def _points(ax: Axes, xs: np.ndarray, ys: np.ndarray, held: np.ndarray, color: Any = DATA_COLOR,
            label: str | None = "runs") -> None:
    if (~held).any():
        ax.scatter(xs[~held], ys[~held], s=22, color=color, zorder=3,
                   label=None if label is None else f"{label} (fitted)" if held.any() else label)
    if held.any():
        ax.scatter(xs[held], ys[held], s=40, facecolor="none", edgecolor=HELD_COLOR if label else color,
                   linewidth=1.5, zorder=3, label="held out" if label else None)


def _law_lines(ax: Axes, f: Fit, runs: Runs, col: str, by: str | None, held: np.ndarray, target: str,
               level: float, extend_to: float | None) -> tuple[Any, Any, str] | None:
    """One line of the law (with its band) along each group of runs; returns the colorbar's
    (norm, cmap, label) when the groups are coloured by a colormap."""
    mapping = dict(f.options.get("variables") or {})
    cols = {v: mapping.get(v, v) for v in f.law.variables}
    xs, ys = runs.column(col), runs.column(target)
    groups = _groups(runs, by) if by is not None else [("runs", np.ones(len(runs), bool), None)]
    numeric_by = by is not None and groups[0][2] is not None
    fixed_compute = by == "flops" and {col, *cols.values()} >= {"n_params", "n_tokens"} and col in ("n_params", "n_tokens")
    if fixed_compute:  # runs' own FLOPs per N·D (6 by the usual convention), so no convention is imposed
        per = float(np.median(runs.column("flops") / (runs.column("n_params") * runs.column("n_tokens"))))
        if extend_to is None:
            extend_to = 10 * float(np.max(runs.column("flops")[~held] if (~held).any() else runs.column("flops")))
    norm = cmap = None
    if numeric_by:
        from matplotlib import colormaps
        from matplotlib.colors import LogNorm, Normalize

        centres = np.array([g[2] for g in groups], float)
        top = centres.max()
        positive = bool(np.all(centres > 0))
        norm = LogNorm(centres.min(), top if top > centres.min() else centres.min() * 10) if positive else \
            Normalize(centres.min(), top if top > centres.min() else centres.min() + 1)
        cmap = colormaps[CMAP]
        colors: list[Any] = [cmap(norm(c)) for c in centres]
    else:
        colors = list(cycle(len(groups)))

    def inputs(m: np.ndarray, grid: np.ndarray, compute: float | None) -> dict[str, Any]:
        X: dict[str, Any] = {}
        for v, c in cols.items():
            if c == col:
                X[v] = grid
            elif v in f.law.categorical:
                X[v] = np.full(grid.shape, str(runs.data[v][m].iloc[0]), dtype=object)
            elif fixed_compute and c in ("n_params", "n_tokens") and compute is not None:
                X[v] = compute / (per * grid)
            elif c in runs.columns:
                X[v] = np.exp(np.mean(np.log(runs.column(c)[m]))) * np.ones_like(grid)
        return X

    for (label, m, centre), color in zip(groups, colors):
        lo, hi = float(xs[m].min()), float(xs[m].max())
        grid = np.geomspace(lo / 1.3, hi * 1.3, GRID) if hi > lo else np.geomspace(lo / 2, lo * 2, GRID)
        compute = float(np.exp(np.mean(np.log(runs.column("flops")[m])))) if fixed_compute else None
        _curve(ax, f, inputs(m, grid, compute), grid, level, label=None, color=color, band_label=False, lw=1.5)
        _points(ax, xs[m], ys[m], held[m], color=color, label=None if numeric_by else label)
    if fixed_compute and extend_to:
        top = float(np.max(xs)) * 10 ** 0.5
        grid = np.geomspace(float(np.min(xs)), top, GRID)
        _curve(ax, f, inputs(np.ones(len(runs), bool), grid, float(extend_to)), grid, level, ls="--", lw=1.8,
               color="#000000",
               label=f"law at C = {extend_to:.2g} FLOPs (extrapolated)".replace("e+", "e"), band_label=False)
    grey = "#555555"
    ax.plot([], [], color=grey, lw=1.5, label=f"{f.law.name} law along each group" if not fixed_compute
            else f"{f.law.name} law at each budget's compute")
    ax.fill_between([], [], [], color=grey, alpha=0.18, lw=0, label=f"{level:.0%} predictive interval")
    if numeric_by:
        ax.scatter([], [], s=22, color=grey, label="runs")
    if held.any():
        ax.scatter([], [], s=40, facecolor="none", edgecolor=grey, linewidth=1.5, label="held out")
    if not numeric_by:
        return None
    label = axis_label(str(by)) if by == "flops" else str(by)
    values = runs.column(str(by))
    if any(np.ptp(values[m]) > 0 for _, m, _ in groups):  # binned: a colour is the bin's centre, not each run's
        label += ", geometric mean of each group"
    return norm, cmap, label


def _groups(runs: Runs, by: str, max_groups: int = 8) -> list[tuple[str, np.ndarray, float | None]]:
    """Groups of runs: (label, mask, centre). Categories (centre None), a few numeric
    values, clusters of nearly equal values (IsoFLOP budgets), otherwise quantile bins in
    log; a numeric group's centre is the geometric mean of its values."""
    raw = runs.data[by]
    if raw.dtype == object or raw.dtype.name in ("category", "bool", "string"):
        keys = list(dict.fromkeys(raw.astype(str).tolist()))
        labels = raw.astype(str).to_numpy()
        return [(f"{by}={k}", labels == k, None) for k in sorted(keys)]
    v = runs.column(by)
    positive = bool(np.all(v > 0))
    centre = (lambda m: float(np.exp(np.mean(np.log(v[m]))))) if positive else (lambda m: float(np.mean(v[m])))
    fmt = count_label if by in ("n_params", "n_tokens") else (lambda c: f"{c:.2g}")
    if raw.nunique() <= max_groups:
        return [(f"{by}={fmt(k)}", v == k, float(k)) for k in sorted(set(v.tolist()))]
    if positive:
        members, centres = cluster_budgets(v, 0.05)
        if len(members) <= max_groups:
            return [(f"{by}≈{fmt(c)}", m, centre(m)) for m, c in zip(members, centres)]
    logv = np.log(v) if positive else v
    edges = np.quantile(logv, np.linspace(0, 1, max_groups + 1))
    which = np.clip(np.searchsorted(edges, logv, side="right") - 1, 0, max_groups - 1)
    return [(f"{by} {fmt(v[which == i].min())}–{fmt(v[which == i].max())}", which == i, centre(which == i))
            for i in range(max_groups) if (which == i).any()]


__all__ = ["fit", "learning_curve"]
