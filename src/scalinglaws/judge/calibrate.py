"""How wrong is a law beyond its data? Calibrating predictive intervals from nested
extrapolation tests on the training runs themselves.

A predictive interval must cover what a run *will measure*: the law's parameter
uncertainty, the run-to-run noise, and the error of extrapolating the law itself. The
last one is not in the bootstrap: a law can fit its data well and still bend the wrong
way beyond it. It is measured here, conformal style, from the data alone:

1. Order the runs by scale (and, for laws of several variables, by each variable alone:
   a run can lie beyond the data in any direction) and cut them at a few shares of
   their distinct values (50, 60, 70 and 80 %). At each cut, refit the law on the runs below it (from 8 starts
   around the full fit's optimum, no bootstrap; for ``sl.fit(runs, "auto")`` the fits
   ``choose_law`` made at the same cuts from the whole grid are reused, and a stack of
   laws is never refitted: it takes the weighted mean of its members' absolute errors)
   and record the log error at every run above it, with the run's
   *distance* beyond the training data in decades (0 inside the data): the largest, over
   the law's variables and their product, of ``log10(value / largest training value)``
   (:func:`scalinglaws.engine.result.extrapolation_distance`).
2. Model the error's variance as ``s**2 + (g * d)**2``: ``s`` the residual scatter of the
   full fit (noise), ``g`` the growth per decade beyond the data, fitted by least squares
   on the squared errors (never negative).
3. Normalise each error by its modelled standard deviation; the empirical quantiles of
   these scores (with the conformal ``(n + 1)`` correction) replace the Gaussian quantile.
   Where the conformal rank ``ceil((n + 1) level)`` exceeds ``n`` (too few scores for the
   level: the conformal interval is unbounded), the Student-t prediction quantile of the
   scores takes its place (:func:`conformal_quantiles`), never the largest score.

The numbers are stored in ``fit.options["calibration"]``; :meth:`Fit.predict_interval`
reads them. With too few runs to cut, the calibration says so and intervals fall back to
noise plus parameter uncertainty, marked as not calibrated.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.engine.batch import fit_each
from scalinglaws.engine.fit import fit as fit_one
from scalinglaws.engine.predict import default_by, derive_variables, law_inputs, predict_runs
from scalinglaws.engine.result import CALIBRATION_LEVELS as LEVELS
from scalinglaws.engine.extrapolation import ratios, scale_log10
from scalinglaws.engine.result import PRODUCT, Fit, extrapolation_distance
from scalinglaws.errors import ScalingLawsError
from scalinglaws.judge.holdout import same_for_every_subset, split_kwargs

#: Shares of the distinct scales kept for training at the calibration cuts.
CUTS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8)
_DROP = ("bootstrap", "seed", "progress", "starts")
#: Starts of each nested refit: the full fit's optimum and perturbations of it.
N_LOCAL = 8
#: Held-out runs scored per nested cut at most (a seeded sample beyond): the quantiles need
#: thousands of scores, not millions, and 10^6 runs would otherwise hold them all at once.
MAX_HELD_OUT = 20_000
#: Training runs of a nested refit at most (a seeded sample beyond): with 10^5 runs and
#: more the refit's parameters hardly move, and its Jacobian would cost hundreds of MiB.
MAX_TRAIN = 100_000
#: Nested refits are one batched solve when their training subsets hold at most this many
#: runs together (one by one beyond, so that 10^6 runs do not hold 12 subsets at once).
MAX_BATCH_RUNS = 200_000
_KEY = "_calibration_cut"


def training_top(fit: Fit, runs: Runs, rows: np.ndarray | None = None) -> dict[str, float]:
    """The largest value of each numeric law variable in ``runs`` (law variable names), and
    with two or more, the largest ``log10`` of their product (key ``"*"``; a ratio variable
    such as tokens per parameter counts there times its denominator, as in
    :func:`extrapolation_distance`); with ``rows`` (a boolean mask), in those runs only (as
    ``training_top(fit, runs.subset(rows))``, without copying the table)."""
    out: dict[str, float] = {}
    where = np.ones(len(runs), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    inputs = law_inputs(fit, runs)
    for v, values in inputs.items():
        if v in fit.law.categorical:
            continue
        vals = np.asarray(values, dtype=float)
        if where.any() and np.all(vals > 0, where=where):
            out[v] = float(np.max(vals, where=where, initial=-np.inf))
    if len(out) > 1:  # runs outside ``rows`` may be <= 0: -inf there, and masked
        out[PRODUCT] = float(np.max(scale_log10(inputs, list(out), ratios(fit.law)), where=where, initial=-np.inf))
    return out


def calibrate(
    fit: Fit,
    runs: Runs,
    law: Any,
    fit_kwargs: Mapping[str, Any] | None = None,
    *,
    known: Mapping[str, Mapping[int, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """The calibration record of ``fit``, made on ``runs`` from ``law`` (as the user gave it)
    with ``fit_kwargs`` (see the module notes).

    ``known[column][k]``: the log errors (log predicted - log actual) at the runs above a
    cut that keeps the ``k`` smallest distinct values of ``column``, from a fit of the same
    law below it, already made (by :func:`scalinglaws.judge.auto.choose_law`, from the
    law's whole start grid); that cut is not refitted, and counts even with fewer than
    ``n_free + 2`` training runs (its fit had more runs than parameters). Other cuts are
    refitted, unless ``law`` is None (a stack of laws, calibrated from ``known`` only)."""
    fit_kwargs = dict(fit_kwargs or {})
    runs = derive_variables(runs, fit.law, dict(fit.options.get("variables") or {}))
    target = fit.options.get("target") or "loss"
    top = training_top(fit, runs)
    resid = _log_residuals(fit, runs, target)
    stack = fit.options.get("stack") or {}
    n_free = int(round(stack["effective_params"])) if "effective_params" in stack else len(fit.free_params)
    dof = max(int(np.isfinite(resid).sum()) - n_free, 1)
    noise = float(math.sqrt(np.nansum(resid**2) / dof)) if np.isfinite(resid).any() else math.nan
    del resid  # 8 bytes a run, not needed by the cuts below
    record: dict[str, Any] = {"noise": noise, "growth": 0.0, "top": top, "n_scores": 0, "quantiles": None,
                              "dof": dof, "method": "nested extrapolation residuals (conformal)"}
    try:
        orders = [default_by(fit.law, runs, fit.options.get("variables"))]
    except ScalingLawsError as err:
        record["note"] = f"not calibrated: {err}"
        return record
    mapping = dict(fit.options.get("variables") or {})
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(numeric) > 1:  # beyond the data in any direction: each variable alone, too
        orders += [mapping.get(v, v) for v in numeric if mapping.get(v, v) not in orders]
    kwargs = {k: v for k, v in fit_kwargs.items() if k not in _DROP}
    scales = {by: runs.values(by) for by in orders}  # read-only views, no copies
    distinct = {by: np.unique(v) for by, v in scales.items()}

    def cuts() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]]:
        """Every cut as (training mask, scored mask, reused errors, mask of runs to refit on),
        made when asked for: 10^6 runs hold one cut's masks at a time, not all twelve."""
        for by in orders:
            scale, values = scales[by], distinct[by]
            m = values.size
            for k in sorted({min(max(int(round(c * m)), 1), m - 1) for c in CUTS}) if m >= 3 else []:
                train = scale <= values[k - 1]
                held = np.flatnonzero(~train)
                if held.size == 0:
                    continue
                test = ~train
                pick: Any = slice(None)
                if held.size > MAX_HELD_OUT:  # enough scores; millions would only cost memory
                    pick = np.sort(np.random.default_rng(k).choice(held.size, MAX_HELD_OUT, replace=False))
                    test = np.zeros_like(train)
                    test[held[pick]] = True
                reuse = (known or {}).get(by, {}).get(k)
                if reuse is not None and np.shape(reuse) == (held.size,):
                    yield train, test, np.asarray(reuse, dtype=float)[pick], None
                elif law is not None and train.sum() >= n_free + 2:
                    fitted = train
                    if train.sum() > MAX_TRAIN:  # a seeded sample of the training runs
                        kept = np.flatnonzero(train)
                        kept = kept[np.sort(np.random.default_rng(k).choice(kept.size, MAX_TRAIN, replace=False))]
                        fitted = np.zeros_like(train)
                        fitted[kept] = True
                    yield train, test, None, fitted

    sizes = [int(fitted.sum()) for *_, fitted in cuts() if fitted is not None]
    batch = _batched_refits(runs, law, fit, kwargs, cuts) if _batchable(sizes, kwargs) else None
    starts = _local_starts(fit) if sizes else None
    errs: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    reused = i = 0
    for train, test, e, fitted in cuts():
        if fitted is not None:
            sub = batch[i] if batch is not None else _refit(runs, law, fitted, kwargs, starts)
            i += 1
            if sub is None:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = predict_runs(sub, runs.subset(test))
            except ScalingLawsError:
                continue
            y = runs.values(target)[test]
            with np.errstate(all="ignore"):
                e = np.log(pred) - np.log(y)
        else:
            reused += 1
        assert e is not None
        ok = np.isfinite(e)
        if not ok.any():
            continue
        # distances depend on the variables only: the full fit maps them as the refit does
        d = extrapolation_distance(training_top(fit, runs, train), law_inputs(fit, runs.subset(test)), ratios(fit.law))
        errs.append(e[ok])
        dists.append(np.broadcast_to(d, e.shape)[ok])
    if not errs:
        record["note"] = "not calibrated: too few runs or scales to test extrapolation within the data"
        return record
    e = np.concatenate(errs)
    d = np.concatenate(dists)
    s2 = noise**2 if math.isfinite(noise) else 0.0
    d4 = float(np.sum(d**4))
    growth = math.sqrt(max(float(np.sum((e**2 - s2) * d**2)) / d4, 0.0)) if d4 > 0 else 0.0
    sd = np.sqrt(s2 + (growth * d) ** 2)
    scores = np.abs(e) / np.where(sd > 0, sd, np.inf)
    scores = np.sort(scores[np.isfinite(scores)])
    n = scores.size
    record.update(growth=growth, n_scores=int(n), bias=float(np.mean(e)), reused_cuts=reused)
    if n >= 8:
        record["quantiles"] = conformal_quantiles(scores)
    else:
        record["note"] = f"only {n} nested extrapolation errors: Student-t quantiles instead of conformal ones"
    return record


def conformal_quantiles(scores: np.ndarray, levels: tuple[float, ...] = LEVELS) -> list[float]:
    """The score quantile at each level: the split-conformal one, the ``ceil((n + 1) level)``-th
    smallest of the ``n`` scores, where that rank exists; beyond it (``n < level / (1 -
    level)``, e.g. fewer than 9 scores at 90 %), where the conformal interval is unbounded,
    the Student-t prediction quantile of a new score from the ``n`` seen ones,
    ``t_n((1 + level) / 2) * sqrt(mean(score**2))``, instead of the largest score (which
    covers a new one with probability ``n / (n + 1)`` only, below the level)."""
    s = np.sort(np.asarray(scores, dtype=float))
    n = s.size
    rms = float(np.sqrt(np.mean(s**2)))
    out = []
    for lv in levels:
        rank = math.ceil((n + 1) * lv)
        if rank <= n:
            out.append(float(s[rank - 1]))
        else:  # scipy.special, not scipy.stats: the latter costs ~40 MiB of memory to import
            from scipy.special import stdtrit

            out.append(float(stdtrit(n, (1 + lv) / 2)) * rms)
    return out


def _local_starts(full: Fit) -> np.ndarray:
    """``N_LOCAL`` starts around the full fit's optimum: its own point and seeded
    perturbations of about 30 %, inside the bounds."""
    rng = np.random.default_rng(0)
    names = full.law.param_names
    best = np.array([full.params[n] for n in names], dtype=float)
    starts = [best]
    for _ in range(N_LOCAL - 1):
        z = rng.normal(0.0, 0.3, best.size)
        trial = np.where(best > 0, best * np.exp(z), best + z * np.maximum(np.abs(best), 0.1))
        starts.append(trial)
    arr = np.array(starts)
    for j, prm in enumerate(full.law.params):
        lo, hi = prm.lower, prm.upper
        span = (hi - lo) if np.isfinite(hi - lo) else 0.0
        arr[:, j] = np.clip(arr[:, j], lo + 1e-9 * span if np.isfinite(lo) else lo, hi - 1e-9 * span if np.isfinite(hi) else hi)
        if prm.log:
            arr[:, j] = np.where(arr[:, j] > 0, arr[:, j], best[j])
    return arr


def _batchable(sizes: list[int], kwargs: Mapping[str, Any]) -> bool:
    """Whether the nested refits can be one batched solve: more than one, options not per
    run, and at most ``MAX_BATCH_RUNS`` training runs together."""
    return len(sizes) > 1 and same_for_every_subset(kwargs) and sum(sizes) <= MAX_BATCH_RUNS


def _batched_refits(runs: Runs, law: Any, full: Fit, kwargs: dict[str, Any],
                    cuts: Callable[[], Iterator[tuple[Any, ...]]]) -> list[Fit | None] | None:
    """The law refitted below every cut from the same :func:`_local_starts` (a start near a
    good optimum finds the training runs' own optimum unless the objective has several;
    the law's whole grid would cost far more): one batched solve
    (:func:`~scalinglaws.engine.batch.fit_each`, equal to the fits one by one). None when
    some subset cannot be fitted that way: then :func:`_refit` fits them one by one (laws
    whose inputs do not stack by rows, such as schedules, ``fit_each`` fits one by one itself)."""
    masks = [fitted for *_, fitted in cuts() if fitted is not None]
    stacked = pd.concat([runs.data[m].assign(**{_KEY: j}) for j, m in enumerate(masks)], ignore_index=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(fit_each(stacked, law, by=_KEY, starts=_local_starts(full), **kwargs))
    except ScalingLawsError:
        return None


def _refit(runs: Runs, law: Any, fitted: np.ndarray, kwargs: dict[str, Any], starts: Any) -> Fit | None:
    """One nested refit on the runs of ``fitted`` from ``starts`` (the law's grid if they
    are refused); None if it cannot be fitted."""
    sub_kwargs = split_kwargs(kwargs, fitted)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return fit_one(runs.subset(fitted), law, starts=starts, **sub_kwargs)
            except ScalingLawsError:
                return fit_one(runs.subset(fitted), law, **sub_kwargs)
    except ScalingLawsError:
        return None


def _log_residuals(fit: Fit, runs: Runs, target: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        r = np.log(runs.values(target)) - np.log(predict_runs(fit, runs))
    return np.where(np.isfinite(r), r, np.nan)


__all__ = ["CUTS", "calibrate", "conformal_quantiles", "training_top"]
