"""``sl.fit``, and choosing a law automatically: ``law="auto"``.

The choice itself, nested extrapolation tests inside the data, is
:func:`scalinglaws.judge.choose.choose_law` (re-exported here).

``sl.fit(runs, "auto", candidates=[...])`` is :func:`fit_auto`: ``choose_law`` on the
runs, then, for a learning curve (laws of one variable), a *stack* of the candidates
that passed the nested tests: weights chosen on the same nested errors
(:func:`scalinglaws.judge.stack.stack_weights`), and only the laws with weight fitted on
all runs, combined as a weighted geometric mean (one law when it takes all the weight;
``stack=False`` keeps the single winner; laws of two variables are never stacked). A
guard against laws that explode beyond the data: a candidate that predicts a non-finite
or non-positive value at 2 or 10 times the largest scale is left out (the weights are
recomputed without it, or the next candidate by rank is fitted), and when none is left,
a pure power law. The choice is recorded in ``fit.options["auto"]`` (``"stack"``:
members, weights, scores). See docs/judging.md for the benchmark behind the defaults.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.fit import fit as fit_one
from scalinglaws.engine.result import Fit
from scalinglaws.errors import FitError, LawError, ScalingLawsError
from scalinglaws.judge.calibrate import calibrate
from scalinglaws.judge.choose import (  # re-exported: the nested choice lived here
    CURVE_CANDIDATES,
    DEFAULT_CUTS,
    INNER_RACE,
    MIN_CUTS,
    SIZE_DATA_CANDIDATES,
    Nested,
    Selection,
    _resolve,
    _rmse,
    _unique_in,
    choose_law,
    default_candidates,
    nested_errors,
    options_for,
)
from scalinglaws.judge.stack import stack_fits, stack_weights
from scalinglaws.laws.law import Law

#: ``sl.fit(runs, "auto")`` on a learning curve stacks the candidates by their nested
#: errors (:mod:`scalinglaws.judge.stack`); False keeps the single winner.
STACK = True
STACK_NOTE = ("weights on the simplex minimising the mean over cuts of the mean squared nested log error "
              "of the weighted log prediction (stacking); weights under 0.1 dropped")


def fit_auto(
    runs: Runs | pd.DataFrame | str,
    candidates: Sequence[str | Law] | None = None,
    *,
    by: str | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
    stack: bool = STACK,
    **fit_kwargs: Any,
) -> Fit:
    """Choose a law with :func:`choose_law` (or, with ``stack`` on a learning curve, a
    stack of the candidates weighted by their nested errors, see the module notes), fit
    it with ``fit_kwargs``, and record the choice in ``fit.options["auto"]``.

    ``sl.fit(runs, "auto", candidates=...)`` is this function. A guard against laws that
    explode beyond the data: a candidate whose fit on all runs predicts a non-finite or
    non-positive value at 2 or 10 times the largest scale (laws of one variable) is left
    out, and the weights recomputed or the next candidate by rank fitted instead (said in
    ``options["auto"]["note"]``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(10, 1e4, 20)
    >>> df = pd.DataFrame({"x": x, "loss": 0.5 + 3 * x**-0.4})
    >>> fit_auto(df, ["m1", "power"]).options["auto"]["law"]
    'power'
    """
    return _fit_auto(runs, candidates, by=by, cuts=cuts, stack=stack, **fit_kwargs)[0]


def _fit_auto(
    runs: Runs | pd.DataFrame | str,
    candidates: Sequence[str | Law] | None = None,
    *,
    by: str | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
    stack: bool = STACK,
    **fit_kwargs: Any,
) -> tuple[Fit, Selection]:
    """:func:`fit_auto`, also returning the :class:`Selection` (with its nested errors)."""
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    selection = choose_law(runs, candidates, by=by, cuts=cuts, **fit_kwargs)
    scores = dict(zip(selection.table.candidate, selection.table.score))
    ranked = {_resolve(c, fit_kwargs).name: c for c in selection.ranked()}
    fits: dict[str, Fit] = {}
    said: dict[str, list[warnings.WarningMessage]] = {}
    skipped: list[str] = []

    def usable(name: str) -> bool:
        """Fit a candidate on all runs (once); whether it predicts sanely beyond them."""
        if name not in fits and name not in skipped:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fits[name] = fit_one(runs, ranked[name], **options_for(ranked[name], fit_kwargs, inner=False))
                said[name] = caught
            except ScalingLawsError:
                skipped.append(name)
            if name in fits and not _sane_beyond(fits[name], runs):
                skipped.append(name)
        return name in fits and name not in skipped

    members: list[str] = []
    weights = np.ones(1)
    nest = selection.nested
    tested = [n for n in ranked if np.isfinite(scores.get(n, math.nan))]
    pool: list[str] = []  # the candidates the result was chosen among (for its calibration)
    stacking = False
    if stack and nest is not None and tested and all(_stackable(_resolve(ranked[n], fit_kwargs)) for n in tested):
        allowed = [n for n in tested if _unique_in(n, nest.names)]
        while allowed:  # weights over the candidates still allowed; refit those that fail
            w = stack_weights([nest.errors[n] for n in allowed])
            pick = [n for n, wi in zip(allowed, w) if wi > 0]
            bad = [n for n in pick if not usable(n)]
            if not bad:
                members, weights, pool, stacking = pick, w[w > 0], allowed, True
                break
            allowed = [n for n in allowed if n not in bad]
    if not members:  # one law: the best by rank that fits and predicts sanely beyond the data
        for i, name in enumerate(ranked):
            if i and not np.isfinite(scores.get(name, math.nan)):
                break  # fall back only to candidates that passed the nested tests
            if usable(name):
                members = [name]
                pool = [n for n in tested if n not in skipped] if nest is not None and name in tested else []
                break
    fallback = ""
    result: Fit | None = fits[members[0]] if members else None
    if len(members) > 1:
        try:
            result = stack_fits([fits[n] for n in members], [float(v) for v in weights], note=STACK_NOTE)
        except LawError:  # e.g. a candidate whose name cannot name parameters: the heaviest alone
            members = [members[int(np.argmax(weights))]]
            result = fits[members[0]]
    for name in members:  # the warnings of the fits in the result, once
        for msg in said.get(name, []):
            warnings.warn_explicit(msg.message, msg.category, msg.filename, msg.lineno)
    if result is None:
        result = _last_resort(runs, fit_kwargs)
        if result is not None:
            fallback = ("no candidate predicts finite positive values beyond the data: fell back to a pure power "
                        "law (power with E = 0), finite for every positive x")
        elif fits:
            result = next(iter(fits.values()))
        else:
            raise LawError(f"no candidate could be fitted to all {len(runs)} runs (tried {', '.join(skipped)})")
    record = selection.to_dict()
    record["law"] = result.law.name
    if len(members) > 1:
        record["stack"] = {"members": members, "weights": [float(w) for w in result.options["stack"]["weights"]],
                           "scores": [float(scores[n]) for n in members], "how": STACK_NOTE}
    if pool and not fallback:
        record["pool"] = {"candidates": pool, "stacked": stacking}
    if skipped:
        record["note"] = (f"{', '.join(skipped)}: fit failed on all runs, or predicted non-finite or non-positive "
                          f"values beyond the data; fitted {result.law.name}")
    if fallback:
        record["law"] = "power"  # with E pinned at 0 (see "fallback")
        record["fallback"] = fallback
        record["note"] = (record.get("note", "") + "; " + fallback).lstrip("; ")
    return replace(result, options={**result.options, "auto": record}), selection


def _stack_errors(selection: Selection, pool: Sequence[str], *, stacked: bool) -> dict[str, Any] | None:
    """Errors to calibrate ``auto``'s result by, one array per nested cut: the errors of the
    *choice*, cross-validated over the cuts. At each cut the weights are chosen again
    from the other cuts alone, among the candidates in ``pool`` (those the result was
    chosen from): :func:`~scalinglaws.judge.stack.stack_weights` when ``stacked``, else
    all the weight on the lowest mean nested log RMSE; the cut's error is then
    ``sum_i w_i |e_i|``, the weighted mean of the members' absolute log errors there.

    Why both: calibrating by the chosen law's own nested errors (or a stack's own,
    ``|sum_i w_i e_i|``) scores the choice on the very errors it was made by, and a law
    chosen for the smallest errors at these cuts will not keep them beyond the data
    (on 103 benchmark curves, 90 % intervals covered 43 % of the held-out tails where a
    single law won on Misfitting curves, 66 % on Pythia's); the absolute errors bound the
    stack's own (triangle inequality) without the cancellation its weights were chosen
    for. With fewer than two cuts there is nothing to leave out: the weights are those of
    the result (``None`` when the nested errors are not there)."""
    nest = selection.nested
    if nest is None or not pool or not all(_unique_in(m, nest.names) for m in pool):
        return None
    cuts = sorted(set.intersection(*(set(nest.errors[m]) for m in pool)))
    errs = {m: {k: np.asarray(nest.errors[m][k], dtype=float) for k in cuts} for m in pool}
    if not cuts or not all(np.all(np.isfinite(e)) for m in pool for e in errs[m].values()):
        return None

    def weights(used: Sequence[int]) -> np.ndarray:
        if stacked:
            return stack_weights([{k: errs[m][k] for k in used} for m in pool])
        score = [float(np.mean([_rmse(errs[m][k]) for k in used])) for m in pool]
        return np.eye(len(pool))[int(np.argmin(score))]

    out = {}
    for k in cuts:
        others = [c for c in cuts if c != k] or cuts
        w = weights(others)
        out[k] = sum(wi * np.abs(errs[m][k]) for m, wi in zip(pool, w))
    return {nest.by: out}


def _stackable(law: Law) -> bool:
    """Laws of one numeric variable (learning curves) are stacked; others are not (a law in
    size and data keeps its own optimum and plans)."""
    return len(law.variables) == 1 and not law.categorical


def _last_resort(runs: Runs, fit_kwargs: Mapping[str, Any]) -> Fit | None:
    """The fallback of the chain: ``power`` with its floor pinned at 0 (A x^-alpha, finite
    and positive for every positive x), for one-variable runs; None if it cannot be fitted."""
    try:
        kwargs = options_for("power", {**fit_kwargs, "fixed": {"E": 0.0}}, inner=False)
        f = fit_one(runs, "power", **kwargs)
    except ScalingLawsError:
        return None
    return f if _sane_beyond(f, runs) else None


def _sane_beyond(f: Fit, runs: Runs) -> bool:
    """Finite positive predictions at 2 and 10 times the largest scale (one-variable laws)."""
    numeric = [v for v in f.law.variables if v not in f.law.categorical]
    if len(numeric) != 1 or f.law.categorical:
        return True
    col = dict(f.options.get("variables") or {}).get(numeric[0], numeric[0])
    top = float(np.max(runs.column(col)))
    with np.errstate(all="ignore"):
        p = np.asarray(f.predict(check_range=False, **{numeric[0]: top * np.array([2.0, 10.0])}), dtype=float)
    return bool(np.all(np.isfinite(p)) and np.all(p > 0))


def fit(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any],
    *,
    candidates: Sequence[str | Law] | None = None,
    calibrate_intervals: bool = True,
    stack: bool | None = None,
    **options: Any,
) -> Fit:
    """Fit a scaling law to runs: ``scalinglaws.fit``.

    ``law="auto"`` chooses among ``candidates`` (default: by the runs' columns) by
    nested extrapolation tests on these runs, stacking the candidates of a learning curve
    unless ``stack=False`` (:func:`fit_auto`); any other law is
    fitted by the engine, :func:`scalinglaws.engine.fit.fit`, whose options
    (objective, starts, bootstrap, ...) are accepted here unchanged.

    Then the fit's predictive intervals are calibrated (``calibrate_intervals=True``):
    the law is refitted below a few cuts of the runs ordered by scale, and its errors
    above each cut measure how fast the error of extrapolating grows with the distance
    beyond the data (:mod:`scalinglaws.judge.calibrate`). :meth:`Fit.predict_interval`
    uses them by default. A stack is calibrated from its members' nested errors (never
    refitted as one law); for a single law chosen by ``"auto"`` the fits ``choose_law``
    made at the cuts are reused.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e6, 1e9, 12)
    >>> df = pd.DataFrame({"x": x, "loss": 1.5 + 300 * x**-0.3})
    >>> round(fit(df, "power").params["alpha"], 3)
    0.3
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    known: dict[str, Any] | None = None
    if isinstance(law, str) and law.strip().lower() == "auto":
        result, selection = _fit_auto(runs, candidates, stack=STACK if stack is None else stack, **options)
        chosen: Any = result.options["auto"]["law"]
        chosen = next((c for c in (candidates or ()) if isinstance(c, Law) and c.name == chosen), chosen)
        stacked = result.options["auto"].get("stack")
        opts = {} if stacked else options_for(chosen, {k: v for k, v in options.items() if k not in ("by", "cuts")},
                                              inner=False)
        pool = result.options["auto"].get("pool")
        cv = _stack_errors(selection, pool["candidates"], stacked=pool["stacked"]) if pool else None
        if stacked:
            # a stack is calibrated from its members' fits below the cuts (the choice
            # cross-validated over the cuts, see _stack_errors); never refitted as one law
            chosen, known = None, cv
        elif cv is not None:  # a single law chosen: calibrated by the errors of the choice
            known = cv
        elif result.options["auto"].get("fallback"):
            opts = {**opts, "fixed": {"E": 0.0}}
        elif selection.nested is not None and _unique_in(result.law.name, selection.nested.names):
            # the chosen law's fits below the cuts are made already: calibrate reuses them
            known = {selection.nested.by: dict(selection.nested.errors[result.law.name])}
    else:
        if candidates is not None or stack is not None:
            raise FitError(f'{"candidates" if candidates is not None else "stack"} apply to law="auto" only')
        result = fit_one(runs, law, **options)
        chosen, opts = law, options
    if not calibrate_intervals:
        return result
    record = calibrate(result, runs, chosen, opts, known=known)
    return replace(result, options={**result.options, "calibration": record})


__all__ = [
    "fit",
    "INNER_RACE",
    "MIN_CUTS",
    "CURVE_CANDIDATES",
    "DEFAULT_CUTS",
    "SIZE_DATA_CANDIDATES",
    "Selection",
    "choose_law",
    "default_candidates",
    "Nested",
    "fit_auto",
    "nested_errors",
    "options_for",
]
