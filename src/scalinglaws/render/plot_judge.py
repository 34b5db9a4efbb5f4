"""Figures of judgements: held-out predictions of a validation, and a ladder comparison."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.render.style import (
    FIT_COLOR,
    HELD_COLOR,
    OKABE_ITO,
    TICKS,
    axis_label,
    finish,
    log_ticks,
    new_axes,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def validation(v: Any, *, ax: Axes | None = None) -> Figure:
    """Held-out runs of a :class:`~scalinglaws.judge.validate.Validation`: log error of each
    prediction against scale, with its interval; the zero line is a perfect prediction."""
    fig, ax = new_axes(ax)
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
    finite = xs[np.isfinite(xs) & (xs > 0)]
    if finite.size:
        pad = (finite.max() / finite.min()) ** 0.08 if finite.max() > finite.min() else 1.3
        ax.set_xlim(finite.min() / pad, finite.max() * pad)
        log_ticks(ax.xaxis, TICKS.get(v.by, "plain"))
    ax.set_xlabel(axis_label(v.by))
    ax.set_ylabel("log error: log predicted − log actual")
    cov = f", coverage {v.coverage:.0%}" if math.isfinite(v.coverage) else ""
    ax.set_title(f"Held-out predictions of {v.law}: log RMSE {v.rmse_log:.3g}{cov}", fontsize=10)
    finish(ax)
    return fig


def ladders(comparison: Any) -> Figure:
    """A :class:`~scalinglaws.judge.compare.LadderComparison`: both fitted curves (left) and the
    effective-compute multiplier with its interval and crossings (right)."""
    c = comparison
    fig = new_figure((11, 4.2))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    a1, a2 = fig.subplots(1, 2)
    a1.plot(c.flops, c.loss_baseline, color=OKABE_ITO[0], lw=2, label="baseline")
    a1.plot(c.flops, c.loss_variant, color=OKABE_ITO[1], lw=2, ls="--", label="variant")
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_xlabel(axis_label("flops"))
    a1.set_ylabel(axis_label("loss") + (" on the frontier" if c.frontier else ""))
    log_ticks(a1.xaxis, "power")
    log_ticks(a1.yaxis, "plain")
    a1.set_title(f"Fitted {c.law}")
    finish(a1)
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
    a2.set_xlabel("compute of the variant C (FLOPs)")
    a2.set_ylabel("multiplier k (×): variant(C) = baseline(k C)")
    log_ticks(a2.xaxis, "power")
    log_ticks(a2.yaxis, "plain")
    a2.set_title("Effective-compute multiplier")
    finish(a2)
    return fig


__all__ = ["ladders", "validation"]
