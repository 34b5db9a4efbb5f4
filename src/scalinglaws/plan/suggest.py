"""Which runs to do next: the few that most shrink the interval of the target prediction.

The criterion is linearised and uses only the fit's bootstrap draws:

1. Predict ``log loss`` under every draw at the target run and at each candidate run.
   Their covariance over the draws, ``K``, approximates ``J Sigma J^T`` (the parameter
   covariance pushed through the law's Jacobian), with no derivative needed.
2. A new run at candidate ``j`` measures ``log loss`` with noise variance ``s^2``. To
   first order (a Gaussian/Kalman update of the parameters) it lowers the variance of the
   target prediction by ``K[t, j]^2 / (s^2 + K[j, j])`` and updates every covariance
   ``K <- K - K[:, j] K[j, :] / (s^2 + K[j, j])``.
3. Greedy: pick the affordable candidate with the largest reduction per FLOP (or the
   largest reduction, ``per_flop=False``), update ``K``, repeat until ``n`` runs are
   chosen or the budget is spent.

Candidates default to an IsoFLOP grid below the experiment budget: 13 budgets from
``budget / 1000`` to ``budget`` (4 per decade), 7 sizes per budget from 1/8 to 8 times
the fit's compute-optimal size there. The estimate is as good as the linearisation and
the bootstrap: read it as a ranking of candidates, not as a promise of interval width.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.flops import FlopCounter, as_counter
from scalinglaws.plan.optimal import R_D_STAR, R_N_STAR, _Model, _positive, compute_optimal
from scalinglaws.engine.result import Fit

_DEFAULT_NOISE = 0.01


@dataclass(frozen=True, eq=False)
class Suggestion:
    """Runs proposed to narrow the prediction at a target.

    Attributes
    ----------
    runs : pandas.DataFrame
        In the order picked: ``n_params, n_tokens, flops, tokens_per_param,
        predicted_loss, sd_after`` (the predicted standard deviation of log loss at the
        target once this run and the ones above it are done).
    target : dict
        ``n_params`` and ``n_tokens`` of the target run (and ``flops`` if planned).
    sd_before, sd_after : float
        Standard deviation of log loss at the target over the draws, and as predicted
        after all proposed runs.
    budget, spent : float
        Experiment budget and the FLOPs the proposed runs use.
    noise_sd : float
        Assumed noise of one run's log loss.
    """

    runs: pd.DataFrame
    target: Mapping[str, float]
    sd_before: float
    sd_after: float
    budget: float
    spent: float
    noise_sd: float
    per_flop: bool = True
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs.to_dict(orient="records"),
            "target": dict(self.target),
            "sd_before": self.sd_before,
            "sd_after": self.sd_after,
            "budget": self.budget,
            "spent": self.spent,
            "noise_sd": self.noise_sd,
            "per_flop": self.per_flop,
            "notes": list(self.notes),
        }

    def report(self) -> str:
        t = self.target
        lines = [
            f"next runs for the prediction at n_params={t['n_params']:.4g}, n_tokens={t['n_tokens']:.4g} "
            f"(budget {self.budget:.4g} FLOPs, {self.spent:.4g} used)",
            f"  sd of log loss at the target: {self.sd_before:.4g} now, {self.sd_after:.4g} expected after",
        ]
        for r in self.runs.itertuples():
            lines.append(f"  N={r.n_params:.4g}  D={r.n_tokens:.4g}  C={r.flops:.4g}  D/N={r.tokens_per_param:.3g}"
                         f"  -> sd {r.sd_after:.4g}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return (f"Suggestion({len(self.runs)} runs, {self.spent:.3g} of {self.budget:.3g} FLOPs; "
                f"target sd {self.sd_before:.3g} -> {self.sd_after:.3g})")


def estimate_noise_sd(fit: Fit) -> float | None:
    """Rough noise of one run's log loss from a log-space fit's objective, or None.

    Squared loss: ``sqrt(2 objective / (n - p))``. Huber (most residuals beyond delta):
    mean ``|r| ~ objective / (n delta) + delta / 2`` and ``sd ~ 1.25 mean |r|``.
    """
    opts = fit.options
    p = len(fit.law.params)
    if fit.n_runs <= p + 1 or opts.get("space") != "log" or opts.get("weights") or opts.get("asymmetry", 1.0) != 1.0:
        return None
    if opts.get("loss") == "squared":
        return math.sqrt(2.0 * fit.objective / (fit.n_runs - p))
    if opts.get("loss") == "huber":
        delta = float(opts.get("delta", 1e-3))
        return 1.25 * (fit.objective / (fit.n_runs * delta) + delta / 2.0)
    return None


def _candidates(fit: Fit, budget: float, counter: Any, at: Mapping[str, Any] | None, unique: float | None) -> pd.DataFrame:
    """A grid of candidate runs around the compute-optimal size of budgets up to ``budget``.
    Candidates are runs to *do*, so a size below the fitted range is no warning (the
    prediction they are scored by is at the target, which warns on its own)."""
    rows = []
    for c in np.geomspace(budget / 1000.0, budget, 13):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="beyond the fitted range", category=ScalingLawsWarning)
            opt = compute_optimal(_without_draws(fit), c, flops_per_token=counter, at=at, unique_tokens=unique).n_params
        for m in np.geomspace(1 / 8, 8, 7):
            n = opt * m
            rows.append({"n_params": n, "n_tokens": c / float(counter(n)), "flops": c})
    return pd.DataFrame(rows)


def _without_draws(fit: Fit) -> Fit:
    return replace(fit, draws=None)


def suggest_runs(
    fit: Fit,
    *,
    budget: float,
    target_flops: float | None = None,
    target: Mapping[str, float] | None = None,
    n: int = 4,
    candidates: pd.DataFrame | None = None,
    noise_sd: float | None = None,
    per_flop: bool = True,
    flops_per_token: str | FlopCounter | Callable[[Any], Any] = "6nd",
    at: Mapping[str, Any] | None = None,
    unique_tokens: float | None = None,
) -> Suggestion:
    """Propose up to ``n`` runs within ``budget`` FLOPs that most narrow the target prediction.

    Parameters
    ----------
    fit : Fit
        A fit with bootstrap draws (``bootstrap=200`` or more).
    budget : float
        FLOPs available for the new runs, all together.
    target_flops : float, optional
        The big run's budget; the target is its compute-optimal ``(N, D)``.
    target : dict, optional
        Or the target run itself: ``{"n_params": ..., "n_tokens": ...}``.
    n : int
        Most runs to propose.
    candidates : DataFrame, optional
        Candidate runs (``n_params``, ``n_tokens``, optional ``flops``); default: an
        IsoFLOP grid below ``budget`` (see the module docs).
    noise_sd : float, optional
        Noise of one run's log loss; default: estimated from the fit
        (:func:`estimate_noise_sd`), else 0.01.
    per_flop : bool
        Rank by reduction per FLOP (default) or by reduction.

    Returns
    -------
    Suggestion

    Examples
    --------
    >>> from scalinglaws.plan.optimal import fit_from_params
    >>> rng = np.random.default_rng(0)
    >>> p = np.array([1.8172, 482.01, 2085.43, 0.3478, 0.3658])
    >>> f = fit_from_params("chinchilla", dict(zip(["E", "A", "B", "alpha", "beta"], p)),
    ...                     draws=p * (1 + 0.02 * rng.standard_normal((300, 5))))
    >>> s = suggest_runs(f, budget=1e20, target_flops=1e24, n=2)
    >>> len(s.runs), s.sd_after < s.sd_before
    (2, True)
    """
    B = _positive(budget, "budget")
    if not (isinstance(n, int) and n >= 1):
        raise FitError(f"n must be a positive integer, got {n!r}")
    if fit.draws is None or np.all(~np.isfinite(fit.draws).all(axis=1)):
        raise FitError("suggesting runs needs a fit with bootstrap draws: fit again with bootstrap=200 (or more)")
    counter = as_counter(flops_per_token)
    model = _Model(fit, at=at, unique_tokens=unique_tokens, repeat_constants=(R_D_STAR, R_N_STAR), purpose="suggest_runs")
    notes: list[str] = []
    if target is None:
        if target_flops is None:
            raise FitError("give the target: target_flops=... (its compute-optimal run) or target={'n_params': ..., 'n_tokens': ...}")
        plan = compute_optimal(_without_draws(fit), _positive(target_flops, "target_flops"), flops_per_token=counter,
                               at=at, unique_tokens=unique_tokens)
        tgt = {"n_params": plan.n_params, "n_tokens": plan.n_tokens, "flops": plan.flops}
    else:
        missing = [k for k in ("n_params", "n_tokens") if k not in target]
        if missing:
            raise DataError(f"target needs n_params and n_tokens; missing {missing}")
        tgt = {k: _positive(target[k], f"target {k}") for k in ("n_params", "n_tokens")}
    if candidates is None:
        cand = _candidates(fit, B, counter, at, unique_tokens)
    else:
        cand = pd.DataFrame(candidates).copy()
        missing = [k for k in ("n_params", "n_tokens") if k not in cand.columns]
        if missing:
            raise DataError(f"candidates need columns n_params and n_tokens; missing {missing}")
        if "flops" not in cand.columns:
            cand["flops"] = np.asarray(counter(cand["n_params"].to_numpy(float)), dtype=float) * cand["n_tokens"].to_numpy(float)
        bad = ~(np.isfinite(cand[["n_params", "n_tokens", "flops"]].to_numpy(float)) & (cand[["n_params", "n_tokens", "flops"]].to_numpy(float) > 0)).all(axis=1)
        if bad.any():
            raise DataError(f"candidate row {int(np.argmax(bad))} has a non-positive or missing n_params, n_tokens or flops")
        cand = cand.reset_index(drop=True)
    sd = noise_sd if noise_sd is not None else estimate_noise_sd(fit)
    if sd is None:
        sd = _DEFAULT_NOISE
        notes.append(f"noise of one run's log loss assumed {_DEFAULT_NOISE} (pass noise_sd=...)")
    sd = _positive(sd, "noise_sd")

    Nn = np.concatenate([[tgt["n_params"]], cand["n_params"].to_numpy(float)])
    Dd = np.concatenate([[tgt["n_tokens"]], cand["n_tokens"].to_numpy(float)])
    P = model.draws
    if len(P) < 3:
        raise FitError("suggesting runs needs at least 3 converged bootstrap draws")
    unique_n = model.unique_params(P, np.full(len(P), model.unique)) if model.unique is not None else None
    with np.errstate(all="ignore"):
        Z = np.log(model.loss(P, np.broadcast_to(Nn, (len(P), Nn.size)), np.broadcast_to(Dd, (len(P), Dd.size)), unique_n))
        un0 = model.unique_params(model.point, np.array([model.unique])) if model.unique is not None else None
        point = model.loss(model.point, Nn[None, 1:], Dd[None, 1:], un0)[0]
    Z = Z[np.all(np.isfinite(Z), axis=1)]
    if len(Z) < 3:
        raise FitError("fewer than 3 bootstrap draws give finite predictions at the target and candidates")
    K = np.cov(Z, rowvar=False)
    var0 = float(K[0, 0])
    cost = cand["flops"].to_numpy(float)
    chosen: list[int] = []
    sd_after: list[float] = []
    left = B
    for _ in range(n):
        diag = np.diagonal(K)[1:]
        red = K[0, 1:] ** 2 / (sd**2 + diag)
        ok = cost <= left * (1 + 1e-9)
        ok[[c for c in chosen]] = False
        if not ok.any():
            break
        score = np.where(ok, red / cost if per_flop else red, -np.inf)
        j = int(np.argmax(score))
        if red[j] <= 1e-12 * max(var0, 1e-300):
            break
        col = K[:, j + 1].copy()
        K = K - np.outer(col, col) / (sd**2 + K[j + 1, j + 1])
        chosen.append(j)
        sd_after.append(math.sqrt(max(K[0, 0], 0.0)))
        left -= cost[j]
    if not chosen:
        raise FitError(f"no candidate run fits in a budget of {B:.4g} FLOPs (the cheapest costs {cost.min():.4g})")
    runs = cand.iloc[chosen][["n_params", "n_tokens", "flops"]].reset_index(drop=True)
    runs["tokens_per_param"] = runs["n_tokens"] / runs["n_params"]
    runs["predicted_loss"] = np.asarray(point)[chosen]
    runs["sd_after"] = sd_after
    return Suggestion(runs=runs, target=tgt, sd_before=math.sqrt(var0), sd_after=sd_after[-1], budget=B,
                      spent=float(cost[chosen].sum()), noise_sd=sd, per_flop=per_flop, notes=tuple(notes))


__all__ = ["Suggestion", "estimate_noise_sd", "suggest_runs"]
