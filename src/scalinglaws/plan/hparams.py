"""Hyperparameter laws: the optimal learning rate and batch size as power laws of scale.

:func:`fit_hparams` reads a sweep (loss per learning rate and batch size at several
scales), locates each scale's optimum by a local fit and fits
``h_opt = k * N^a * D^b`` (or ``k * C^a``) by least squares in log space (the shared
regression of :mod:`scalinglaws.plan.powerlaw`). :func:`hparam_preset` gives the
published laws (DeepSeek LLM, Step Law, Porian et al.; defined in
:mod:`scalinglaws.plan.hparam_laws`), and :func:`recommend_hparams` evaluates either for
a target run. :func:`critical_batch_size` (:mod:`scalinglaws.plan.critical_batch`) fits
McCandlish et al.'s steps-examples trade-off (§6).

Locating an optimum
-------------------
At one scale (and one batch size) the loss is a smooth valley in ``log lr``. The raw
argmin of a grid is quantised to the grid, so the optimum is the vertex of a parabola
of loss in ``log lr`` fitted to the ``points`` sampled values around the best one
(default 5). When the best value is the smallest or largest sampled, the optimum may
lie outside the grid: it is flagged ``*_edge``, kept at that end, and left out of the
law (warning). With several batch sizes, the learning rate is optimised per batch
size, then the batch size by the same rule on those minima; the scale's learning rate
is the per-batch optimum interpolated (in log-log) at the optimal batch size.

The result types :class:`HparamFit` and :class:`HparamAdvice` live in
:mod:`scalinglaws.plan.hparam_results` and are importable from here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.critical_batch import CriticalBatch, critical_batch_size
from scalinglaws.plan.hparam_laws import PRESETS, HparamLaw, hparam_preset
from scalinglaws.plan.hparam_results import HparamAdvice, HparamFit
from scalinglaws.plan.powerlaw import (
    Seed,
    batched_lstsq,
    log_linear,
    resample_counts,
    rng_of,
)

SCALE_VARIABLES: tuple[str, ...] = ("n_params", "n_tokens", "flops")


# --------------------------------------------------------------------------- local optima


def _local_optimum(log_h: np.ndarray, loss: np.ndarray, points: int) -> tuple[float, float, bool]:
    """Vertex of a parabola of loss in log h around the best sampled value.

    Returns (log h_opt, loss at it, at_edge). Duplicated values keep their lowest loss.
    """
    ux, inv = np.unique(log_h, return_inverse=True)
    y = np.full(ux.size, np.inf)
    np.minimum.at(y, inv, loss)
    i = int(np.argmin(y))
    edge = i == 0 or i == ux.size - 1
    if ux.size < 3:  # too few values to locate an optimum
        return float(ux[i]), float(y[i]), True
    k = min(points, ux.size)
    lo = max(0, min(i - k // 2, ux.size - k))
    xs, ys = ux[lo : lo + k], y[lo : lo + k]
    c = np.polyfit(xs - ux[i], ys, 2)
    if edge or c[0] <= 0:
        return float(ux[i]), float(y[i]), edge
    v = -c[1] / (2 * c[0])
    v = float(np.clip(v, xs[0] - ux[i], xs[-1] - ux[i]))
    return float(ux[i] + v), float(min(np.polyval(c, v), y[i])), False


# --------------------------------------------------------------------------- fitting


def _fit_law(target: str, X: np.ndarray, y: np.ndarray, names: Sequence[str], bootstrap: int,
             rng: np.random.Generator, level: float, source: str) -> HparamLaw:
    """``log y`` on ``log X`` by the shared power-law regression; intervals by resampling scales."""
    n, k = X.shape
    if n < k + 1:
        raise FitError(
            f"the {target} law in {', '.join(names)} needs at least {k + 1} scales with an interior optimum; got {n}"
        )
    logX, ly = np.log(X), np.log(y)
    coef, r2 = log_linear(logX, ly)
    draws = None
    intervals: dict[str, tuple[float, float]] = {}
    if bootstrap:
        A = np.column_stack([np.ones(n), logX])
        counts = resample_counts(n, bootstrap, rng)
        rows = batched_lstsq(A, np.broadcast_to(ly, counts.shape), counts)
        rows = rows[np.all(np.isfinite(rows), axis=1)]
        if len(rows) >= 2:
            draws = rows
            q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
            lo, hi = np.percentile(draws, q, axis=0)
            intervals["coefficient"] = (float(np.exp(lo[0])), float(np.exp(hi[0])))
            intervals.update({nm: (float(a), float(b)) for nm, a, b in zip(names, lo[1:], hi[1:])})
    return HparamLaw(
        target=target,
        coefficient=float(np.exp(coef[0])),
        exponents={nm: float(e) for nm, e in zip(names, coef[1:])},
        intervals=intervals,
        level=level,
        r2=r2 if np.isfinite(r2) else None,
        n_points=n,
        source=source,
        draws=draws,
    )


def fit_hparams(
    sweep: Runs | pd.DataFrame | str,
    *,
    scale: Sequence[str] | None = None,
    variables: Mapping[str, Sequence[str]] | None = None,
    lr: str = "lr",
    batch_size: str = "batch_size",
    loss: str = "loss",
    points: int = 5,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> HparamFit:
    """Fit optimal learning-rate and batch-size laws to a hyperparameter sweep.

    Parameters
    ----------
    sweep : Runs, DataFrame or path
        One row per run: the ``scale`` columns, the learning rate and/or batch size, and
        the loss.
    scale : sequence of str, optional
        The variables of the laws: ``("n_params", "n_tokens")`` (the default),
        ``("flops",)``, ... Runs sharing these values form one scale.
    variables : dict, optional
        Per-target variables, e.g. Step Law's ``{"lr": ["n_params", "n_tokens"],
        "batch_size": ["n_tokens"]}``: the scales are then the distinct values of all of
        them together, and each law is fitted on its own. A target not named keeps
        ``scale``.
    lr, batch_size, loss : str
        Column names (a missing or constant hyperparameter column is not fitted).
    points : int
        Sampled values around the best one used by the local parabola (at least 3).
    bootstrap : int
        Resamples of the scales for the laws' intervals (0: none).
    seed : int or Generator
    level : float

    Returns
    -------
    HparamFit

    Raises
    ------
    DataError
        If columns are missing, or no hyperparameter varies.
    FitError
        If too few scales have an interior optimum.

    Examples
    --------
    >>> rows = [(n, 20 * n, eta, 2 + (np.log(eta) - np.log(0.3 * n**-0.35))**2)
    ...         for n in (1e7, 3e7, 1e8, 3e8) for eta in 2.0 ** np.arange(-16, -3)]
    >>> df = pd.DataFrame(rows, columns=["n_params", "n_tokens", "lr", "loss"])
    >>> round(fit_hparams(df, scale=["n_params"], bootstrap=0).lr.exponents["n_params"], 3)
    -0.35
    >>> fit_hparams(df, variables={"lr": ["n_tokens"]}, bootstrap=0).lr.variables
    ('n_tokens',)
    """
    if not isinstance(sweep, Runs):
        sweep = load_runs(sweep)
    base = ("n_params", "n_tokens") if scale is None else tuple(scale)
    per_target = {"lr": base, "batch_size": base}
    for which, names in (variables or {}).items():
        if which not in per_target:
            raise DataError(f"variables= names targets 'lr' and 'batch_size', got {which!r}")
        if isinstance(names, str) or not names:
            raise DataError(f"variables[{which!r}] must be a non-empty list of columns, got {names!r}")
        per_target[which] = tuple(names)
    scale = tuple(dict.fromkeys(per_target["lr"] + per_target["batch_size"])) if variables else base
    if not scale:
        raise DataError("scale must name at least one column, e.g. scale=('n_params', 'n_tokens')")
    if not (isinstance(points, int) and points >= 3):
        raise FitError(f"points must be an integer of at least 3, got {points!r}")
    hp = [c for c in (lr, batch_size) if c in sweep.columns]
    sweep.require([*scale, loss, *hp], positive=[*scale, *hp], purpose="hyperparameter laws")
    frame = pd.DataFrame({c: sweep.column(c) for c in dict.fromkeys([*scale, loss, *hp])})
    # a hyperparameter is optimised when it takes several values within some scale
    varies = {c: bool((frame.groupby(list(scale))[c].nunique() > 1).any()) for c in hp}
    fit_lr = varies.get(lr, False)
    fit_bs = varies.get(batch_size, False)
    if not (fit_lr or fit_bs):
        raise DataError(f"neither {lr!r} nor {batch_size!r} varies within a scale in this sweep: nothing to optimise")
    rows = []
    for key, g in frame.groupby(list(scale), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(scale, (float(k) for k in key)))
        row["n_runs"] = len(g)
        if fit_bs:
            per_b = []
            for b, gb in g.groupby(batch_size, sort=True):
                if fit_lr:
                    x, v, e = _local_optimum(np.log(gb[lr].to_numpy()), gb[loss].to_numpy(), points)
                else:
                    x, v, e = math.nan, float(gb[loss].min()), False
                per_b.append((math.log(b), x, v, e))
            pb = np.array([(a, x, v) for a, x, v, _ in per_b])
            xb, vb, eb = _local_optimum(pb[:, 0], pb[:, 2], points)
            row["batch_size_opt"], row["batch_size_edge"], row["loss_opt"] = math.exp(xb), eb, vb
            if fit_lr:
                row["lr_opt"] = math.exp(float(np.interp(xb, pb[:, 0], pb[:, 1])))
                nearest = int(np.argmin(np.abs(pb[:, 0] - xb)))
                row["lr_edge"] = bool(per_b[nearest][3])
        else:
            x, v, e = _local_optimum(np.log(g[lr].to_numpy()), g[loss].to_numpy(), points)
            row["lr_opt"], row["lr_edge"], row["loss_opt"] = math.exp(x), e, v
        rows.append(row)
    optima = pd.DataFrame(rows)
    rng = rng_of(seed)
    notes: list[str] = []
    laws: dict[str, HparamLaw | None] = {"lr": None, "batch_size": None}
    for target, on in (("lr", fit_lr), ("batch_size", fit_bs)):
        if not on:
            continue
        edge = optima[f"{target}_edge"].to_numpy(dtype=bool)
        if edge.any():
            notes.append(
                f"{int(edge.sum())} of {len(optima)} scales have their best {target} at the end of the sampled "
                f"values; left out of the {target} law (widen the sweep there)"
            )
        sub = optima[~edge]
        on_vars = per_target[target]
        laws[target] = _fit_law(
            target, sub[list(on_vars)].to_numpy(dtype=float), sub[f"{target}_opt"].to_numpy(dtype=float), on_vars,
            bootstrap, rng, level, f"fitted to {sweep.source} ({len(sub)} scales)",
        )
    for note in notes:
        warnings.warn(note, ScalingLawsWarning, stacklevel=2)
    return HparamFit(lr=laws["lr"], batch_size=laws["batch_size"], optima=optima, scale=scale, warnings=tuple(notes))


# --------------------------------------------------------------------------- recommendation


def recommend_hparams(
    laws: str | HparamFit | Mapping[str, HparamLaw],
    *,
    n_params: float | None = None,
    n_tokens: float | None = None,
    flops: float | None = None,
    level: float = 0.95,
) -> HparamAdvice:
    """Learning rate and batch size for a target run from fitted or published laws.

    Parameters
    ----------
    laws : str, HparamFit or dict
        A preset name (``"deepseek"``, ``"step_law"``, ``"porian"``), a fit, or
        ``{"lr": HparamLaw, "batch_size": HparamLaw}``.
    n_params, n_tokens, flops : float, optional
        The target run; give what the laws need (``flops`` defaults to ``6 N D``).

    Examples
    --------
    >>> a = recommend_hparams("step_law", n_params=1e9, n_tokens=2e10)
    >>> f"{a.lr:.3g}", f"{a.batch_size:.3g}"
    ('0.000996', '4.42e+05')
    """
    if isinstance(laws, str):
        source = laws
        laws = hparam_preset(laws)
    elif isinstance(laws, HparamFit):
        source = "fitted laws"
        laws = laws.laws()
    else:
        source = "given laws"
        laws = dict(laws)
    target: dict[str, float] = {}
    for name, value in (("n_params", n_params), ("n_tokens", n_tokens), ("flops", flops)):
        if value is not None:
            v = float(value)
            if not (math.isfinite(v) and v > 0):
                raise DataError(f"{name} must be a positive number, got {value!r}")
            target[name] = v
    if "flops" not in target and "n_params" in target and "n_tokens" in target:
        target["flops"] = 6.0 * target["n_params"] * target["n_tokens"]
    values: dict[str, float | None] = {"lr": None, "batch_size": None}
    intervals: dict[str, tuple[float, float]] = {}
    for key, law in laws.items():
        values[key] = float(law.predict(**target))
        if law.draws is not None and len(law.draws) >= 2:
            intervals[key] = law.predict_interval(level, **target)
    return HparamAdvice(target=target, lr=values["lr"], batch_size=values["batch_size"], intervals=intervals,
                        level=level, source=source)


__all__ = [
    "PRESETS",
    "CriticalBatch",
    "HparamAdvice",
    "HparamFit",
    "HparamLaw",
    "critical_batch_size",
    "fit_hparams",
    "hparam_preset",
    "recommend_hparams",
]
