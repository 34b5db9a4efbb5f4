"""The result of an IsoFLOP analysis or of a training-curve envelope: :class:`IsoFlop`."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.plan.powerlaw import PowerLawFit

POINT_COLUMNS = ("flops", "n_params", "n_tokens", "loss", "in_fit", "used")
CURVE_COLUMNS = ("flops", "n_params", "loss_fit")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    table = frame.astype(object).where(pd.notna(frame), None)
    out = table.to_dict(orient="records")
    for row in out:
        for k, v in row.items():
            if isinstance(v, np.generic):
                row[k] = v.item()
    return out


@dataclass(frozen=True, eq=False)
class IsoFlop:
    """The result of an IsoFLOP analysis (Approach 2) or of a training-curve envelope (Approach 1).

    Attributes
    ----------
    optima : pandas.DataFrame
        One row per budget: ``flops, n_sizes, n_opt, n_opt_lo, n_opt_hi, n_opt_sd,
        d_opt, d_opt_lo, d_opt_hi, d_opt_sd, loss_opt, loss_opt_lo, loss_opt_hi,
        tokens_per_param, n_valid_draws, at_edge, unstable, few_sizes, used`` (``*_sd``:
        standard deviation of the log; intervals NaN where they cannot be had).
    n_opt, d_opt : PowerLawFit
        ``n_opt(C) = k C^a`` and ``d_opt(C)``, fitted on the ``used`` budgets.
    method : str
    level : float
    options : dict
    warnings : tuple of str
    points : pandas.DataFrame
        The runs analysed: ``flops`` (their budget), ``n_params``, ``n_tokens``,
        ``loss``, ``in_fit`` (inside the budget's fitted window) and ``used`` (their
        budget entered the power laws). Empty for an envelope.
    curves : pandas.DataFrame
        Each budget's fitted curve on a dense grid over its sizes: ``flops, n_params,
        loss_fit``. Empty for an envelope.
    grouping : str
        How the runs were grouped into budgets (empty for an exact IsoFLOP design).
    """

    optima: pd.DataFrame
    n_opt: PowerLawFit
    d_opt: PowerLawFit
    method: str
    level: float = 0.95
    options: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    points: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(POINT_COLUMNS)))
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(CURVE_COLUMNS)))
    grouping: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "level": self.level,
            "options": dict(self.options),
            "grouping": self.grouping,
            "n_opt": self.n_opt.to_dict(),
            "d_opt": self.d_opt.to_dict(),
            "optima": _records(self.optima),
            "points": _records(self.points),
            "warnings": list(self.warnings),
        }

    def report(self) -> str:
        """A plain-text table of the optima and the two power laws."""
        used = int(self.optima["used"].sum())
        lines = [f"IsoFLOP analysis ({self.method}): {len(self.optima)} budgets, {used} used in the fits"]
        if self.grouping:
            lines.append(f"  grouping: {self.grouping}")
        lines.append(f"  {'flops':>10} {'sizes':>5} {'n_opt':>10} {'interval':>23} {'d_opt':>10} {'D/N':>7} {'loss':>8}  note")
        for r in self.optima.itertuples():
            unstable, few = getattr(r, "unstable", False), getattr(r, "few_sizes", False)
            note = "edge" if r.at_edge else "unstable" if unstable else "3 sizes: no interval" if few else ""
            lo_, hi_ = getattr(r, "n_opt_lo", math.nan), getattr(r, "n_opt_hi", math.nan)
            interval = f"{lo_:.3g} to {hi_:.3g}" if np.isfinite(lo_) else ""
            loss = f"{r.loss_opt:>8.5g}" if np.isfinite(r.loss_opt) else f"{'-':>8}"
            n_sizes = getattr(r, "n_sizes", getattr(r, "n_covering", 0))
            lines.append(
                f"  {r.flops:>10.4g} {int(n_sizes):>5d} {r.n_opt:>10.4g} {interval:>23} {r.d_opt:>10.4g} "
                f"{r.tokens_per_param:>7.3g} {loss}  {'' if r.used else note or 'not used'}"
            )
        for fit in (self.n_opt, self.d_opt):
            ci = (f"   ({fit.level:.0%} interval of the exponent {fit.exponent_interval[0]:.4f} to "
                  f"{fit.exponent_interval[1]:.4f})") if fit.exponent_interval else f"   (no interval: {fit.note})" if fit.note else ""
            r2 = f"   r2 {fit.r2:.4f}" if math.isfinite(fit.r2) else ""
            lines.append(f"  {fit.y}(C) = {fit.coefficient:.4g} * C^{fit.exponent:.4f}{ci}{r2}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        used = int(self.optima["used"].sum())
        return (
            f"IsoFlop(method={self.method!r}, {len(self.optima)} budgets, {used} used; "
            f"n_opt ~ C^{self.n_opt.exponent:.4f}, d_opt ~ C^{self.d_opt.exponent:.4f})"
        )

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.report())}</pre>"


__all__ = ["CURVE_COLUMNS", "POINT_COLUMNS", "IsoFlop"]
