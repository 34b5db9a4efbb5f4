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


def need_fit(fit: Any, figure: str) -> None:
    """Raise a one-line :class:`~scalinglaws.errors.DataError` when ``fit`` is not a
    :class:`~scalinglaws.engine.result.Fit` (a plan, a density table, a curve fit), naming
    what was passed."""
    from scalinglaws.engine.result import Fit
    from scalinglaws.errors import DataError

    if not isinstance(fit, Fit):
        raise DataError(f"plot.{figure} draws a Fit (what sl.fit returns), got {type(fit).__name__}")


def cycle(n: int) -> list[str]:
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]


#: Axis labels with units, by column (the package's conventions: N in parameters, D in
#: tokens, C in FLOPs, loss in nats per token).
LABELS = {"n_params": "model size N (parameters)", "n_tokens": "training data D (tokens)",
          "flops": "compute C (FLOPs)", "loss": "loss (nats/token)", "x": "x"}
#: How each column's log-axis ticks read: counts as 30M / 1.5B, compute as powers of ten.
TICKS = {"n_params": "count", "n_tokens": "count", "flops": "power"}


def axis_label(col: str) -> str:
    """The label of a column with its unit (the column name for columns of unknown unit)."""
    return LABELS.get(col, col)


def count_label(value: float, _: Any = None) -> str:
    """A count as 30M, 1.5B, 2T (parameters, tokens)."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _power_label(value: float, _: Any = None) -> str:
    if value <= 0:
        return ""
    e = math.log10(value)
    if abs(e - round(e)) < 1e-6:
        return f"$10^{{{round(e)}}}$"
    m = value / 10 ** math.floor(e + 1e-9)
    return f"${m:.2g}\\times10^{{{math.floor(e + 1e-9)}}}$"


def _plain_label(value: float, _: Any = None) -> str:
    if value <= 0:
        return ""
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"
    return _power_label(value)


def log_ticks(axis: Any, kind: str = "plain") -> None:
    """Readable ticks on a log axis, from its current limits.

    Under one decade: five or six evenly stepped ticks (2.2, 2.4, 2.6, ...); up to three
    decades: 1, 2 and 5 of each decade (powers of ten only for ``"power"``); beyond: the
    powers of ten, with unlabelled minor ticks. Labels by ``kind``: ``"count"`` (30M, 1.5B), ``"power"`` (10^21),
    ``"plain"`` (2.5, 300).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    lo, hi = sorted(float(v) for v in axis.get_view_interval())
    if not (lo > 0 and hi > lo):
        return
    if kind == "plain" and (hi > 2e4 or lo < 1e-3):  # 10^5 rather than 1e+05 next to 1000
        kind = "power"
    fmt = {"count": count_label, "power": _power_label}.get(kind, _plain_label)
    decades = math.log10(hi / lo)
    if decades < 1.0:
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_locator(LogLocator(base=10, subs="all"))
    elif decades <= 3.0 and kind != "power":
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_minor_locator(LogLocator(base=10, subs="all"))
    else:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0,), numticks=12))
        axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_formatter(NullFormatter())


def ylim_from_lines(ax: Axes, kind: str = "plain", *, linear: bool = False) -> None:
    """Y limits from the data and the curves, so a wide band cannot squash the plot (on a
    log axis, or a linear one with ``linear=True``)."""
    values = []
    for line in ax.get_lines():
        values.append(np.asarray(line.get_ydata(), dtype=float))
    for coll in ax.collections:
        if hasattr(coll, "get_offsets") and type(coll).__name__ == "PathCollection":
            off = np.asarray(coll.get_offsets(), dtype=float)
            if off.size:
                values.append(off[:, 1])
    v = np.concatenate(values) if values else np.array([])
    if linear:
        v = v[np.isfinite(v)]
        if v.size:
            lo, hi = float(v.min()), float(v.max())
            pad = 0.06 * (hi - lo) if hi > lo else 0.1 * max(abs(hi), 1.0)
            ax.set_ylim(lo - pad, hi + pad)
        return
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        lo, hi = float(v.min()), float(v.max())
        pad = (hi / lo) ** 0.08 if hi > lo else 1.1
        ax.set_ylim(lo / pad, hi * pad)
        log_ticks(ax.yaxis, kind)


def plain_ticks(axis: Any, lo: float, hi: float) -> None:
    """Readable ticks on a log axis of plain numbers (kept for callers that pass limits:
    :func:`log_ticks` reads them from the axis)."""
    log_ticks(axis, "plain")


def save(fig: Figure, path: Any, *, dpi: int = 150) -> Any:
    """Write a figure to ``path``; the format follows the suffix (.png, .svg, .pdf, ...).

    Returns the path. Raises :class:`~scalinglaws.errors.DataError` for a suffix
    matplotlib cannot write.
    """
    from pathlib import Path

    from scalinglaws.errors import DataError

    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in fig.canvas.get_supported_filetypes():
        known = ", ".join(sorted(fig.canvas.get_supported_filetypes()))
        raise DataError(f"cannot write a figure as {target.suffix or 'a file without a suffix'!r}: use one of {known}")
    fig.savefig(target, format=fmt, dpi=dpi, bbox_inches="tight")
    return target


def finish(ax: Axes, max_legend: int = 10) -> None:
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        if len(handles) > max_legend:
            handles, labels = handles[:max_legend], labels[:max_legend]
        ax.legend(handles, labels, fontsize=8, frameon=False)


__all__ = ["DATA_COLOR", "FIT_COLOR", "HELD_COLOR", "LABELS", "OKABE_ITO", "SIZE", "TICKS", "axis_label", "count_label", "cycle",
           "finish", "log_ticks", "new_axes", "new_figure", "plain_ticks", "save", "ylim_from_lines"]
