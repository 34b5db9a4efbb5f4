"""Figures: fits with their bands, residuals, IsoFLOP curves, bootstrap distributions,
held-out predictions and ladder comparisons.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no
global state, nothing shown, works under any backend); save it with
``fig.savefig("fit.png")``. matplotlib is imported when the first figure is drawn, so
importing this module is cheap. Colours are the Okabe–Ito palette, distinguishable with the
common colour-vision deficiencies; held-out runs are drawn hollow, so the figures read in
grey too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.errors import DataError, FitError
from scalinglaws.engine.result import Fit
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.predict import default_by, predict_runs

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with the package
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FIT_COLOR, DATA_COLOR, HELD_COLOR = "#0072B2", "#000000", "#D55E00"
_SIZE = (6.4, 4.4)


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
    fig, ax = _axes(ax)
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
    _ylim_from_lines(ax)
    _plain_ticks(ax.xaxis, *ax.get_xlim())
    ax.set_xlabel(_label(col))
    ax.set_ylabel(target)
    ax.set_title(title or f"{fit.law.name} fitted to {fit.n_runs} runs")
    _finish(ax)
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
    fig = _new_figure((10, 4.0))
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
                _plain_ticks(ax.xaxis, float(finite.min()), float(finite.max()))
        ax.set_xlabel(_label(name))
        ax.grid(True, alpha=0.3)
    a1.set_ylabel(f"log {target} residual (actual - fit)")
    fig.suptitle(f"Residuals of {fit.law.name}: RMS {np.sqrt(np.nanmean(r ** 2)):.3g}")
    return fig


def isoflop(
    runs: Runs | Any,
    *,
    x: str = "n_params",
    flops: str = "flops",
    group: str | None = None,
    fit: Fit | None = None,
    frontier: bool = True,
    tolerance: float = 0.05,
    ax: Axes | None = None,
) -> Figure:
    """IsoFLOP curves: loss against ``x`` for each compute budget, a parabola in log x
    fitted to each, its minimum marked, and optionally the frontier through the minima.

    Parameters
    ----------
    runs : Runs or DataFrame
    x : str
        Column on the horizontal axis (``n_params``).
    flops : str
        The compute column; budgets are runs within ``tolerance`` decades of each other
        (sorted, split at gaps wider than ``tolerance``), unless ``group`` names a column.
    fit : Fit, optional
        A law in ``n_params`` and ``n_tokens``: its prediction along each budget,
        ``L(N, C / (6 N))``, is drawn as a thin line.
    frontier : bool
        Join the minima with a dashed line.
    """
    runs = _runs(runs)
    if runs is None:
        raise DataError("isoflop needs runs")
    fig, ax = _axes(ax)
    runs.require([x, "loss"], positive=[x, "loss"], purpose="IsoFLOP curves")
    xs, ys = runs.column(x), runs.column("loss")
    if group is not None:
        labels = runs.data[group].to_numpy()
        keys = list(dict.fromkeys(labels))
        members = [labels == k for k in keys]
        budgets = [float(np.exp(np.mean(np.log(runs.column(flops)[m])))) if flops in runs.columns else math.nan
                   for m in members]
    else:
        runs.require([flops], positive=[flops], purpose="IsoFLOP curves")
        members, budgets = _budgets(runs.column(flops), tolerance)
    minima = []
    colors = _cycle(len(members))
    for m, budget, color in zip(members, budgets, colors):
        gx, gy = xs[m], ys[m]
        order = np.argsort(gx)
        gx, gy = gx[order], gy[order]
        label = f"C={budget:.2g}" if math.isfinite(budget) else None
        ax.scatter(gx, gy, s=18, color=color, label=label, zorder=3)
        if fit is not None and math.isfinite(budget):
            grid = np.geomspace(gx.min(), gx.max(), 100)
            ax.plot(grid, fit.predict(check_range=False, n_params=grid, n_tokens=budget / (6 * grid)), color=color, lw=0.8, alpha=0.8)
        if len(gx) >= 3 and np.ptp(np.log(gx)) > 0:
            u = np.log(gx)
            c2, c1, c0 = np.polyfit(u, gy, 2)
            grid = np.linspace(u.min(), u.max(), 100)
            ax.plot(np.exp(grid), np.polyval([c2, c1, c0], grid), color=color, lw=1.2, ls="--" if fit is not None else "-")
            if c2 > 0:
                u_star = -c1 / (2 * c2)
                if u.min() <= u_star <= u.max():
                    minima.append((math.exp(u_star), float(np.polyval([c2, c1, c0], u_star))))
                    ax.scatter([minima[-1][0]], [minima[-1][1]], marker="*", s=120, color=color, edgecolor="black",
                               linewidth=0.6, zorder=4)
    if frontier and len(minima) >= 2:
        fx, fy = zip(*sorted(minima))
        ax.plot(fx, fy, color="#000000", lw=1.2, ls=":", label="minima (frontier)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _ylim_from_lines(ax)
    ax.set_xlabel(_label(x))
    ax.set_ylabel("loss")
    ax.set_title(f"IsoFLOP curves ({len(members)} budgets)")
    _finish(ax, max_legend=12)
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
    fig = _new_figure((w, h))
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


def validation(v: Any, *, ax: Axes | None = None) -> Figure:
    """Held-out runs of a :class:`~scalinglaws.judge.validate.Validation`: log error of each
    prediction against scale, with its interval; the zero line is a perfect prediction."""
    fig, ax = _axes(ax)
    t = v.table
    with np.errstate(all="ignore"):
        e = t["log_error"].to_numpy(float)
        lo = np.log(t["lower"].to_numpy(float)) - np.log(t["actual"].to_numpy(float))
        hi = np.log(t["upper"].to_numpy(float)) - np.log(t["actual"].to_numpy(float))
    xs = t[v.by].to_numpy(float)
    ax.axhline(0, color="#555555", lw=1)
    inside = t["inside"].to_numpy(bool)
    for mask, color, label in ((inside, FIT_COLOR, "actual inside interval"), (~inside, HELD_COLOR, "actual outside")):
        if mask.any():
            ax.errorbar(xs[mask], e[mask], yerr=np.vstack([e[mask] - lo[mask], hi[mask] - e[mask]]),
                        fmt="o", ms=5, color=color, capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel(_label(v.by))
    ax.set_ylabel("log predicted - log actual")
    cov = f", coverage {v.coverage:.0%}" if math.isfinite(v.coverage) else ""
    ax.set_title(f"Held-out predictions of {v.law}: log RMSE {v.rmse_log:.3g}{cov}")
    _finish(ax)
    return fig


def ladders(comparison: Any) -> Figure:
    """A :class:`~scalinglaws.judge.compare.LadderComparison`: both fitted curves (left) and the
    effective-compute multiplier with its interval and crossings (right)."""
    c = comparison
    fig = _new_figure((11, 4.2))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    a1, a2 = fig.subplots(1, 2)
    a1.plot(c.flops, c.loss_baseline, color=OKABE_ITO[0], lw=2, label="baseline")
    a1.plot(c.flops, c.loss_variant, color=OKABE_ITO[1], lw=2, ls="--", label="variant")
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_xlabel("compute (FLOPs)")
    a1.set_ylabel("loss" + (" on the compute-optimal frontier" if c.frontier else ""))
    a1.set_title(f"Fitted {c.law}")
    _finish(a1)
    finite = np.isfinite(c.lower) & np.isfinite(c.upper) & (c.lower > 0)
    if finite.any():
        a2.fill_between(c.flops[finite], c.lower[finite], c.upper[finite], color=OKABE_ITO[0], alpha=0.2,
                        lw=0, label=f"{c.level:.0%} interval")
    ok = np.isfinite(c.multiplier) & (c.multiplier > 0)
    a2.plot(c.flops[ok], c.multiplier[ok], color=OKABE_ITO[0], lw=2, label="k(C)")
    a2.axhline(1, color="#555555", lw=1)
    for x in c.crossings:
        a2.axvline(x, color=HELD_COLOR, ls=":", lw=1.2)
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("compute of the variant, C (FLOPs)")
    a2.set_ylabel("multiplier k: variant(C) = baseline(k C)")
    a2.set_title("Effective-compute multiplier")
    _finish(a2)
    return fig


# ----------------------------------------------------------------------------- helpers


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        assert fig is not None
        return fig, ax  # type: ignore[return-value]
    fig = _new_figure(_SIZE)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.92)
    return fig, fig.add_subplot()


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
    y = np.asarray(f.predict(check_range=False, **X), dtype=float) * np.ones_like(grid)
    ok = np.isfinite(y) & (y > 0)
    if f.draws is not None and np.isfinite(f.draws).all(axis=1).sum() >= 2:
        lo, hi = f.predict_interval(level, check_range=False, **X)
        band = ok & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
        ax.fill_between(grid[band], lo[band], hi[band], color=color, alpha=0.2, lw=0, label=f"{level:.0%} bootstrap band")
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
    for (label, m), color in zip(groups, _cycle(len(groups))):
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
        members, centres = _budgets(v, 0.05)
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


def _budgets(c: np.ndarray, tolerance: float) -> tuple[list[np.ndarray], list[float]]:
    """Cluster compute values into budgets: split the sorted log10 values at gaps wider
    than ``tolerance`` decades, then split any cluster wider than 4 * tolerance at its
    widest gap until none is."""
    logc = np.log10(c)
    order = np.argsort(logc)
    parts = np.split(order, np.flatnonzero(np.diff(logc[order]) > tolerance) + 1)
    done: list[np.ndarray] = []
    while parts:
        part = parts.pop()
        values = logc[part]
        if values.size > 1 and values[-1] - values[0] > 4 * tolerance:
            cut = int(np.argmax(np.diff(values))) + 1
            parts += [part[:cut], part[cut:]]
        else:
            done.append(part)
    done.sort(key=lambda p: logc[p[0]])
    members, budgets = [], []
    for part in done:
        m = np.zeros(c.size, bool)
        m[part] = True
        members.append(m)
        budgets.append(float(10 ** np.mean(logc[part])))
    return members, budgets


def _cycle(n: int) -> list[str]:
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


def _label(col: str) -> str:
    return {"n_params": "parameters N", "n_tokens": "tokens D", "flops": "compute C (FLOPs)", "x": "x"}.get(col, col)


def _ylim_from_lines(ax: Axes) -> None:
    """Y limits from the data and the curves, so a wide band cannot squash the plot."""
    values = []
    for line in ax.get_lines():
        values.append(np.asarray(line.get_ydata(), dtype=float))
    for coll in ax.collections:
        if hasattr(coll, "get_offsets") and type(coll).__name__ == "PathCollection":
            off = np.asarray(coll.get_offsets(), dtype=float)
            if off.size:
                values.append(off[:, 1])
    v = np.concatenate(values) if values else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        lo, hi = float(v.min()), float(v.max())
        pad = (hi / lo) ** 0.08 if hi > lo else 1.1
        ax.set_ylim(lo / pad, hi * pad)
        _plain_ticks(ax.yaxis, lo, hi)


def _plain_ticks(axis: Any, lo: float, hi: float) -> None:
    """Plain numbers (0.6, 2, 300) instead of 6x10^-1 on a log axis spanning < 1.5 decades."""
    if not (lo > 0 and hi / lo < 30):
        return
    from matplotlib.ticker import FuncFormatter

    keep = {1, 2, 3, 4, 5, 6, 7, 8, 9} if hi / lo < 3 else {1, 2, 3, 5} if hi / lo < 10 else {1, 2, 5}

    def label(value: float, _: Any) -> str:
        if value <= 0:
            return ""
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return f"{value:g}" if mantissa in keep else ""

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(label))


def _finish(ax: Axes, max_legend: int = 10) -> None:
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if len(handles) > max_legend:
            handles, labels = handles[:max_legend], labels[:max_legend]
        ax.legend(handles, labels, fontsize=8, frameon=False)


__all__ = ["OKABE_ITO", "bootstrap", "fit", "isoflop", "ladders", "learning_curve", "residuals", "validation"]
