"""The IsoFLOP figure: draws an :class:`~scalinglaws.plan.isoflop.IsoFlop` result, fits nothing.

Each budget's runs and the curve the analysis fitted to them share one colour of a
continuous colormap of compute (with a colorbar, not a legend entry per budget); the
minima the analysis found are starred and joined by the frontier. Runs outside a
budget's fitted window are hollow; budgets left out of the power laws (minimum at the
edge of their sizes, or unstable) are drawn faded with crosses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.errors import DataError
from scalinglaws.render.style import finish, new_figure, plain_ticks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from scalinglaws.engine.result import Fit
    from scalinglaws.plan.iso_result import IsoFlop

CMAP = "viridis"  # perceptually uniform and readable with the common colour-vision deficiencies


def size_label(value: float, _: Any = None) -> str:
    """A parameter count as 30M, 1.5B, 2T."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def isoflop(iso: IsoFlop, fit: Fit | None = None, *, frontier: bool = True, ax: Axes | None = None) -> Figure:
    """IsoFLOP curves of an :func:`scalinglaws.isoflop` result.

    Parameters
    ----------
    iso : IsoFlop
        What :func:`scalinglaws.isoflop` (or :func:`scalinglaws.envelope`) returned.
    fit : Fit, optional
        A law in ``n_params`` and ``n_tokens``; its prediction along each budget, at the
        tokens of that budget's runs (interpolated in log N), is drawn dotted.
    frontier : bool
        Join the minima with a dashed black line.
    ax : matplotlib Axes, optional
        Draw into this Axes (no colorbar is added to a figure it does not own).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(iso, (Runs, pd.DataFrame, str)) or not hasattr(iso, "optima"):
        raise DataError("plot.isoflop draws an IsoFLOP analysis: pass sl.isoflop(runs), e.g. "
                        "plot.isoflop(sl.isoflop(runs))")
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter

    own = ax is None
    if ax is None:
        fig = new_figure((7.4, 5.4))
        fig.subplots_adjust(left=0.11, right=0.9, bottom=0.22, top=0.92)
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    opt, points, curves = iso.optima, iso.points, iso.curves
    budgets = opt["flops"].to_numpy(float)
    lo, hi = float(budgets.min()), float(budgets.max())
    norm = LogNorm(vmin=lo, vmax=hi if hi > lo else lo * 10)
    cmap = colormaps[CMAP]
    used = dict(zip(budgets, opt["used"].to_numpy(bool)))
    for c in budgets:
        color = cmap(norm(c))
        alpha = 1.0 if used[c] else 0.45
        curve = curves[curves["flops"] == c]
        if len(curve):
            ax.plot(curve["n_params"], curve["loss_fit"], color=color, lw=1.4, alpha=alpha, zorder=2)
        pts = points[points["flops"] == c]
        inside = pts["in_fit"].to_numpy(bool) if len(pts) else np.zeros(0, bool)
        if inside.any():
            ax.scatter(pts["n_params"][inside], pts["loss"][inside], s=16, color=color, alpha=alpha, zorder=3,
                       marker="o" if used[c] else "x", linewidths=1.0)
        if (~inside).any():
            ax.scatter(pts["n_params"][~inside], pts["loss"][~inside], s=16, facecolor="none", edgecolor=color,
                       alpha=alpha, zorder=3)
        if fit is not None and len(pts) >= 2:
            _law_along(ax, fit, pts, color)
    star = opt[opt["used"] & np.isfinite(opt["loss_opt"]) & np.isfinite(opt["n_opt"])].sort_values("flops")
    ax.scatter(star["n_opt"], star["loss_opt"], marker="*", s=110, c=[cmap(norm(c)) for c in star["flops"]],
               edgecolor="black", linewidth=0.6, zorder=5)
    if frontier and len(star) >= 2:
        ax.plot(star["n_opt"], star["loss_opt"], color="black", lw=1.1, ls="--", zorder=4)
    _legend_keys(ax, iso, fit, frontier and len(star) >= 2, bool(len(points)) and bool((~opt["used"]).any()),
                 bool(len(points)) and not points["in_fit"].all())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ys = np.concatenate([points["loss"].to_numpy(float), star["loss_opt"].to_numpy(float)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size:
        pad = (ys.max() / ys.min()) ** 0.06 if ys.max() > ys.min() else 1.05
        ax.set_ylim(ys.min() / pad, ys.max() * pad)
        plain_ticks(ax.yaxis, float(ys.min()), float(ys.max()))
    ax.xaxis.set_major_formatter(FuncFormatter(size_label))
    xs = np.concatenate([points["n_params"].to_numpy(float), star["n_opt"].to_numpy(float)])
    xs = xs[np.isfinite(xs) & (xs > 0)]
    if xs.size and xs.max() / xs.min() < 30:
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: size_label(v) if round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""))
    ax.set_xlabel("model size N (parameters)")
    ax.set_ylabel("final loss (nats/token)")
    a = iso.n_opt
    what = "Envelope of training curves" if iso.method == "envelope" else f"IsoFLOP {iso.method}s"
    ax.set_title(f"{what}: {len(opt)} {'FLOP values' if iso.method == 'envelope' else 'budgets'}, {int(opt['used'].sum())} in the fit; "
                 f"N_opt ∝ C^{a.exponent:.3f}", fontsize=10)
    if own:
        from matplotlib.cm import ScalarMappable

        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
        bar.set_label("compute budget C (FLOPs)")
    return fig


def _law_along(ax: Axes, fit: Fit, pts: pd.DataFrame, color: Any) -> None:
    """The law along one budget at that budget's own tokens per size (no FLOP convention)."""
    g = pts.sort_values("n_params")
    x, t = np.log(g["n_params"].to_numpy(float)), np.log(g["n_tokens"].to_numpy(float))
    ux, first = np.unique(x, return_index=True)
    if ux.size < 2:
        return
    grid = np.linspace(ux[0], ux[-1], 60)
    tokens = np.exp(np.interp(grid, ux, t[first]))
    y = np.asarray(fit.predict(n_params=np.exp(grid), n_tokens=tokens, check_range=False), dtype=float)
    ax.plot(np.exp(grid), y, color=color, lw=0.9, ls=":", zorder=2)


def _legend_keys(ax: Axes, iso: IsoFlop, fit: Any, frontier: bool, left_out: bool, hollow: bool) -> None:
    """One legend entry per kind of mark, in grey, below the axes (never over the data)."""
    grey = "#555555"
    curve = {"parabola": "parabola fitted per budget", "cubic": "cubic fitted per budget",
             "akima": "Akima interpolant per budget"}.get(iso.method, "")
    if curve:
        ax.plot([], [], color=grey, lw=1.4, label=curve)
    if len(iso.points):
        ax.scatter([], [], s=16, color=grey, label="runs")
    if hollow:
        ax.scatter([], [], s=16, facecolor="none", edgecolor=grey, label="runs outside the fitted window")
    ax.scatter([], [], marker="*", s=110, color="white", edgecolor="black", linewidth=0.6, label="minimum of each budget")
    if frontier:
        ax.plot([], [], color="black", lw=1.1, ls="--", label="frontier of the minima")
    if left_out:
        ax.scatter([], [], s=16, marker="x", color=grey, alpha=0.6, label="budget left out (minimum at the edge)")
    if fit is not None:
        ax.plot([], [], color=grey, lw=0.9, ls=":", label=f"{fit.law.name} fit along each budget")
    finish(ax)
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)


__all__ = ["CMAP", "isoflop", "size_label"]
