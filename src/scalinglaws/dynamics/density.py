"""Capability density and the Densing law of Xiao et al. (2024).

Xiao et al. ("Densing Law of LLMs", arXiv 2412.04315; Nature Machine Intelligence 2025)
measure a model by the size a reference family would need to match it:

1. :func:`capability_density` chains two fits, as the two-step downstream method does
   (:func:`scalinglaws.predict_downstream`), but backwards: a score is mapped to the
   loss that gives it through the loss-to-score fit (e.g. ``accuracy_sigmoid``), and
   that loss to the parameter count ``N_hat`` at which the reference loss law (e.g.
   ``chinchilla``; the paper's ``a N^-alpha + b D^-beta``) reaches it with
   ``n_tokens`` of training data (1T in the paper). The density is ``N_hat / N``;
   intervals pair the two fits' bootstrap draws. Where the reference family's losses
   are not public, one step does: a fit of the score directly against ``n_params``
   (no loss fit, ``loss_fit=None``) is inverted to ``N_hat``.
2. :func:`density_trend` fits the law ``ln rho_max = A t + B`` over release dates (t in
   days) to the envelope of the densities (the models that set a new maximum), and
   gives the doubling time ``ln 2 / A`` with a t interval on the slope. The paper
   reports A ~ 0.007 per day (3.3 months; 0.0073, 95 days, in Sec. 3.3).
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.dynamics.downstream import _loss_variable
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError, FitError, LawError, ScalingLawsWarning

__all__ = ["CapabilityDensity", "DensityTrend", "capability_density", "density_trend"]

#: Days per month used for the doubling time in months (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12
_N_RANGE = (1e3, 1e18)


def _fmt(lo: float, hi: float) -> str:
    return f"{lo:.3g} to {hi:.3g}"


# --------------------------------------------------------------------------- step 1: density


@dataclass(frozen=True)
class CapabilityDensity:
    """Effective parameter counts and densities, one row per model.

    Attributes
    ----------
    table : DataFrame
        The models given, with ``effective_params``, ``effective_lower``,
        ``effective_upper``, ``density``, ``density_lower``, ``density_upper`` added
        (NaN where the score lies outside the score fit's range or the loss outside the
        reference law's reach between 1e3 and 1e18 parameters).
    n_tokens : float
        The reference models' training data at which ``N_hat`` is read (D_0); NaN in
        the one-step mode (a score fit in ``n_params``, no loss fit).
    level : float
    n_draws : int
        Paired bootstrap draws behind the intervals (0: none).
    """

    table: pd.DataFrame = field(repr=False)
    n_tokens: float
    level: float = 0.9
    n_draws: int = 0

    def __repr__(self) -> str:
        rho = self.table["density"]
        at = f"at D_0={self.n_tokens:.3g} tokens" if math.isfinite(self.n_tokens) else "from a score fit in n_params"
        return (f"CapabilityDensity({len(self.table)} models {at}: density median "
                f"{np.nanmedian(rho):.3g}, range {_fmt(np.nanmin(rho), np.nanmax(rho))}; {self.n_draws} draws)")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>" + self.table.to_html(index=False, float_format="{:.4g}".format)

    def to_dict(self) -> dict[str, Any]:
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in self.table.astype(object).to_dict(orient="records")]
        n_tokens = self.n_tokens if math.isfinite(self.n_tokens) else None
        return {"n_tokens": n_tokens, "level": self.level, "n_draws": self.n_draws, "table": rows}


def _thetas(fit: Fit) -> np.ndarray:
    point = np.array([[fit.params[p] for p in fit.free_params]], dtype=float)
    if fit.draws is not None and len(fit.draws):
        try:
            return np.vstack([point, fit._valid_draws()])
        except FitError:
            pass
    return point


def _evaluate(fit: Fit, theta: np.ndarray, X: dict[str, np.ndarray]) -> np.ndarray:
    P = {p: theta[:, i : i + 1] for i, p in enumerate(fit.free_params)}
    shape = np.broadcast_shapes(*(np.shape(v) for v in X.values()))
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fit.law.function(X, P), dtype=float), shape)


def _bisect(f: Any, lo: np.ndarray, hi: np.ndarray, target: np.ndarray, iters: int = 100) -> np.ndarray:
    """x in [lo, hi] with f(x) = target for a monotone f (either way); NaN where not bracketed."""
    flo, fhi = f(lo), f(hi)
    rising = fhi > flo
    ok = (np.minimum(flo, fhi) <= target) & (target <= np.maximum(flo, fhi))
    a, b = lo.copy(), hi.copy()
    for _ in range(iters):
        mid = 0.5 * (a + b)
        above = f(mid) >= target
        go_left = np.where(rising, above, ~above)
        b = np.where(go_left, mid, b)
        a = np.where(go_left, a, mid)
    return np.where(ok, 0.5 * (a + b), np.nan)


def capability_density(
    loss_fit: Fit | None,
    score_fit: Fit,
    models: pd.DataFrame,
    *,
    score: str = "score",
    n_params: str = "n_params",
    n_tokens: float = 1e12,
    level: float = 0.9,
) -> CapabilityDensity:
    """Effective size ``N_hat`` and density ``N_hat / N`` of each model (Xiao et al. 2024, Eq. 4).

    Parameters
    ----------
    loss_fit : Fit or None
        The reference family's loss law in ``n_params`` and ``n_tokens``; ``None`` for
        the one-step mode, where ``score_fit`` maps size to score directly.
    score_fit : Fit
        Score (accuracy) against that loss: a law of one variable, monotone over the
        losses seen (e.g. ``accuracy_sigmoid``). With ``loss_fit=None``: the reference
        family's score against size, a law of ``n_params`` alone, monotone in it (e.g.
        ``"25 + 75 / (1 + exp(-k * (log(n_params) - m)))"`` for 4-way MMLU in percent);
        ``N_hat`` is the size at which it reaches each model's score.
    models : DataFrame
        One row per model to measure, with columns ``score`` and ``n_params``.
    n_tokens : float
        D_0, the reference models' data at which ``N_hat`` is read (1e12 in the paper);
        unused (and NaN in the result) in the one-step mode.
    level : float
        Interval level over paired bootstrap draws of the two fits (fit them with
        ``bootstrap=`` for intervals).

    Returns
    -------
    CapabilityDensity
    """
    level = check_level(level)
    if not isinstance(models, pd.DataFrame) or any(c not in models.columns for c in (score, n_params)):
        raise DataError(f"models must be a DataFrame with the columns {score!r} and {n_params!r}")
    if not (isinstance(n_tokens, (int, float)) and math.isfinite(n_tokens) and n_tokens > 0):
        raise DataError(f"n_tokens must be a positive number, got {n_tokens!r}")
    for name, f in (("score_fit", score_fit), ("loss_fit", loss_fit)):
        if not (f is None and name == "loss_fit") and not isinstance(f, Fit):
            raise DataError(f"{name} must be a Fit (from sl.fit), got {type(f).__name__}")
    if loss_fit is None:
        return _one_step(score_fit, models, score, n_params, level)
    need = {"n_params", "n_tokens"}
    if set(loss_fit.law.variables) != need:
        raise LawError(f"the loss fit must be a law of n_params and n_tokens; {loss_fit.law.name!r} has {list(loss_fit.law.variables)}")
    var = _loss_variable(score_fit)
    if var == n_params or var == "n_params":
        raise LawError("the score fit is a law of model size, not of the loss: with no loss fit, "
                       "pass loss_fit=None (one step)")
    s = pd.to_numeric(models[score], errors="coerce").to_numpy(float)
    size = pd.to_numeric(models[n_params], errors="coerce").to_numpy(float)
    tl, ts = _thetas(loss_fit), _thetas(score_fit)
    n = max(len(tl), len(ts)) if min(len(tl), len(ts)) == 1 else min(len(tl), len(ts))
    tl, ts = tl[np.arange(n) % len(tl)], ts[np.arange(n) % len(ts)]
    target = np.broadcast_to(s, (n, s.size))
    # score -> loss, on a bracket around every loss the reference law gives between its size limits
    lmax = _evaluate(loss_fit, tl, {"n_params": np.full((n, 1), _N_RANGE[0]), "n_tokens": np.full((n, 1), float(n_tokens))})
    lmin = _evaluate(loss_fit, tl, {"n_params": np.full((n, 1), _N_RANGE[1]), "n_tokens": np.full((n, 1), float(n_tokens))})
    lo = np.broadcast_to(np.minimum(lmin, lmax) * 0.5, target.shape).copy()
    hi = np.broadcast_to(np.maximum(lmin, lmax) * 2.0, target.shape).copy()
    loss = _bisect(lambda L: _evaluate(score_fit, ts, {var: L}), lo, hi, target)
    # loss -> N at D_0, in log N
    D = np.full(target.shape, float(n_tokens))
    logn = _bisect(lambda x: _evaluate(loss_fit, tl, {"n_params": np.exp(x), "n_tokens": D}),
                   np.full(target.shape, math.log(_N_RANGE[0])), np.full(target.shape, math.log(_N_RANGE[1])), loss)
    return _result(models, np.exp(logn), size, float(n_tokens), level)


def _result(models: pd.DataFrame, nhat: np.ndarray, size: np.ndarray, n_tokens: float, level: float,
            stacklevel: int = 3) -> CapabilityDensity:
    """The table: row 0 of ``nhat`` (draws x models) is the point fit, the rest bootstrap draws;
    ``stacklevel`` makes a warning name the caller of :func:`capability_density`."""
    out = models.copy()
    lost = ~np.isfinite(nhat[0]) & np.isfinite(size)
    if lost.any():
        names = ", ".join(str(i) for i in list(models.index[lost])[:5]) + (", ..." if lost.sum() > 5 else "")
        warnings.warn(f"{int(lost.sum())} of {len(models)} models have a score the reference cannot reach "
                      f"(outside its curve, or a size beyond 1e3-1e18): density NaN for rows {names}",
                      ScalingLawsWarning, stacklevel=stacklevel)
    out["effective_params"] = nhat[0]
    out["density"] = nhat[0] / size
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    if len(nhat) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: unreachable scores
            lo_n, hi_n = np.nanpercentile(nhat[1:], q, axis=0)
    else:
        lo_n = hi_n = np.full(size.size, np.nan)
    out["effective_lower"], out["effective_upper"] = lo_n, hi_n
    out["density_lower"], out["density_upper"] = lo_n / size, hi_n / size
    return CapabilityDensity(table=out, n_tokens=n_tokens, level=level, n_draws=len(nhat) - 1)


def _one_step(score_fit: Fit, models: pd.DataFrame, score: str, n_params: str, level: float) -> CapabilityDensity:
    """``N_hat``: the size at which the reference score fit (a law of ``n_params`` alone) reaches each score."""
    if tuple(score_fit.law.variables) != ("n_params",):
        raise LawError("with loss_fit=None the score fit must be a law of n_params alone; "
                       f"{score_fit.law.name!r} has {list(score_fit.law.variables)}")
    s = pd.to_numeric(models[score], errors="coerce").to_numpy(float)
    size = pd.to_numeric(models[n_params], errors="coerce").to_numpy(float)
    ts = _thetas(score_fit)
    target = np.broadcast_to(s, (len(ts), s.size))
    logn = _bisect(lambda x: _evaluate(score_fit, ts, {"n_params": np.exp(x)}),
                   np.full(target.shape, math.log(_N_RANGE[0])), np.full(target.shape, math.log(_N_RANGE[1])), target)
    return _result(models, np.exp(logn), size, math.nan, level, stacklevel=4)


# --------------------------------------------------------------------------- step 2: the trend


@dataclass(frozen=True)
class DensityTrend:
    """``ln rho_max = A t + B`` over release dates, and the doubling time ``ln 2 / A``.

    Attributes
    ----------
    A : float
        Growth rate of the log maximum density, per day.
    A_interval : (lower, upper)
        t interval of the slope at ``level``.
    B : float
        Intercept: ln rho at ``origin``.
    r2 : float
        R^2 of the line on the envelope points.
    doubling_days : float
        ``ln 2 / A``.
    doubling_days_interval : (lower, upper)
        From the slope's interval (upper is inf when the slope's interval reaches 0).
    origin : str
        The date t counts from (ISO date).
    envelope : DataFrame
        The points fitted: each model that set a new maximum density, with ``t_days``.
    n_models : int
        Models in the table.
    level : float
    """

    A: float
    A_interval: tuple[float, float]
    B: float
    r2: float
    doubling_days: float
    doubling_days_interval: tuple[float, float]
    origin: str
    envelope: pd.DataFrame = field(repr=False)
    n_models: int = 0
    level: float = 0.9

    @property
    def doubling_months(self) -> float:
        """Doubling time in months of 365.25 / 12 days."""
        return self.doubling_days / DAYS_PER_MONTH

    @property
    def doubling_months_interval(self) -> tuple[float, float]:
        lo, hi = self.doubling_days_interval
        return lo / DAYS_PER_MONTH, hi / DAYS_PER_MONTH

    def __repr__(self) -> str:
        lo, hi = self.doubling_months_interval
        return (f"DensityTrend(A={self.A:.4g}/day ({self.level:.0%}: {_fmt(*self.A_interval)}), R^2={self.r2:.3f}: "
                f"density doubles every {self.doubling_days:.0f} days = {self.doubling_months:.2f} months "
                f"({_fmt(lo, hi)}); {len(self.envelope)} envelope points of {self.n_models} models since {self.origin})")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>" + self.envelope.to_html(index=False, float_format="{:.4g}".format)

    def to_dict(self) -> dict[str, Any]:
        def j(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        env = self.envelope.copy()
        for c in env.columns:
            if pd.api.types.is_datetime64_any_dtype(env[c]):
                env[c] = env[c].dt.strftime("%Y-%m-%d")
        return {
            "A": self.A, "A_interval": [j(v) for v in self.A_interval], "B": self.B, "r2": self.r2,
            "doubling_days": j(self.doubling_days), "doubling_days_interval": [j(v) for v in self.doubling_days_interval],
            "doubling_months": j(self.doubling_months), "origin": self.origin, "n_models": self.n_models,
            "level": self.level, "envelope": env.to_dict(orient="records"),
        }  # fmt: skip


def _upper_hull(x: np.ndarray, y: np.ndarray, index: pd.Index) -> list[Any]:
    """Labels of the upper convex hull's vertices, left to right, up to the highest point."""
    order = sorted(range(len(x)), key=lambda i: (x[i], -y[i]))
    hull: list[int] = []
    for i in order:
        if hull and x[hull[-1]] == x[i]:
            continue  # same date, lower density
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) >= 0:
                hull.pop()  # b lies on or below the chord from a to i
            else:
                break
        hull.append(i)
    top = max(range(len(hull)), key=lambda k: y[hull[k]])
    return [index[i] for i in hull[: top + 1]]  # past the highest point the hull falls: no longer a maximum


