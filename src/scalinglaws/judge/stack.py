"""Stacking laws: one :class:`~scalinglaws.engine.result.Fit` whose prediction is a weighted
geometric mean of several fitted laws.

``sl.fit(runs, "auto")`` combines the best candidates of its nested extrapolation tests
(:mod:`scalinglaws.judge.auto`) instead of betting on one: averaging forecasts of models
that err differently is more robust than picking the one that happened to score best on
a few nested cuts. The average is taken in log space, where the laws are scored::

    log y(x) = sum_i w_i log f_i(x; theta_i),   w_i >= 0,  sum_i w_i = 1

Each member keeps the parameters of its own fit on all runs, named ``"<law>__<param>"``
in the stacked fit (``"m4__alpha"``). Bootstrap draws of the members are refits on the
same resamples (same seed, same runs), so their columns side by side are draws of the
stack. The result is an ordinary ``Fit``: ``predict``, ``predict_interval``, plots and
``to_dict`` work (``Fit.from_dict`` needs the law back: pass ``law=fit.law``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scalinglaws.engine.result import Diagnostics, Fit
from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, Param

#: Separator between a member's name and its parameter's in the stacked law.
SEP = "__"


def stacked_law(laws: Sequence[Law], weights: Sequence[float]) -> Law:
    """The law ``exp(sum_i w_i log f_i)`` over ``laws`` (same variables), parameters
    ``"<law>__<param>"``; weights are normalised to sum to one."""
    if not laws or len(laws) != len(weights):
        raise LawError("a stack needs one weight per law and at least one law")
    w = np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise LawError(f"stack weights must be non-negative and not all zero, got {list(weights)}")
    w = w / w.sum()
    variables = laws[0].variables
    if any(law.variables != variables or law.categorical for law in laws):
        raise LawError("only laws of the same (numeric) variables can be stacked")
    names = [law.name for law in laws]
    if len(set(names)) != len(names):
        raise LawError(f"stacked laws need distinct names, got {names}")
    params = tuple(
        Param(f"{law.name}{SEP}{p.name}", p.lower, p.upper, log=p.log, grid=p.grid, doc=f"{p.doc} ({law.name})")
        for law in laws
        for p in law.params
    )
    members = [(law, float(wi), [f"{law.name}{SEP}{n}" for n in law.param_names]) for law, wi in zip(laws, w)]

    def function(X: Mapping[str, Any], P: Mapping[str, Any]) -> Any:
        total: Any = 0.0
        with np.errstate(all="ignore"):
            for law, wi, keys in members:
                own = {k.split(SEP, 1)[1]: P[k] for k in keys}
                total = total + wi * np.log(np.asarray(law.function(X, own), dtype=float))
            return np.exp(total)

    label = ", ".join(f"{law.name} {wi:.2f}" for law, wi, _ in members)
    return Law(
        name="stack(" + ",".join(names) + ")",
        variables=variables,
        params=params,
        function=function,
        source="; ".join(dict.fromkeys(law.source for law in laws if law.source)),
        description=f"weighted geometric mean of fitted laws ({label})",
        target=laws[0].target,
        variable_info=laws[0].variable_info,
    )


def stack_fits(fits: Sequence[Fit], weights: Sequence[float], *, note: str = "") -> Fit:
    """One fit predicting ``exp(sum_i w_i log fit_i.predict(...))``.

    The members must be fits of different laws to the same runs, with the same variable
    mapping and, if bootstrapped, the same number of draws (refits on the same resamples:
    same seed). ``options["stack"]`` records the members, their weights and their own
    objectives; the diagnostics are the members' together (names prefixed).
    """
    if not fits:
        raise LawError("nothing to stack")
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    law = stacked_law([f.law for f in fits], w)
    params = {f"{f.law.name}{SEP}{k}": float(f.params[k]) for f in fits for k in f.free_params}
    fixed = {f"{f.law.name}{SEP}{k}": float(v) for f in fits for k, v in f.fixed.items()}
    draws = None
    member_draws = [f.draws for f in fits if f.draws is not None]
    if len(member_draws) == len(fits) and len({len(d) for d in member_draws}) == 1:
        draws = np.column_stack(member_draws)
    d = [f.diagnostics for f in fits]

    def prefixed(f: Fit, names: Sequence[str]) -> tuple[str, ...]:
        return tuple(f"{f.law.name}{SEP}{n}" for n in names)

    diagnostics = Diagnostics(
        converged=all(x.converged for x in d),
        iterations=sum(x.iterations for x in d),
        n_starts=sum(x.n_starts for x in d),
        n_refined=sum(x.n_refined for x in d),
        n_failed_starts=sum(x.n_failed_starts for x in d),
        at_bounds=sum((prefixed(f, f.diagnostics.at_bounds) for f in fits), ()),
        condition_number=max((x.condition_number for x in d), key=lambda c: -math.inf if math.isnan(c) else c),
        poorly_identified=sum((prefixed(f, f.diagnostics.poorly_identified) for f in fits), ()),
        start_spread={k: v for f in fits for k, v in zip(prefixed(f, list(f.diagnostics.start_spread)),
                                                       f.diagnostics.start_spread.values())},
        n_near_best=min(x.n_near_best for x in d),
        bootstrap_failed=max(x.bootstrap_failed for x in d),
        warnings=tuple(f"{f.law.name}: {m}" for f in fits for m in f.diagnostics.warnings),
    )
    first = fits[0]
    record = {
        "members": [f.law.name for f in fits],
        "weights": [float(x) for x in w],
        "objectives": [float(f.objective) for f in fits],
        "effective_params": float(sum(wi * len(f.free_params) for wi, f in zip(w, fits))),
    }
    if note:
        record["note"] = note
    return Fit(
        law=law,
        params={**params, **fixed},
        objective=float(sum(wi * f.objective for wi, f in zip(w, fits))),
        n_runs=first.n_runs,
        diagnostics=diagnostics,
        fixed=fixed,
        fixed_source=first.fixed_source,
        draws=draws,
        options={**first.options, "stack": record},
        provenance={**first.provenance, "law": law.name, "stack": record["members"]},
    )





def stack_weights(errors: Sequence[Mapping[int, np.ndarray]], *, floor: float = 0.1) -> np.ndarray:
    """Stacking weights from nested extrapolation errors.

    ``errors[i][k]``: law ``i``'s log errors above nested cut ``k`` (every law tested at
    the same cuts, finite). The weights minimise the mean over cuts of the mean squared
    error of the weighted log prediction, ``sum_k mean_j (sum_i w_i e_ikj)**2``, over
    ``w >= 0, sum w = 1`` (Breiman's stacking, the errors of a combination in log space
    being the combination of the errors): non-negative least squares
    (:func:`scipy.optimize.nnls`) with the sum held at one by a heavily weighted row.
    Weights below ``floor`` (a law that barely moves the prediction, often fitted to the
    noise of the cuts) are dropped and the rest renormalised. Often one or two laws
    take all the weight: when one law extrapolates best at every cut, it is chosen alone.
    """
    from scipy.optimize import nnls

    if not errors:
        raise LawError("stacking needs at least one law")
    cuts = sorted(errors[0])
    if any(sorted(e) != cuts for e in errors) or not cuts:
        raise LawError("stacked laws must be tested at the same nested cuts")
    cols = [np.concatenate([np.asarray(e[k], dtype=float) / math.sqrt(max(np.size(e[k]), 1)) for k in cuts])
            for e in errors]
    E = np.column_stack(cols)
    if not np.all(np.isfinite(E)):
        raise LawError("stacking needs finite nested errors")
    if len(errors) == 1:
        return np.ones(1)
    big = 1e3 * max(float(np.abs(E).max()), 1e-12)
    A = np.vstack([E, np.full(len(errors), big)])
    b = np.concatenate([np.zeros(E.shape[0]), [big]])
    w, _ = nnls(A, b)
    if w.sum() <= 0:
        w = np.ones(len(errors))
    w = w / w.sum()
    w = np.where(w >= floor, w, 0.0)
    return w / w.sum()


__all__ = ["SEP", "stack_fits", "stack_weights", "stacked_law"]
