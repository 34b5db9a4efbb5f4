"""The critical batch size: the steps-examples trade-off of McCandlish et al. (2018)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError
from scalinglaws.plan.powerlaw import Seed, rng_of


@dataclass(frozen=True)
class CriticalBatch:
    """McCandlish et al.'s trade-off ``(S/S_min - 1)(E/E_min - 1) = 1`` at one target loss.

    Attributes
    ----------
    s_min : float
        Fewest optimizer steps that reach the loss (infinite batch).
    e_min : float
        Fewest examples (or tokens) that reach it (tiny batch).
    b_crit : float
        Critical batch size ``E_min / S_min``: at it, training costs ``2 S_min`` steps
        and ``2 E_min`` examples.
    intervals : dict
        Bootstrap intervals of the three (resampling the batch sizes).
    rmse : float
        Root mean square of the log-steps residuals.
    """

    s_min: float
    e_min: float
    b_crit: float
    n_points: int
    rmse: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95

    def steps(self, batch_size: Any) -> Any:
        """Steps to reach the loss at a batch size: ``S_min (1 + B_crit / B)``."""
        return self.s_min * (1.0 + self.b_crit / np.asarray(batch_size, dtype=float))

    def examples(self, batch_size: Any) -> Any:
        """Examples to reach the loss: ``E_min (1 + B / B_crit)``."""
        return self.e_min * (1.0 + np.asarray(batch_size, dtype=float) / self.b_crit)

    def to_dict(self) -> dict[str, Any]:
        return {"s_min": self.s_min, "e_min": self.e_min, "b_crit": self.b_crit, "n_points": self.n_points,
                "rmse": self.rmse, "intervals": {k: list(v) for k, v in self.intervals.items()}, "level": self.level}

    def __repr__(self) -> str:
        ci = ""
        if "b_crit" in self.intervals:
            a, b = self.intervals["b_crit"]
            ci = f" [{a:.4g}, {b:.4g}]"
        return (f"CriticalBatch(b_crit={self.b_crit:.4g}{ci}, s_min={self.s_min:.4g}, e_min={self.e_min:.4g}, "
                f"{self.n_points} points, rmse={self.rmse:.3g})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _fit_hyperbola(S: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """Least squares of log S on log(S_min + E_min / B), in log parameters."""
    A = np.column_stack([np.ones_like(B), 1.0 / B])
    c, *_ = np.linalg.lstsq(A, S, rcond=None)
    s0 = max(c[0], S.min() * 0.1)
    e0 = max(c[1], (S * B).min() * 0.1)

    def resid(p: np.ndarray) -> np.ndarray:
        return np.log(np.exp(p[0]) + np.exp(p[1]) / B) - np.log(S)

    from scipy.optimize import (
        least_squares,  # scipy.optimize is slow to import; only this needs it
    )

    res = least_squares(resid, np.log([s0, e0]), method="lm", xtol=1e-12, ftol=1e-12)
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def critical_batch_size(
    data: Runs | pd.DataFrame | str,
    *,
    steps: str = "steps",
    examples: str | None = "examples",
    batch_size: str | None = None,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> CriticalBatch:
    """Fit the steps-examples trade-off of McCandlish et al. (2018) at one target loss.

    Parameters
    ----------
    data : Runs, DataFrame or path
        One row per batch size: the steps and the examples (or tokens) it took to reach
        the same loss. Give ``batch_size=COLUMN`` instead of ``examples`` when the table
        has the batch size (examples are then ``steps * batch_size``).
    bootstrap : int
        Resamples of the rows for intervals (0: none).

    Returns
    -------
    CriticalBatch
        ``S = S_min + E_min / B`` fitted by least squares on log S (equivalent to
        ``(S/S_min - 1)(E/E_min - 1) = 1`` with ``B = E / S``).

    Examples
    --------
    >>> B = np.geomspace(32, 32768, 8)
    >>> df = pd.DataFrame({"steps": 1000 * (1 + 2048 / B), "examples": 1000 * (1 + 2048 / B) * B})
    >>> round(critical_batch_size(df, bootstrap=0).b_crit)
    2048
    """
    if not isinstance(data, Runs):
        data = load_runs(data)
    if batch_size is not None:
        data.require([steps, batch_size], positive=[steps, batch_size], min_rows=3, purpose="the critical batch size")
        S, B = data.column(steps), data.column(batch_size)
    else:
        if examples is None:
            raise DataError("give the examples column (examples=...) or the batch-size column (batch_size=...)")
        data.require([steps, examples], positive=[steps, examples], min_rows=3, purpose="the critical batch size")
        S = data.column(steps)
        B = data.column(examples) / S
    if np.unique(B).size < 3:
        raise DataError(f"the critical batch size needs at least 3 distinct batch sizes; got {np.unique(B).size}")
    s_min, e_min = _fit_hyperbola(S, B)
    rmse = float(np.sqrt(np.mean((np.log(s_min + e_min / B) - np.log(S)) ** 2)))
    intervals: dict[str, tuple[float, float]] = {}
    if bootstrap:
        rng = rng_of(seed)
        rows = []
        for _ in range(bootstrap):
            idx = rng.integers(0, len(S), len(S))
            if np.unique(B[idx]).size < 3:
                continue
            a, b = _fit_hyperbola(S[idx], B[idx])
            rows.append((a, b, b / a))
        if len(rows) >= 2:
            q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
            lo, hi = np.percentile(np.array(rows), q, axis=0)
            intervals = {k: (float(a), float(b)) for k, a, b in zip(("s_min", "e_min", "b_crit"), lo, hi)}
    return CriticalBatch(s_min=s_min, e_min=e_min, b_crit=e_min / s_min, n_points=len(S), rmse=rmse,
                         intervals=intervals, level=level)


__all__ = ["CriticalBatch", "critical_batch_size"]
