"""The answer of the data planners, :class:`DataPlan`, and the helpers they share.

The helpers check that a fit is of the expected catalog law, take its finite bootstrap
draws, give its parameters as scalars or as columns of draws, a percentile band, and a
checked number. :mod:`scalinglaws.plan.data_mix` holds the planners and re-exports
:class:`DataPlan`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError

__all__ = ["DataPlan"]


@dataclass(frozen=True)
class DataPlan:
    """The data choice a fitted data law recommends, with bootstrap intervals.

    Attributes
    ----------
    kind : str
        ``"cpt_mixture"``, ``"mixture"`` or ``"filtering"``.
    choice : dict
        What to train on: ``{"mix_ratio": r}``, the proportion per domain, or
        ``{"pools": k}`` (the best ``k`` pools by utility, named in ``pools``).
    choice_interval : dict
        Percentile interval of each entry of ``choice`` over bootstrap draws (empty
        without draws).
    loss, loss_interval
        The predicted loss (error) of the choice, and its interval over draws.
    options : DataFrame
        The candidates: ratios with both losses, domains with their proportion, or
        filters with their error.
    pools : tuple of str
        The pools kept (filtering), best first.
    note : str
        What was optimised, in words.
    level : float
    """

    kind: str
    choice: Mapping[str, float]
    choice_interval: Mapping[str, tuple[float, float]]
    loss: float
    loss_interval: tuple[float, float] | None
    options: pd.DataFrame = field(repr=False)
    pools: tuple[str, ...] = ()
    note: str = ""
    level: float = 0.9

    def __repr__(self) -> str:
        parts = []
        for k, v in self.choice.items():
            ci = self.choice_interval.get(k)
            parts.append(f"{k}={v:.4g}" + (f" ({ci[0]:.4g}, {ci[1]:.4g})" if ci else ""))
        text = f"DataPlan({self.kind}: " + ", ".join(parts)
        if self.pools:
            text += f" [{', '.join(self.pools)}]"
        text += f"; loss={self.loss:.4g}"
        band = self.loss_interval
        has = band is not None and bool(np.all(np.isfinite(band)))
        if band is not None and has:
            text += f" ({band[0]:.4g}, {band[1]:.4g})"
        if not (has or self.choice_interval):
            return text + "; no intervals: the fit has no bootstrap draws)"
        return text + f"; {self.level:.0%} intervals)"

    def report(self) -> str:
        """The choice, the note and the table of candidates, as text (columns that are all
        NaN, the bands of a fit without bootstrap draws, left out)."""
        shown = self.options.loc[:, ~self.options.isna().all(axis=0)] if len(self.options) else self.options
        table = shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        return f"{self!r}\n{self.note}\n{table}"

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(repr(self))}</p><p>{html.escape(self.note)}</p>"
                + self.options.to_html(index=False, float_format="{:.4g}".format))

    def to_dict(self) -> dict[str, Any]:
        def j(v: Any) -> Any:
            return float(v) if isinstance(v, (float, np.floating)) and math.isfinite(v) else (
                None if isinstance(v, (float, np.floating)) else v)

        return {
            "kind": self.kind,
            "choice": {k: j(v) for k, v in self.choice.items()},
            "choice_interval": {k: [j(a), j(b)] for k, (a, b) in self.choice_interval.items()},
            "loss": j(self.loss),
            "loss_interval": None if self.loss_interval is None else [j(v) for v in self.loss_interval],
            "pools": list(self.pools),
            "note": self.note,
            "level": self.level,
            "options": [{k: j(v) for k, v in row.items()} for row in self.options.to_dict(orient="records")],
        }


# --------------------------------------------------------------------------- helpers


def _catalog(fit: Any, name: str, what: str) -> Fit:
    if not isinstance(fit, Fit) or fit.law.spec.get("catalog") != name:
        got = fit.law.spec.get("catalog") or fit.law.name if isinstance(fit, Fit) else type(fit).__name__
        raise DataError(f"{what} needs a fit of the {name!r} law, got {got!r}")
    return fit


def _draws(fit: Fit) -> np.ndarray | None:
    if fit.draws is None or len(fit.draws) == 0:
        return None
    d = fit.draws[np.all(np.isfinite(fit.draws), axis=1)]
    return d if len(d) >= 2 else None


def _params(fit: Fit, draws: np.ndarray | None) -> dict[str, Any]:
    """The fit's parameters (scalars), or columns (S, 1) of its draws."""
    if draws is None:
        return {n: fit.params[n] for n in fit.free_params}
    return {n: draws[:, i : i + 1] for i, n in enumerate(fit.free_params)}


def _band(values: np.ndarray, level: float) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return (math.nan, math.nan)
    lo, hi = np.percentile(v, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return (float(lo), float(hi))


def _number(value: Any, name: str, *, low: float = 0.0, strict: bool = True) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < low or (strict and value == low):
        raise DataError(f"{name} must be a number {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)
