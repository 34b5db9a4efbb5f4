"""A flag for emergence: does a task's curve break, sharply, inside the data?

:func:`emergence` fits a broken power law (Caballero et al. 2023, catalog ``bnsl``) with
no break and with one break to a task's error against scale, and flags an emergent
ability when the break is (1) much better by the small-sample Akaike criterion (AICc on
log residuals), (2) inside the range of the data, (3) a steepening (the error starts
falling faster past it, as when accuracy leaves chance) and (4) sharp (the break's
``f1`` at most ``max_sharpness``; ``f1`` is about the width of the bend in e-folds of x).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.engine.fit import fit as _fit
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, ScalingLawsWarning

__all__ = ["Emergence", "emergence"]


@dataclass(frozen=True)
class Emergence:
    """Whether a curve shows a sharp break (emergence), from broken-power-law fits.

    Attributes
    ----------
    emergent : bool
        All four conditions hold (see the module docstring).
    delta_aic : float
        AICc(no break) - AICc(one break): positive favours the break.
    break_at : float
        Where the one-break fit bends (``d1``, units of x).
    sharpness : float
        The bend's ``f1`` (small is sharp).
    slope_change : float
        ``c1``: how much steeper the error falls in log-log past the break (> 0: steeper).
    inside : bool
        ``break_at`` lies between the smallest and largest x.
    reason : str
        Why it is (not) flagged, in words.
    n_points : int
    fit0, fit1 : Fit
        The fits with no and one break (on the error ``ceiling - y`` when ``accuracy``).
    """

    emergent: bool
    delta_aic: float
    break_at: float
    sharpness: float
    slope_change: float
    inside: bool
    reason: str
    n_points: int
    fit0: Fit = field(repr=False)
    fit1: Fit = field(repr=False)

    def __repr__(self) -> str:
        verdict = "emergent" if self.emergent else "smooth"
        return (f"Emergence({verdict}: dAICc={self.delta_aic:.3g}, break at {self.break_at:.3g}, "
                f"sharpness {self.sharpness:.3g}, slope change {self.slope_change:.3g}; {self.reason})")

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(repr(self))}</pre>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "emergent": self.emergent,
            "delta_aic": self.delta_aic,
            "break_at": self.break_at,
            "sharpness": self.sharpness,
            "slope_change": self.slope_change,
            "inside": self.inside,
            "reason": self.reason,
            "n_points": self.n_points,
        }


def _aicc(fit: Fit, x: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        r = np.log(np.asarray(fit.predict(x=x), dtype=float)) - np.log(y)
    n, k = len(y), len(fit.free_params)
    rss = float(np.sum(r**2))
    if not math.isfinite(rss):
        return math.inf
    aic = n * math.log(max(rss / n, 1e-300)) + 2 * k
    return aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf)


def emergence(
    data: Runs | pd.DataFrame,
    *,
    x: str = "n_params",
    y: str = "accuracy",
    accuracy: bool = True,
    ceiling: float = 1.0,
    min_delta_aic: float = 10.0,
    max_sharpness: float = 1.0,
    seed: int = 0,
) -> Emergence:
    """Flag a sharp break (emergence) in a task's curve by broken-power-law fits.

    Parameters
    ----------
    data : DataFrame or Runs
        One row per model (or checkpoint), with columns ``x`` and ``y``.
    x, y : str
        Scale (model size, compute, ...) and score columns.
    accuracy : bool
        ``y`` rises with scale (accuracy): the laws are fitted to ``ceiling - y``. With
        False, ``y`` is an error or loss that falls with scale and is fitted as it is.
    min_delta_aic : float
        How much lower the one-break AICc must be (10: "very strong" support).
    max_sharpness : float
        Largest ``f1`` that counts as a sharp break.

    Returns
    -------
    Emergence

    Examples
    --------
    ``sl.emergence(frame, x="n_params", y="acc")``
    """
    frame = data.data if isinstance(data, Runs) else data
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"emergence needs a DataFrame or Runs, got {type(data).__name__}")
    for col in (x, y):
        if col not in frame.columns:
            raise DataError(f"emergence: no column {col!r}; columns are {list(frame.columns)}")
    xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
    err = ceiling - ys if accuracy else ys
    keep = np.isfinite(xs) & np.isfinite(err)
    xs, err = xs[keep], err[keep]
    if np.any(xs <= 0):
        raise DataError(f"emergence: {x} must be > 0 (a scale), got {xs[xs <= 0][0]!r}")
    if np.any(err <= 0):
        what = f"{y} must stay below the ceiling {ceiling}" if accuracy else f"{y} must be > 0"
        raise DataError(f"emergence: {what}")
    if len(np.unique(xs)) < 5 or len(xs) < 8:
        raise DataError(f"emergence needs at least 8 points at 5 scales or more, got {len(xs)} at {len(np.unique(xs))}")
    runs = pd.DataFrame({"x": xs, "error": err})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLawsWarning)
        fit0 = _fit(runs, "bnsl", law_options={"breaks": 0}, target="error", loss="squared", seed=seed)
        fit1 = _fit(runs, "bnsl", law_options={"breaks": 1}, target="error", loss="squared", seed=seed)
    delta = _aicc(fit0, xs, err) - _aicc(fit1, xs, err)
    d1, f1, c1 = (float(fit1.params[k]) for k in ("d1", "f1", "c1"))
    inside = bool(xs.min() < d1 < xs.max())
    checks = [
        (delta >= min_delta_aic, f"dAICc {delta:.3g} {'>=' if delta >= min_delta_aic else '<'} {min_delta_aic:g}"),
        (inside, "break inside the data" if inside else "break outside the data"),
        (c1 > 0, "steepening" if c1 > 0 else "flattening"),
        (f1 <= max_sharpness, f"sharpness {f1:.3g} {'<=' if f1 <= max_sharpness else '>'} {max_sharpness:g}"),
    ]
    emergent = all(ok for ok, _ in checks)
    reason = "; ".join(text for ok, text in checks if ok == emergent) if not emergent else "; ".join(t for _, t in checks)
    return Emergence(
        emergent=emergent, delta_aic=float(delta), break_at=d1, sharpness=f1, slope_change=c1, inside=inside,
        reason=reason, n_points=len(xs), fit0=fit0, fit1=fit1,
    )
