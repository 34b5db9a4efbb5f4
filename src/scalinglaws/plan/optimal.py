"""Decisions from a fit: the compute-optimal run, with and without inference or data limits.

:func:`compute_optimal` minimises the fitted loss ``L(N, D)`` over model size ``N`` with
``D = C / f(N)`` tokens, where ``f(N)`` is the training FLOPs per token of the FLOP
convention (``6N`` by default; :mod:`scalinglaws.plan.flops` for attention and head FLOPs).

- A law that carries a closed-form optimum (``Law.optimum``) uses it under 6ND; the
  ``chinchilla`` law carries Hoffmann et al. (2022), Eq. 4:
  ``N_opt = G (C/6)^(beta/(alpha+beta))``, ``G = (alpha A / (beta B))^(1/(alpha+beta))``.
- Every other law is solved numerically: a grid of 321 points in ``log N`` (tokens per
  parameter from 1e-6 to 1e8), then six rounds of zooming onto the best grid cell; all
  bootstrap draws are solved together as one array.
- ``inference_tokens`` (Sardana et al. 2023): reach the loss the
  compute-optimal model reaches at ``C`` for the least training + inference FLOPs,
  ``f(N) D + f(N)/3 D_inf`` (``6ND + 2N D_inf`` under 6ND); ``D(N)`` is found by
  bisection on ``L(N, D) = loss``.
- ``unique_tokens`` (Muennighoff et al. 2023): data repeated for
  ``D / U`` epochs. A law with a ``unique_tokens`` variable (``muennighoff``) is used as
  it is; any other law is evaluated at the effective data ``D'`` and parameters ``N'`` with
  the published ``R*_D = 15.39`` and ``R*_N = 5.31``.

Every figure has a percentile interval when the fit has bootstrap draws: the same
optimisation is done under every draw.

The loss model and its solvers live in :mod:`scalinglaws.plan.optimal_model`, the
:class:`Plan` result in :mod:`scalinglaws.plan.optimal_result`; every public name is
importable from here as well.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.flops import FlopCounter, as_counter, counter_name
from scalinglaws.laws.law import Law
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.engine.trust import check_budget
from scalinglaws.plan.optimal_model import (
    R_D_STAR,
    R_N_STAR,
    _closed_form,
    _intervals,
    _loss_interval,
    _minimise,
    _Model,
    _n_bounds,
    _positive,
    _tokens_for_loss,
    effective_params,
    effective_tokens,
)
from scalinglaws.plan.optimal_result import Plan


# --------------------------------------------------------------------------- fits


def fit_from_params(
    law: str | Law | Callable[..., Any],
    params: Mapping[str, float],
    *,
    draws: np.ndarray | None = None,
    source: str = "",
    law_options: Mapping[str, Any] | None = None,
) -> Fit:
    """A :class:`Fit` from known parameter values; see :meth:`Fit.from_params`.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28})
    >>> round(float(f.predict(n_params=7e10, n_tokens=1.4e12)), 3)
    1.937
    """
    return Fit.from_params(law, params, draws=draws, source=source, law_options=law_options)



def _closed_form_applies(fit: Fit, counter: Any, unique: float | None, inference: float | None) -> bool:
    """Whether the law offers a closed-form optimum and the question is the one it answers.

    A law's ``optimum`` gives the compute-optimal size under 6ND with all parameters
    free (pinned and grouped laws drop it); inference and data limits change the
    question.
    """
    return (
        fit.law.optimum is not None
        and not fit.law.spec.get("fixed")
        and not fit.law.spec.get("groups")
        and isinstance(counter, FlopCounter)
        and counter.convention == "6nd"
        and (counter.shape is None or counter.shape.count == "total")
        and unique is None
        and inference is None
    )


def compute_optimal(
    fit: Fit,
    flops: float,
    *,
    inference_tokens: float | None = None,
    unique_tokens: float | None = None,
    flops_per_token: str | FlopCounter | Callable[[Any], Any] = "6nd",
    repeat_constants: tuple[float, float] = (R_D_STAR, R_N_STAR),
    at: Mapping[str, Any] | None = None,
    level: float = 0.95,
    method: str = "auto",
) -> Plan:
    """The loss-minimising model size and data for a FLOP budget.

    Parameters
    ----------
    fit : Fit
        A fitted law of ``n_params`` and ``n_tokens`` (any law; see the module docs).
    flops : float
        Training compute budget C.
    inference_tokens : float, optional
        Lifetime inference tokens; the plan then minimises training + inference FLOPs
        for the loss the compute-optimal model reaches at ``flops`` (Sardana et al.).
    unique_tokens : float, optional
        Unique tokens available; more training tokens are repeated epochs
        (Muennighoff et al.).
    flops_per_token : "6nd", FlopCounter or callable
        Training FLOPs per token as a function of ``n_params``; ``D = C / f(N)``.
    repeat_constants : (float, float)
        ``(R*_D, R*_N)`` for laws without a ``unique_tokens`` variable.
    at : dict, optional
        Values of the law's other variables (a group label, a precision, ...).
    level : float
        Interval level.
    method : {"auto", "numeric", "closed_form"}
        ``"auto"`` uses the closed form where it applies (chinchilla under 6ND).

    Returns
    -------
    Plan

    Raises
    ------
    DataError
        If a budget or token count is not a positive number.
    FitError
        If the law does not depend on ``n_params`` and ``n_tokens``.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.6934, "A": 406.4, "B": 410.7, "alpha": 0.3392, "beta": 0.2849})
    >>> p = compute_optimal(f, 5.76e23)
    >>> f"{p.n_params:.3g}", round(p.tokens_per_param, 1)
    ('4.03e+10', 59.1)
    """
    C = _positive(flops, "flops")
    check_budget(fit, C)  # warns, with the factor, beyond the compute of the fitted runs
    D_inf = None if inference_tokens is None else _positive(inference_tokens, "inference_tokens")
    U = None if unique_tokens is None else _positive(unique_tokens, "unique_tokens")
    check_level(level)
    if method not in ("auto", "numeric", "closed_form"):
        raise FitError(f"method must be 'auto', 'numeric' or 'closed_form', got {method!r}")
    r_d, r_n = (_positive(v, "repeat_constants") for v in repeat_constants)
    counter = as_counter(flops_per_token)
    model = _Model(fit, at=at, unique_tokens=U, repeat_constants=(r_d, r_n), purpose="compute_optimal")
    closed = _closed_form_applies(fit, counter, U, D_inf)
    if method == "closed_form" and not closed:
        raise FitError(
            "the closed form applies only to a law that has one (chinchilla; no pinned or grouped parameters) "
            "under 6ND, without inference_tokens or unique_tokens; use method='numeric'"
        )
    use_closed = closed and method != "numeric"

    P = np.vstack([model.point, model.draws])
    S = len(P)
    Cv = np.full(S, C)
    unique_n = model.unique_params(P, np.full(S, model.unique)) if model.unique is not None else None

    def fpt(N: np.ndarray) -> np.ndarray:
        return np.asarray(counter(N), dtype=float)

    def loss_of_u(u: np.ndarray) -> np.ndarray:
        N = np.exp(u)
        return model.loss(P, N, Cv[:, None] / fpt(N), unique_n)

    if use_closed:
        N = _closed_form(fit.law, P, Cv)
        edge = np.zeros(S, dtype=bool)
    else:
        lo, hi = _n_bounds(Cv)
        u, edge = _minimise(loss_of_u, lo, hi)
        N = np.exp(u)
    D = Cv / fpt(N)
    L = model.loss(P, N[:, None], D[:, None], unique_n)[:, 0]

    notes: list[str] = []
    if edge[0]:
        notes.append(
            "the optimum lies at the end of the searched range (1e-6 to 1e8 tokens per parameter): "
            "the law has no interior optimum here"
        )
    if not np.isfinite(N[0]):
        raise FitError(f"no finite compute-optimal model size for {C:.4g} FLOPs under {fit.law.name!r}")

    common: dict[str, Any] = dict(level=level, law=fit.law.name, flop_convention=counter_name(counter), n_draws=S - 1)
    ref_values = {"n_params": N, "n_tokens": D, "tokens_per_param": D / N}
    if U is not None:
        ref_values["epochs"] = D / U
    ref_plan = Plan(
        flops=C,
        n_params=float(N[0]),
        n_tokens=float(D[0]),
        loss=float(L[0]),
        tokens_per_param=float(D[0] / N[0]),
        training_flops=C,
        intervals=_intervals(ref_values, level, S) | _loss_interval(model, P, N[0], D[0], unique_n, level),
        method="closed form" if use_closed else "numeric",
        epochs=None if U is None else float(D[0] / U),
        unique_tokens=U,
        at_search_bound=bool(edge[0]),
        warnings=tuple(notes),
        **common,
    )
    if D_inf is None:
        _warn(notes)
        return ref_plan

    # ---- inference-aware: same loss, least training + inference FLOPs
    def cost_of_u(u: np.ndarray) -> np.ndarray:
        Nn = np.exp(u)
        Dn = _tokens_for_loss(model, P, Nn, L, unique_n)
        f = fpt(Nn)
        return f * Dn + f / 3.0 * D_inf

    u0 = np.log(N)
    u, edge_i = _minimise(cost_of_u, u0 - math.log(1e4), u0 + math.log(10.0), grid=97)
    Ni = np.exp(u)
    Di = _tokens_for_loss(model, P, Ni[:, None], L, unique_n)[:, 0]
    train = fpt(Ni) * Di
    infer = fpt(Ni) / 3.0 * D_inf
    ref_total = C + fpt(N[0]) / 3.0 * D_inf
    ref_plan = replace(ref_plan, inference_tokens=D_inf, inference_flops=float(fpt(N[0]) / 3.0 * D_inf), total_flops=float(ref_total))
    if edge_i[0]:
        notes.append("the inference-aware optimum lies at the end of the searched sizes (1e-4 to 10 times the compute-optimal size)")
    values = {"n_params": Ni, "n_tokens": Di, "tokens_per_param": Di / Ni, "training_flops": train, "total_flops": train + infer}
    if U is not None:
        values["epochs"] = Di / U
    plan = Plan(
        flops=C,
        n_params=float(Ni[0]),
        n_tokens=float(Di[0]),
        loss=float(L[0]),
        tokens_per_param=float(Di[0] / Ni[0]),
        training_flops=float(train[0]),
        intervals=_intervals(values, level, S) | _loss_interval(model, P, Ni[0], Di[0], unique_n, level),
        method="numeric",
        epochs=None if U is None else float(Di[0] / U),
        unique_tokens=U,
        inference_tokens=D_inf,
        inference_flops=float(infer[0]),
        total_flops=float(train[0] + infer[0]),
        reference=ref_plan,
        at_search_bound=bool(edge_i[0]),
        warnings=tuple(notes),
        **common,
    )
    _warn(notes)
    return plan


def _warn(notes: Sequence[str]) -> None:
    for note in notes:
        warnings.warn(note, ScalingLawsWarning, stacklevel=3)



# --------------------------------------------------------------------------- sweeps


def frontier(fit: Fit, flops: Sequence[float] | np.ndarray, **options: Any) -> pd.DataFrame:
    """The compute-optimal plan over a range of budgets, as a table.

    Parameters
    ----------
    fit : Fit
    flops : sequence of float
        Budgets, e.g. ``np.geomspace(1e20, 1e25, 11)``.
    **options
        As for :func:`compute_optimal`.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``flops, n_params, n_tokens, tokens_per_param, loss`` (plus
        ``epochs``, ``total_flops`` ...), and ``<name>_lo``/``<name>_hi`` interval columns
        when the fit has bootstrap draws.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    >>> frontier(f, [1e21, 1e23])["tokens_per_param"].round(1).tolist()
    [21.6, 19.2]
    """
    budgets = np.atleast_1d(np.asarray(flops, dtype=float))
    if budgets.ndim != 1 or budgets.size == 0:
        raise DataError("flops must be a non-empty list of budgets")
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScalingLawsWarning)
        for C in budgets:
            p = compute_optimal(fit, C, **options)
            row: dict[str, Any] = {"flops": p.flops, "n_params": p.n_params, "n_tokens": p.n_tokens,
                                   "tokens_per_param": p.tokens_per_param, "loss": p.loss}
            for key in ("epochs", "training_flops", "total_flops"):
                if key == "training_flops" and p.inference_tokens is None:
                    continue
                if getattr(p, key) is not None:
                    row[key] = getattr(p, key)
            if p.flops_saving is not None:
                row["flops_saving"] = p.flops_saving
            for k, (lo, hi) in p.intervals.items():
                row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
            row["at_search_bound"] = p.at_search_bound
            rows.append(row)
    for message in {str(w.message) for w in caught if issubclass(w.category, ScalingLawsWarning)}:
        warnings.warn(message, ScalingLawsWarning, stacklevel=2)
    return pd.DataFrame(rows)


def compute_for_loss(fit: Fit, loss: float, **options: Any) -> Plan:
    """The smallest budget whose compute-optimal run reaches ``loss`` (bisection in log C).

    Raises
    ------
    FitError
        If the loss is not reached by any budget up to 1e40 FLOPs (at or below the
        law's floor) or is already reached at 1e6 FLOPs.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.6934, "A": 406.4, "B": 410.7, "alpha": 0.3392, "beta": 0.2849})
    >>> f"{compute_for_loss(f, 1.95).flops:.3g}"
    '2.46e+23'
    """
    target = _positive(loss, "loss")
    opts = {k: v for k, v in options.items() if k != "level"}
    nodraws = replace(fit, draws=None)

    def frontier_loss(logc: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            return compute_optimal(nodraws, math.exp(logc), **opts).loss

    lo, hi = math.log(1e6), math.log(1e40)
    if frontier_loss(hi) > target:
        raise FitError(f"loss {target:g} is not reached by any budget up to 1e40 FLOPs under {fit.law.name!r} (the law's floor is higher)")
    if frontier_loss(lo) <= target:
        raise FitError(f"loss {target:g} is already reached at 1e6 FLOPs under {fit.law.name!r}")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if frontier_loss(mid) <= target:
            hi = mid
        else:
            lo = mid
    return compute_optimal(fit, math.exp(hi), **options)


__all__ = [
    "R_D_STAR",
    "R_N_STAR",
    "Plan",
    "compute_for_loss",
    "compute_optimal",
    "effective_params",
    "effective_tokens",
    "fit_from_params",
    "frontier",
]
