"""Shared look of the figures: palette, figure and axes, labels with units, log ticks, legends.

Every figure is built without pyplot (no global state, nothing shown, works under any
backend). matplotlib is imported when the first figure is drawn, so importing this
module is cheap. Colours are the Okabe–Ito palette, distinguishable with the common
colour-vision deficiencies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with the package
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FIT_COLOR, DATA_COLOR, HELD_COLOR = "#0072B2", "#000000", "#D55E00"
SIZE = (6.4, 4.4)


def new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def new_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        assert fig is not None
        return fig, ax  # type: ignore[return-value]
    fig = new_figure(SIZE)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.92)
    return fig, fig.add_subplot()


def cycle(n: int) -> list[str]:
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


def axis_label(col: str) -> str:
    return {"n_params": "parameters N", "n_tokens": "tokens D", "flops": "compute C (FLOPs)", "x": "x"}.get(col, col)


def ylim_from_lines(ax: Axes) -> None:
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
        plain_ticks(ax.yaxis, lo, hi)


def plain_ticks(axis: Any, lo: float, hi: float) -> None:
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


def finish(ax: Axes, max_legend: int = 10) -> None:
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if len(handles) > max_legend:
            handles, labels = handles[:max_legend], labels[:max_legend]
        ax.legend(handles, labels, fontsize=8, frameon=False)


__all__ = ["DATA_COLOR", "FIT_COLOR", "HELD_COLOR", "OKABE_ITO", "SIZE", "axis_label", "cycle", "finish", "new_axes", "new_figure",
           "plain_ticks", "ylim_from_lines"]
