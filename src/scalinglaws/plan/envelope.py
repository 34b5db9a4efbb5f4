"""The envelope of training curves: Hoffmann et al. Approach 1 (2022, §3.1).

At log-spaced FLOP values, the run with the lowest loss among those whose training
curve covers that value gives ``N_opt(C)``; the power laws are fitted to these optima
(:func:`scalinglaws.plan.powerlaw.fit_power_law`), with intervals from resampling the runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError, FitError
from scalinglaws.plan.iso_result import IsoFlop
from scalinglaws.plan.powerlaw import Seed, fit_power_law, rng_of
from scalinglaws.plan.profiles import prepare


def envelope(
    curves: Runs | pd.DataFrame | str,
    *,
    run_column: str = "run_id",
    n_points: int = 100,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> IsoFlop:
    """The envelope of training curves (Hoffmann et al. Approach 1).

    Parameters
    ----------
    curves : Runs, DataFrame or path
        A long table, one row per checkpoint: ``run_column``, ``n_params`` (per run),
        ``n_tokens`` seen so far (or ``flops``) and ``loss``.
    run_column : str
        The column naming the run of each checkpoint.
    n_points : int
        Log-spaced FLOP values at which the lowest loss over runs is taken.
    bootstrap : int
        Resamples of the runs for intervals on the power laws (0: none).
    seed : int or Generator
    level : float

    Returns
    -------
    IsoFlop
        ``method = "envelope"``; one row of ``optima`` per FLOP value. A FLOP value whose
        best run is the smallest or the largest model covering it is flagged ``at_edge``
        and left out of the fits.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [(f"r{i}", n, d, 1.7 + 400 / n**0.34 + 410 / d**0.28)
    ...         for i, n in enumerate(np.geomspace(1e7, 1e10, 16)) for d in np.geomspace(1e8, 1e12, 40)]
    >>> df = pd.DataFrame(rows, columns=["run_id", "n_params", "n_tokens", "loss"])
    >>> round(envelope(df, bootstrap=0).n_opt.exponent, 2)
    0.45
    """
    if not isinstance(curves, Runs):
        curves = load_runs(curves)
    if run_column not in curves.columns:
        raise DataError(f"column {run_column!r} naming the run of each checkpoint is missing (columns: {', '.join(curves.columns)})")
    if not (isinstance(n_points, int) and n_points >= 2):
        raise FitError(f"n_points must be an integer of at least 2, got {n_points!r}")
    _, N, D, L, C, rows = prepare(curves)
    ids = curves.data[run_column].astype(str).to_numpy()[rows]
    runs = []
    for rid in pd.unique(ids):
        m = ids == rid
        order = np.argsort(C[m])
        n_vals = np.unique(N[m])
        if n_vals.size != 1:
            raise DataError(f"run {rid!r} has several n_params values ({', '.join(f'{v:.3g}' for v in n_vals)}); one per run")
        runs.append((float(n_vals[0]), np.log(C[m][order]), np.log(L[m][order]), np.log(D[m][order])))
    if len(runs) < 2:
        raise DataError(f"the envelope needs training curves of 2 or more runs; got {len(runs)}")
    lo = min(r[1][0] for r in runs)
    hi = max(r[1][-1] for r in runs)
    grid = np.linspace(lo, hi, n_points)
    sizes = np.array([r[0] for r in runs])
    # loss of each run at each FLOP value (NaN outside its curve): (R, G)
    Lg = np.full((len(runs), n_points), np.nan)
    Dg = np.full((len(runs), n_points), np.nan)
    for i, (_, lc, ll, ld) in enumerate(runs):
        inside = (grid >= lc[0] - 1e-12) & (grid <= lc[-1] + 1e-12)
        if len(lc) >= 2:
            Lg[i, inside] = np.interp(grid[inside], lc, ll)
            Dg[i, inside] = np.interp(grid[inside], lc, ld)

    def pick(members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Lm = Lg[members]
        cover = np.isfinite(Lm)
        ok = cover.sum(axis=0) >= 2
        j = np.argmin(np.where(cover, Lm, np.inf), axis=0)
        best_n = sizes[members][j]
        smin = np.where(cover, sizes[members][:, None], np.inf).min(axis=0)
        smax = np.where(cover, sizes[members][:, None], -np.inf).max(axis=0)
        edge = (best_n <= smin) | (best_n >= smax)
        cols = np.arange(n_points)
        return (np.where(ok, best_n, np.nan), np.where(ok, np.exp(Dg[members][j, cols]), np.nan),
                np.where(ok, np.exp(Lm[j, cols]), np.nan), ok & ~edge)

    n_best, d_best, l_best, used = pick(np.arange(len(runs)))
    optima = pd.DataFrame({
        "flops": np.exp(grid), "n_opt": n_best, "d_opt": d_best, "loss_opt": l_best,
        "tokens_per_param": d_best / n_best, "n_covering": np.isfinite(Lg).sum(axis=0),
        "at_edge": np.isfinite(n_best) & ~used, "used": used,
    })  # fmt: skip
    if used.sum() < 2 or np.unique(n_best[used]).size < 2:
        raise FitError("the envelope's best run is the smallest or largest model at almost every FLOP value; "
                       "the power laws need optima strictly inside the sampled sizes")
    rng = rng_of(seed)
    nd = dd = None
    if bootstrap:
        nd = np.full((bootstrap, n_points), np.nan)
        dd = np.full((bootstrap, n_points), np.nan)
        for b in range(bootstrap):
            members = np.unique(rng.integers(0, len(runs), len(runs)))
            if members.size < 3:
                continue
            nb, db, _, ub = pick(members)
            nd[b, ub], dd[b, ub] = nb[ub], db[ub]
        nd, dd = nd[:, used], dd[:, used]
    sub = optima[used]
    n_fit = fit_power_law(sub["flops"], sub["n_opt"], y_draws=nd, level=level, y_name="n_opt")
    d_fit = fit_power_law(sub["flops"], sub["d_opt"], y_draws=dd, level=level, y_name="d_opt")
    options = {"run_column": run_column, "n_points": n_points, "bootstrap": bootstrap,
               "seed": seed if isinstance(seed, int) or seed is None else "generator", "data": curves.source}
    return IsoFlop(optima=optima, n_opt=n_fit, d_opt=d_fit, method="envelope", level=level, options=options)


__all__ = ["envelope"]
