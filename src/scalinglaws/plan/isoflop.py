"""IsoFLOP analysis: where the loss is lowest at each budget, and how that moves with C.

:func:`isoflop` is Approach 2 of Hoffmann et al. (2022, §3.2). By default it
follows the published recipe, as Llama 3 and others use it: group the runs by compute
budget, fit an unweighted parabola of loss against ``log N`` at each budget, take its
vertex as ``N_opt(C)``, then fit ``n_opt(C) = k C^a`` (and ``d_opt(C)``) by unweighted
least squares of ``log N_opt`` on ``log C``. :func:`scalinglaws.plan.envelope.envelope`
is Approach 1 (§3.4); :func:`scalinglaws.plan.powerlaw.fit_power_law` is the power-law
fit both use.

Options
-------
- ``method``: ``"cubic"``, or ``"akima"`` (Akima interpolation of log loss, as Porian et
  al. 2024 do); ``window``: fit the parabola or cubic to the sizes around the lowest
  loss; ``weighted=True``: weight the power laws by ``1 / sd^2`` of the optima (Porian et
  al.). See :mod:`scalinglaws.plan.profiles` for the curves.
- Budgets (:func:`scalinglaws.plan.budgets.group_budgets`): exact budgets for an IsoFLOP
  design; runs that are not one are grouped automatically and the result says how
  (``IsoFlop.grouping``). Runs with a missing, zero or negative loss are dropped.
- A vertex outside the sampled sizes (or a parabola opening downwards) flags the budget
  ``at_edge``: its optimum may lie beyond the sizes, so it is left out of the power laws.

Uncertainty (seeded)
--------------------
By default a bootstrap over the sizes of each budget; with ``noise=`` a parametric
bootstrap adding Gaussian noise of that standard deviation to log loss (Porian et al.'s
"seed noise"). ``n_opt_sd`` is the standard deviation of log N_opt over the draws with an
interior minimum, floored at a third of the median spacing of log N and inflated by the
share of draws whose minimum fell on the edge (Porian et al.'s rule); a budget where
fewer than half of the draws have an interior minimum is flagged ``unstable`` and left
out. A budget with only as many sizes as its curve has coefficients (3 for a parabola)
is fitted exactly by every resample, so resampling gives it no interval: its interval is
NaN (``few_sizes``) and so are the power laws' (a warning says why), as they are with
fewer than 3 budgets. The power laws' intervals come from refitting the b-th bootstrap
optimum of every budget, for each draw b. ``d_opt`` is read off the budget's own runs:
log tokens interpolated linearly in log N at N_opt, so it holds under any FLOP convention.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.budgets import group_budgets
from scalinglaws.plan.envelope import envelope
from scalinglaws.plan.iso_result import IsoFlop
from scalinglaws.plan.powerlaw import (
    PowerLawFit,
    Seed,
    fit_power_law,
    resample_counts,
    rng_of,
)
from scalinglaws.plan.profiles import (
    METHODS,
    curve_minima,
    estimate_noise,
    fitted_curve,
    needed_sizes,
    prepare,
    profiles,
)

_MIN_STD_FACTOR = 0.33


def _check(method: str, duplicates: str, bootstrap: int, window: int | None, noise: object) -> None:
    if method not in METHODS:
        raise FitError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if duplicates not in ("min", "mean"):
        raise FitError(f"duplicates must be 'min' or 'mean', got {duplicates!r}")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise FitError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
    need = needed_sizes(method)
    if window is not None and method != "akima" and (not isinstance(window, int) or window < need):
        raise FitError(f"window must be an integer of at least {need} for {method}, got {window!r}")
    if isinstance(noise, str) and noise != "auto":
        raise FitError(f"noise must be 'auto', None, a standard deviation of log loss or a function, got {noise!r}")
    if isinstance(noise, (int, float)) and not (noise > 0 and math.isfinite(noise)):
        raise FitError(f"noise must be a positive standard deviation of log loss, got {noise!r}")


def isoflop(
    runs: Runs | pd.DataFrame | str,
    *,
    method: str = "parabola",
    window: int | None = None,
    bins: int | str | None = "auto",
    duplicates: str = "min",
    bootstrap: int = 200,
    noise: str | float | Callable[[np.ndarray], np.ndarray] | None = "auto",
    weighted: bool = False,
    seed: Seed = 0,
    level: float = 0.95,
    budget: str | None = "auto",
) -> IsoFlop:
    """IsoFLOP profiles (Hoffmann et al. Approach 2): per-budget optima and their power laws.

    Parameters
    ----------
    runs : Runs, DataFrame or path
        Final losses of runs with ``n_params``, ``flops`` (the budget) and ``loss``;
        ``n_tokens`` if known (else ``flops / (6 n_params)``).
    method : {"parabola", "cubic", "akima"}
        The curve fitted at each budget: a parabola (default) or cubic of loss in
        ``log N``, or an Akima interpolant of log loss in ``log N``.
    window : int, optional
        Fit the parabola or cubic to this many sizes around the lowest measured loss
        (default: all sizes). Ignored by ``akima``.
    bins : "auto", int or None
        How runs are grouped into budgets: ``"auto"`` (default) exact budgets for an
        IsoFLOP design, else clusters of nearby budgets (stated in ``grouping``); an
        integer ``k``: bins of ``1/k`` decade; ``None``: exact budgets.
    duplicates : {"min", "mean"}
        Several runs of one size at one budget (seeds, learning rates): keep the lowest
        loss (default) or average the log losses.
    bootstrap : int
        Draws per budget for the intervals (0: none).
    noise : "auto", float, callable or None
        How the bootstrap perturbs a budget. ``None``: resample its sizes with
        replacement. A float: add Gaussian noise of that standard deviation to log loss
        (a callable gets the losses and returns one standard deviation per run).
        ``"auto"`` (default): resample for ``parabola`` and ``cubic``; for ``akima``,
        which interpolates and so has no residuals to resample, add noise with the
        standard deviation estimated from the data (:func:`estimate_noise`).
    weighted : bool
        Weight the power-law fits by ``1 / sd^2`` of the per-budget optima (default:
        unweighted, as published).
    seed : int or Generator
    level : float
    budget : str, optional
        The column giving each run's budget. ``"auto"`` uses ``budget`` when the runs
        have it (a sweep store records the designed budget), else ``flops``.

    Returns
    -------
    IsoFlop

    Raises
    ------
    DataError
        If a budget has fewer sizes than the curve needs (3; 4 for ``cubic``) or there
        are fewer than 2 budgets.
    FitError
        If fewer than 2 budgets have their minimum inside the sampled sizes.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [(c, n, 1.7 + 400 / n**0.34 + 410 / (c / 6 / n)**0.28)
    ...         for c in (1e18, 1e19, 1e20) for n in np.geomspace(1e7, 1e10, 9)]
    >>> df = pd.DataFrame(rows, columns=["flops", "n_params", "loss"])
    >>> round(isoflop(df, bootstrap=0).n_opt.exponent, 2)
    0.46
    """
    _check(method, duplicates, bootstrap, window, noise)
    need = needed_sizes(method)
    runs, N, D, L, C, _ = prepare(runs, budget)
    grouping = group_budgets(C, N, bins=bins, need=need)
    if noise == "auto":
        noise = estimate_noise(runs, bins=bins, duplicates=duplicates) if method == "akima" else None
    rng = rng_of(seed)
    profs = profiles(N, L, D, C, grouping, duplicates)
    if len(profs) < 2:
        raise DataError(
            f"an IsoFLOP analysis needs runs at 2 or more budgets; found {len(profs)} among {len(C)} runs"
            + (f" ({grouping.description})" if grouping.description else "")
        )
    rows, n_draws_all, d_draws_all, windows, curves = [], [], [], [], []
    for budget_c, agg in profs:
        m = len(agg)
        if m < need:
            sizes = ", ".join(f"{v:.3g}" for v in np.exp(agg["x"]))
            raise DataError(
                f"budget {budget_c:.4g} FLOPs has {m} model size{'s' if m != 1 else ''} ({sizes}); "
                f"an IsoFLOP {method} needs at least {need} per budget: drop it (where=...), add runs, "
                "or group nearby budgets with bins=..."
            )
        x, y, t = agg["x"].to_numpy(), agg["y"].to_numpy(), agg["t"].to_numpy()
        if window is not None and method != "akima" and m > window:
            lo = max(0, min(int(np.argmin(y)) - window // 2, m - window))
            x, y, t = x[lo : lo + window], y[lo : lo + window], t[lo : lo + window]
        k = len(x)
        windows.append((x[0], x[-1]))
        grid_n, grid_l = fitted_curve(method, x, y)
        curves.append(pd.DataFrame({"flops": budget_c, "n_params": grid_n, "loss_fit": grid_l}))
        xs0, vs0, edge0 = curve_minima(method, x, y[:, None])
        x_star, v_star, at_edge = float(xs0[0]), float(vs0[0]), bool(edge0[0])
        few = bool(bootstrap) and noise is None and k <= need
        x_draws = np.full(bootstrap, np.nan)
        v_draws = np.full(bootstrap, np.nan)
        n_fitted = 0
        if bootstrap:
            if noise is None:
                xb, vb, eb = curve_minima(method, x, y[:, None], resample_counts(k, bootstrap, rng))
            else:
                sd = noise(np.exp(y)) if callable(noise) else np.full(k, float(noise))
                Y = y[:, None] + np.asarray(sd, dtype=float).reshape(k, 1) * rng.standard_normal((k, bootstrap))
                xb, vb, eb = curve_minima(method, x, Y)
            good = np.isfinite(xb) & ~eb
            n_fitted = int((good | eb).sum())  # draws whose curve could be fitted (enough distinct sizes)
            if not few:
                x_draws[good], v_draws[good] = xb[good], vb[good]
        n_valid = int(np.isfinite(x_draws).sum())
        spacing = float(np.median(np.diff(x)))

        def t_of(v: np.ndarray | float, x: np.ndarray = x, t: np.ndarray = t) -> np.ndarray:
            return np.interp(v, x, t)

        sd_n = sd_d = math.nan
        unstable = bool(bootstrap) and not few and n_valid < max(n_fitted, 1) / 2
        valid = np.isfinite(x_draws)
        if n_valid >= 2:
            inflate = n_fitted / n_valid
            sd_n = max(float(np.std(x_draws[valid])), _MIN_STD_FACTOR * spacing) * inflate
            tspacing = float(np.median(np.abs(np.diff(t))))
            sd_d = max(float(np.std(t_of(x_draws[valid]))), _MIN_STD_FACTOR * tspacing) * inflate
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        nan2 = (math.nan, math.nan)
        ci_n = np.exp(np.percentile(x_draws[valid], q)) if n_valid >= 2 else nan2
        ci_d = np.exp(np.percentile(t_of(x_draws[valid]), q)) if n_valid >= 2 else nan2
        ci_l = np.exp(np.percentile(v_draws[valid], q)) if n_valid >= 2 else nan2
        n_star = math.exp(x_star) if np.isfinite(x_star) else math.nan
        d_star = math.exp(float(t_of(x_star))) if np.isfinite(x_star) else math.nan
        rows.append({
            "flops": budget_c, "n_sizes": m, "n_opt": n_star, "n_opt_lo": ci_n[0], "n_opt_hi": ci_n[1], "n_opt_sd": sd_n,
            "d_opt": d_star, "d_opt_lo": ci_d[0], "d_opt_hi": ci_d[1], "d_opt_sd": sd_d,
            "loss_opt": math.exp(v_star) if np.isfinite(v_star) else math.nan, "loss_opt_lo": ci_l[0], "loss_opt_hi": ci_l[1],
            "tokens_per_param": d_star / n_star, "n_valid_draws": n_valid, "at_edge": at_edge, "unstable": unstable,
            "few_sizes": few,
        })  # fmt: skip
        n_draws_all.append(np.exp(x_draws))
        d_draws_all.append(np.exp(np.where(valid, t_of(np.where(valid, x_draws, x[0])), np.nan)))
    optima = pd.DataFrame(rows)
    optima["used"] = ~optima["at_edge"] & ~optima["unstable"] & np.isfinite(optima["n_opt"])
    notes = ([grouping.description] if grouping.description else []) + _notes(optima, need)
    used = optima["used"].to_numpy()
    if used.sum() < 2:
        for note in notes:
            warnings.warn(note, ScalingLawsWarning, stacklevel=2)
        raise FitError(
            f"only {int(used.sum())} of {len(optima)} budgets have their minimum inside the sampled sizes; "
            "the power laws need 2: sample sizes around the optimum of each budget"
        )
    sub = optima[used]
    nd = np.array(n_draws_all).T[:, used] if bootstrap else None
    dd = np.array(d_draws_all).T[:, used] if bootstrap else None
    no_ci = ""
    if bootstrap and sub["few_sizes"].any():
        no_ci = "a budget in the fit has no interval (only as many sizes as the curve has coefficients)"
        nd = dd = None
    use_w = weighted and bool(bootstrap) and not no_ci
    if weighted and not use_w:
        notes.append("weighted power laws need an interval for every budget; fitted unweighted")
    n_fit = fit_power_law(sub["flops"], sub["n_opt"], sd=sub["n_opt_sd"] if use_w else None, y_draws=nd, level=level, y_name="n_opt")
    d_fit = fit_power_law(sub["flops"], sub["d_opt"], sd=sub["d_opt_sd"] if use_w else None, y_draws=dd, level=level, y_name="d_opt")
    if no_ci and bootstrap:
        n_fit, d_fit = (dataclasses.replace(f, note=f.note or no_ci) for f in (n_fit, d_fit))
    if len(sub) < 3:
        notes.append(f"only {len(sub)} budgets enter the power laws: the lines pass through them exactly, "
                     "so they have no interval and no r2; add budgets")
    for note in notes:
        warnings.warn(note, ScalingLawsWarning, stacklevel=2)
    options = {"window": window, "bins": bins, "grouping": grouping.how, "duplicates": duplicates,
               "bootstrap": bootstrap, "weighted": use_w,
               "noise": None if noise is None else (float(noise) if isinstance(noise, (int, float)) else "callable"),
               "seed": seed if isinstance(seed, int) or seed is None else "generator",
               "data": runs.source, "data_fingerprint": runs.fingerprint()}  # fmt: skip
    return IsoFlop(optima=optima, n_opt=n_fit, d_opt=d_fit, method=method, level=level, options=options,
                   warnings=tuple(notes), points=_points(N, D, L, grouping, windows, used),
                   curves=pd.concat(curves, ignore_index=True), grouping=grouping.description)


def _points(N: np.ndarray, D: np.ndarray, L: np.ndarray, grouping: Any, windows: Any, used: np.ndarray) -> pd.DataFrame:
    parts = []
    for idx, budget_c, (lo, hi), u in zip(grouping.members, grouping.budgets, windows, used):
        x = np.log(N[idx])
        parts.append(pd.DataFrame({"flops": budget_c, "n_params": N[idx], "n_tokens": D[idx], "loss": L[idx],
                                   "in_fit": (x >= lo - 1e-12) & (x <= hi + 1e-12), "used": bool(u)}))
    return pd.concat(parts, ignore_index=True)


def _budget_list(values: pd.Series) -> str:
    many = len(values) > 1
    return f"{len(values)} budget{'s' if many else ''} ({', '.join(f'{c:.3g}' for c in values)} FLOPs)"


def _notes(optima: pd.DataFrame, need: int) -> list[str]:
    notes = []
    edge = optima.loc[optima["at_edge"], "flops"]
    if len(edge):
        notes.append(
            f"{_budget_list(edge)} {'have their' if len(edge) > 1 else 'has its'} minimum at the edge of the sampled "
            "sizes (or no minimum); left out of the power-law fits (sample sizes beyond that edge)"
        )
    unstable = optima.loc[optima["unstable"] & ~optima["at_edge"], "flops"]
    if len(unstable):
        notes.append(
            f"{_budget_list(unstable)} {'have a minimum' if len(unstable) > 1 else 'has a minimum'} that fewer than "
            "half of the bootstrap draws locate inside the sampled sizes (a flat valley); left out of the power-law fits"
        )
    few = optima.loc[optima["few_sizes"], "flops"]
    if len(few):
        notes.append(
            f"{_budget_list(few)} {'have' if len(few) > 1 else 'has'} only {need} model sizes: the curve passes "
            "through them exactly, so resampling sizes gives no interval (NaN); add sizes, or pass noise=SD for a "
            "parametric bootstrap"
        )
    return notes


__all__ = ["METHODS", "IsoFlop", "PowerLawFit", "envelope", "estimate_noise", "fit_power_law", "isoflop"]
