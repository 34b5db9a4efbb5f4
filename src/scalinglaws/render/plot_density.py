"""Figure of the Densing law: capability density against release date, with its trend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError
from scalinglaws.render.style import DATA_COLOR, FIT_COLOR, HELD_COLOR, finish, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def density_trend(
    trend: Any, table: Any = None, *, date: str = "release_date", density: str = "density", ax: Axes | None = None
) -> Figure:
    """A :class:`~scalinglaws.dynamics.density.DensityTrend`: the densities the line was
    fitted to (labelled), every other model of ``table`` (a DataFrame or the
    ``CapabilityDensity`` the trend came from) in grey, and the fitted
    ``ln rho_max = A t + B`` on a log axis, with the doubling time in the title."""
    envelope = getattr(trend, "envelope", None)
    if not isinstance(envelope, pd.DataFrame) or not hasattr(trend, "A"):
        raise DataError(f"plot.density_trend draws a DensityTrend (from sl.density_trend), got {type(trend).__name__}")
    if date not in envelope.columns or density not in envelope.columns:
        raise DataError(f"the trend's points have no {date!r} and {density!r} columns: pass date= and density=")
    fig, ax = new_axes(ax)
    if table is not None:
        t = getattr(table, "table", table)
        if not isinstance(t, pd.DataFrame) or date not in t.columns or density not in t.columns:
            raise DataError(f"table must be the densities the trend came from, with {date!r} and {density!r}")
        rest = t.drop(index=[i for i in envelope.index if i in t.index])
        rho = pd.to_numeric(rest[density], errors="coerce")
        keep = np.isfinite(rho) & (rho > 0)
        if keep.any():
            ax.scatter(pd.to_datetime(rest[date][keep]), rho[keep], s=22, color="#999999", label="other models", zorder=2)
    when = pd.to_datetime(envelope[date])
    ax.scatter(when, envelope[density], s=36, color=HELD_COLOR, label="fitted (envelope)", zorder=3)
    if "model" in envelope.columns:
        span = max((when.max() - when.min()).total_seconds(), 1.0)
        for x, y, name in zip(when, envelope[density], envelope["model"], strict=True):
            right = (x - when.min()).total_seconds() / span > 0.8  # near the right edge: label to the left
            ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(-5 if right else 5, 4),
                        ha="right" if right else "left", fontsize=7, color=DATA_COLOR)
    days = envelope["t_days"].to_numpy(float)
    grid = np.linspace(float(days.min()), float(days.max()), 50)
    start = when.min() - pd.Timedelta(days=float(days.min()))
    ax.plot(start + pd.to_timedelta(grid, unit="D"), np.exp(trend.A * grid + trend.B), color=FIT_COLOR,
            lw=2, zorder=1, label=(f"ln ρ_max = {trend.A:.4g} t {'+' if trend.B >= 0 else '−'} {abs(trend.B):.3g}"
                                   f"\n(t: days since {trend.origin})"))
    ax.set_yscale("log")
    ax.set_xlabel("release date")
    ax.set_ylabel("capability density (effective / actual size)")
    lo, hi = trend.doubling_days_interval
    band = f" ({trend.level:.0%}: {lo:.0f} to {hi:.0f})" if np.isfinite(lo) and np.isfinite(hi) else ""
    ax.set_title(f"Density doubles every {trend.doubling_days:.0f} days{band}", fontsize=10)
    fig.autofmt_xdate()
    finish(ax)
    return fig
