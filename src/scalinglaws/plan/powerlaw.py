"""The one power-law regression of the planning tools: least squares in log-log space.

:func:`log_linear` fits ``log y = c0 + sum_j c_j log x_j`` (optionally weighted) and
refits draws of it in one batched solve; :func:`fit_power_law` is its one-variable
form with a :class:`PowerLawFit` result. :func:`scalinglaws.plan.isoflop.isoflop`,
:func:`scalinglaws.plan.isoflop.envelope` and :func:`scalinglaws.plan.hparams.fit_hparams`
all regress through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.errors import DataError, FitError

Seed = int | np.random.Generator | None


def rng_of(seed: Seed) -> np.random.Generator:
    """A Generator from a seed (or the Generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def batched_lstsq(A: np.ndarray, LY: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted least squares of each row of ``LY`` (R, n) on the design ``A`` (n, k),
    with weights ``W`` (R, n); returns coefficients (R, k), NaN for a row whose weighted
    design is rank-deficient (too few distinct points)."""
    R, k = LY.shape[0], A.shape[1]
    out = np.full((R, k), np.nan)
    scale = np.abs(A).max(axis=0)
    scale[scale == 0] = 1.0
    As = A / scale
    M = np.einsum("rn,ni,nj->rij", W, As, As)
    r = np.einsum("rn,ni,rn->ri", W, As, LY)
    ok = ((W > 0).sum(axis=1) >= k) & np.all(np.isfinite(M), axis=(1, 2)) & np.all(np.isfinite(r), axis=1)
    if ok.any():
        cond = np.linalg.cond(M[ok])
        good = np.flatnonzero(ok)[cond < 1e12]
        if good.size:
            out[good] = np.linalg.solve(M[good], r[good][..., None])[..., 0] / scale
    return out


def log_linear(
    logX: np.ndarray, logy: np.ndarray, *, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Weighted least squares of ``logy`` (n,) on ``[1, logX]`` (logX: (n, k)).

    Returns the coefficients ``(intercept, slopes...)`` and the weighted r² (NaN when
    there are no more points than coefficients: the fit is then exact by construction).
    """
    n = logy.size
    A = np.column_stack([np.ones(n), logX])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    coef = batched_lstsq(A, logy[None, :], w[None, :])[0]
    if not np.all(np.isfinite(coef)):
        return coef, math.nan
    W = w / w.sum()
    resid = logy - A @ coef
    tot = float((W * (logy - (W * logy).sum()) ** 2).sum())
    r2 = 1.0 - float((W * resid**2).sum()) / tot if tot > 0 else 1.0
    return coef, (r2 if n > A.shape[1] else math.nan)


def resample_counts(n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap resamples of ``n`` points as multiplicities: (draws, n) floats."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(float)


@dataclass(frozen=True)
class PowerLawFit:
    """``y = coefficient * x ** exponent``, fitted in log-log space.

    Attributes
    ----------
    exponent, coefficient : float
    exponent_interval, coefficient_interval : (float, float) or None
        Percentile intervals at ``level`` over the refits of the draws; ``None`` when
        there are no draws or too few points for an interval (see ``note``).
    r2 : float
        Coefficient of determination of the (weighted) fit in log space; NaN with two
        points, where the line passes through both by construction.
    n_points : int
    weighted : bool
    x, y : str
        Names of the two quantities (for display).
    note : str
        Why an interval is missing, if it is.
    draws : array of shape (n_draws, 2) or None
        ``(exponent, coefficient)`` of each refit.
    """

    exponent: float
    coefficient: float
    r2: float
    n_points: int
    exponent_interval: tuple[float, float] | None = None
    coefficient_interval: tuple[float, float] | None = None
    level: float = 0.95
    weighted: bool = False
    x: str = "flops"
    y: str = "y"
    note: str = ""
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def predict(self, x: Any) -> Any:
        """``coefficient * x ** exponent``."""
        out = self.coefficient * np.asarray(x, dtype=float) ** self.exponent
        return out if np.ndim(out) else float(out)

    def predict_interval(self, x: Any, level: float | None = None) -> tuple[Any, Any]:
        """Percentile band of the prediction over the refits: (lower, upper)."""
        if self.draws is None or len(self.draws) < 2:
            raise FitError("this power-law fit has no draws: intervals are not available"
                           + (f" ({self.note})" if self.note else ""))
        lvl = self.level if level is None else level
        xs = np.asarray(x, dtype=float)
        pred = self.draws[:, 1:2] * xs.reshape(1, -1) ** self.draws[:, 0:1]
        lo, hi = np.percentile(pred, [(1 - lvl) / 2 * 100, (1 + lvl) / 2 * 100], axis=0)
        return lo.reshape(xs.shape), hi.reshape(xs.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "y": self.y,
            "exponent": self.exponent,
            "coefficient": self.coefficient,
            "exponent_interval": None if self.exponent_interval is None else list(self.exponent_interval),
            "coefficient_interval": None if self.coefficient_interval is None else list(self.coefficient_interval),
            "level": self.level,
            "r2": self.r2 if math.isfinite(self.r2) else None,
            "n_points": self.n_points,
            "weighted": self.weighted,
            "note": self.note,
        }

    def __repr__(self) -> str:
        ci = ""
        if self.exponent_interval is not None:
            ci = f" ({self.level:.0%}: {self.exponent_interval[0]:.4g} to {self.exponent_interval[1]:.4g})"
        r2 = f"r2={self.r2:.4f}" if math.isfinite(self.r2) else "r2 n/a"
        return (
            f"PowerLawFit({self.y} = {self.coefficient:.4g} * {self.x}**{self.exponent:.4g}{ci}, "
            f"{r2}, {self.n_points} points{', weighted' if self.weighted else ''})"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(repr(self))}</pre>"


def fit_power_law(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    sd: Sequence[float] | np.ndarray | None = None,
    y_draws: np.ndarray | None = None,
    bootstrap: int = 0,
    seed: Seed = 0,
    level: float = 0.95,
    x_name: str = "flops",
    y_name: str = "y",
) -> PowerLawFit:
    """Fit ``y = k x^a`` by (weighted) least squares of ``log y`` on ``log x``.

    Parameters
    ----------
    x, y : array of shape (n,)
        Positive values.
    sd : array of shape (n,), optional
        Standard deviation of each ``log y``; weights are ``1 / sd^2``.
    y_draws : array of shape (n_draws, n), optional
        Draws of ``y`` (NaN where a draw failed); each row is refitted for the interval.
    bootstrap : int
        Without ``y_draws``: resample the points this many times for the interval.
    seed : int or Generator
    level : float

    Returns
    -------
    PowerLawFit
        With two points the line passes through both: no interval (``note`` says so)
        and ``r2`` NaN.

    Examples
    --------
    >>> c = np.array([1e18, 1e19, 1e20])
    >>> round(fit_power_law(c, 0.1 * c**0.5, y_name="n_opt").exponent, 6)
    0.5
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise DataError(f"x and y must be 1-D arrays of one shape, got {xs.shape} and {ys.shape}")
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    w = np.ones_like(xs)
    if sd is not None:
        s = np.asarray(sd, dtype=float)
        if s.shape != xs.shape:
            raise DataError(f"sd must have one value per point ({xs.size}), got shape {s.shape}")
        ok &= np.isfinite(s) & (s > 0)
        w = np.where(ok, 1.0 / np.where(ok, s, 1.0) ** 2, 0.0)
    if ok.sum() < 2 or np.unique(xs[ok]).size < 2:
        raise FitError(f"a power law needs at least 2 points with distinct positive x; got {int(ok.sum())}")
    lx, ly = np.log(xs[ok]), np.log(ys[ok])
    coef, r2 = log_linear(lx[:, None], ly, weights=w[ok])
    A = np.column_stack([np.ones(lx.size), lx])
    draws = None
    if y_draws is not None:
        Y = np.asarray(y_draws, dtype=float)
        if Y.ndim != 2 or Y.shape[1] != xs.size:
            raise DataError(f"y_draws must have shape (n_draws, {xs.size}), got {Y.shape}")
        Y = Y[:, ok]
        M = (np.isfinite(Y) & (Y > 0)).astype(float)
        draws = batched_lstsq(A, np.log(np.where(M > 0, Y, 1.0)), M * w[ok])
    elif bootstrap:
        counts = resample_counts(lx.size, bootstrap, rng_of(seed))
        draws = batched_lstsq(A, np.broadcast_to(ly, counts.shape), counts * w[ok])
    note = ""
    if draws is not None:
        draws = draws[np.all(np.isfinite(draws), axis=1)][:, ::-1]
        draws[:, 1] = np.exp(draws[:, 1])
    e_ci = c_ci = None
    if int(ok.sum()) < 3:
        note = f"{int(ok.sum())} points: the line passes through them exactly, so there is no interval"
        draws = None
    elif draws is not None and len(draws) >= 2:
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        e_ci = tuple(float(v) for v in np.percentile(draws[:, 0], q))
        c_ci = tuple(float(v) for v in np.percentile(draws[:, 1], q))
    return PowerLawFit(
        exponent=float(coef[1]),
        coefficient=math.exp(float(coef[0])),
        r2=r2,
        n_points=int(ok.sum()),
        exponent_interval=e_ci,  # type: ignore[arg-type]
        coefficient_interval=c_ci,  # type: ignore[arg-type]
        level=level,
        weighted=sd is not None,
        x=x_name,
        y=y_name,
        note=note,
        draws=draws,
    )


__all__ = ["PowerLawFit", "batched_lstsq", "fit_power_law", "log_linear", "resample_counts", "rng_of"]
