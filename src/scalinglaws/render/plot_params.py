"""Figures of a fit's parameters and errors: log residuals against scale and against the
prediction, and the pairwise bootstrap distributions of the free parameters (a corner
plot whose tick labels sit on the outer axes only, so none collide)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.predict import default_by, predict_runs
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, FitError
from scalinglaws.render.style import (
    FIT_COLOR,
    HELD_COLOR,
    TICKS,
    axis_label,
    log_ticks,
    need_fit,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def residuals(fit: Fit, runs: Runs | Any, *, x: str | None = None) -> Figure:
    """Log residuals ``log(actual) - log(predicted)`` against a scale column and against
    the prediction, with the Huber threshold drawn when the fit used it. A fit in linear
    space (``Objective(space="linear")``) shows the residuals it minimised,
    ``actual - predicted``, in the target's units."""
    need_fit(fit, "residuals")
    if runs is None:
        raise DataError("residuals need the runs")
    runs = runs if isinstance(runs, Runs) else load_runs(runs)
    target = (fit.options.get("target") or "loss")
    col = x or default_by(fit.law, runs, fit.options.get("variables"))
    pred = predict_runs(fit, runs)
    linear = fit.options.get("space") == "linear"
    with np.errstate(all="ignore"):
        r = runs.column(target) - pred if linear else np.log(runs.column(target)) - np.log(pred)
    fig = new_figure((10, 4.0))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.88, wspace=0.06)
    a1, a2 = fig.subplots(1, 2, sharey=True)
    for ax, xs, name, kind in ((a1, runs.column(col), col, TICKS.get(col, "plain")), (a2, pred, target, "plain")):
        ax.axhline(0, color="#555555", lw=1)
        if fit.options.get("loss") == "huber":
            d = float(fit.options.get("delta", 1e-3))
            for s in (-d, d):
                ax.axhline(s, color="#999999", lw=0.8, ls=":")
        ax.scatter(xs, r, s=18, color=FIT_COLOR, alpha=0.8, edgecolor="none")
        ax.set_xscale("log")
        finite = np.asarray(xs, float)[np.isfinite(xs) & (np.asarray(xs, float) > 0)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            pad = (hi / lo) ** 0.05 if hi > lo else 1.1
            ax.set_xlim(lo / pad, hi * pad)
            log_ticks(ax.xaxis, kind)
        ax.grid(True, alpha=0.3)
    a1.set_xlabel(axis_label(col))
    a2.set_xlabel("predicted " + axis_label(target))
    log = "" if linear else "log "
    a1.set_ylabel(f"{log}residual of {target} (actual − fit)")
    fig.suptitle(f"Residuals of {fit.law.name}: RMS {np.sqrt(np.nanmean(r ** 2)):.3g} in {log}{target}", fontsize=11)
    return fig


def bootstrap(fit: Fit, params: Sequence[str] | None = None, *, max_params: int = 6) -> Figure:
    """Pairwise bootstrap distributions of the free parameters: histograms on the
    diagonal, scatter below it, the point estimate marked. Log-scale parameters are drawn
    as log10; tick labels only on the bottom row and the left column."""
    need_fit(fit, "bootstrap")
    if fit.draws is None:
        raise FitError("this fit has no bootstrap draws: fit again with bootstrap=200 (or any number > 0)")
    from matplotlib.ticker import MaxNLocator

    names = list(params or fit.free_params)[:max_params]
    unknown = [n for n in names if n not in fit.free_params]
    if unknown:
        raise FitError(f"no free parameter {unknown[0]!r}; the fit has {list(fit.free_params)}")
    idx = [list(fit.free_params).index(n) for n in names]
    d = fit.draws[np.all(np.isfinite(fit.draws), axis=1)][:, idx]
    if len(d) < 2:
        raise FitError("fewer than 2 bootstrap refits converged: nothing to draw")
    k = len(names)
    w = h = 1.9 * k + 1.1
    fig = new_figure((w, h))
    fig.subplots_adjust(left=1.0 / w, right=1 - 0.15 / w, bottom=0.9 / h, top=1 - 0.5 / h, wspace=0.08, hspace=0.08)
    axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
    logs = [fit.law.param(n).log and bool(np.all(d[:, j] > 0)) for j, n in enumerate(names)]
    vals = [np.log10(d[:, j]) if logs[j] else d[:, j] for j in range(k)]
    point = [math.log10(fit.params[n]) if logs[j] else fit.params[n] for j, n in enumerate(names)]
    lims = []
    for j in range(k):
        lo, hi = float(min(vals[j].min(), point[j])), float(max(vals[j].max(), point[j]))
        pad = 0.06 * (hi - lo) if hi > lo else 0.05 * max(abs(lo), 1e-12)
        lims.append((lo - pad, hi + pad))
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(vals[j], bins=min(30, max(8, len(d) // 6)), range=lims[j], color=FIT_COLOR, alpha=0.75)
                ax.axvline(point[j], color=HELD_COLOR, lw=1.2)
                ax.set_yticks([])
            else:
                ax.scatter(vals[j], vals[i], s=5, color=FIT_COLOR, alpha=0.4, edgecolor="none")
                ax.scatter([point[j]], [point[i]], marker="x", s=40, color=HELD_COLOR)
                ax.set_ylim(lims[i])
                ax.yaxis.set_major_locator(MaxNLocator(nbins=3, prune="both"))
            ax.set_xlim(lims[j])
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3, prune="both"))
            ax.tick_params(labelsize=9)  # legible when the report shows the grid at 80 % width
            if i == k - 1:
                ax.set_xlabel(("log10 " if logs[j] else "") + names[j])
                for t in ax.get_xticklabels():
                    t.set_rotation(35)
                    t.set_ha("right")
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(("log10 " if logs[i] else "") + names[i])
            elif i != j:
                ax.tick_params(labelleft=False)
    fig.suptitle(f"Bootstrap of {fit.law.name}: {len(d)} refits (×: the fit)", fontsize=11)
    return fig


__all__ = ["bootstrap", "residuals"]