def density_trend(
    table: pd.DataFrame | CapabilityDensity,
    *,
    date: str = "release_date",
    density: str = "density",
    origin: str | None = None,
    envelope: str = "hull",
    level: float = 0.9,
) -> DensityTrend:
    """Fit the Densing law ``ln rho_max = A t + B`` (Xiao et al. 2024, Eq. 5) to dated densities.

    Parameters
    ----------
    table : DataFrame or CapabilityDensity
        One row per model: a release date (column ``date``, anything
        :func:`pandas.to_datetime` reads) and its density (column ``density``).
    origin : str, optional
        The date t counts from (the paper: Llama-1's release); the earliest date by default.
        The slope and the doubling time do not depend on it.
    envelope : {"hull", "records", "all"}
        Which models the line is fitted to: ``"hull"`` (default), the vertices of the
        upper convex hull of ``(t, ln rho)``, the envelope that bounds every model from
        above (the paper fits "the envelope line" of the maximum density);
        ``"records"``, every model that set a new maximum when released (early records
        sit below the envelope, which steepens the line); ``"all"``, every model.
    level : float
        Level of the t interval on the slope.

    Returns
    -------
    DensityTrend

    Examples
    --------
    ``sl.density_trend(sl.datasets.load("densing_simulated")).doubling_months``
    """
    level = check_level(level)
    t = table.table if isinstance(table, CapabilityDensity) else table
    if not isinstance(t, pd.DataFrame) or date not in t.columns or density not in t.columns:
        raise DataError(f"the table needs the columns {date!r} (release date) and {density!r}")
    t = t.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas: "could not infer format"
            t[date] = pd.to_datetime(t[date])
    except (ValueError, TypeError) as err:
        raise DataError(f"column {date!r} holds something that is not a date: {err}") from None
    t[density] = pd.to_numeric(t[density], errors="coerce")
    t = t[t[date].notna() & np.isfinite(t[density]) & (t[density] > 0)].sort_values(date, kind="stable")
    start = pd.Timestamp(origin) if origin is not None else t[date].min()
    t["t_days"] = (t[date] - start).dt.total_seconds() / 86400.0
    if envelope == "records":
        best = t[density].cummax().shift(fill_value=-np.inf)
        t_fit = t[t[density] > best]
    elif envelope == "hull":
        t_fit = t.loc[_upper_hull(t["t_days"].to_numpy(float), np.log(t[density].to_numpy(float)), t.index)]
    elif envelope == "all":
        t_fit = t
    else:
        raise DataError(f"envelope must be 'hull', 'records' or 'all'; got {envelope!r}")
    if len(t_fit) < 3 or t_fit["t_days"].nunique() < 2:
        raise DataError(f"the trend needs 3 points or more on different dates; the {envelope!r} points are {len(t_fit)}")
    x, y = t_fit["t_days"].to_numpy(float), np.log(t_fit[density].to_numpy(float))
    from scipy import stats  # imported on use: it is heavy to import
    res = stats.linregress(x, y)
    half = stats.t.ppf((1 + level) / 2, len(x) - 2) * res.stderr
    a_lo, a_hi = res.slope - half, res.slope + half
    days = math.log(2) / res.slope if res.slope > 0 else math.inf
    d_lo = math.log(2) / a_hi if a_hi > 0 else math.inf
    d_hi = math.log(2) / a_lo if a_lo > 0 else math.inf
    return DensityTrend(
        A=float(res.slope), A_interval=(float(a_lo), float(a_hi)), B=float(res.intercept), r2=float(res.rvalue**2),
        doubling_days=days, doubling_days_interval=(d_lo, d_hi), origin=start.strftime("%Y-%m-%d"),
        envelope=t_fit.reset_index(drop=True), n_models=len(t), level=level,
    )  # fmt: skip
