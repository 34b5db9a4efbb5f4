"""What data to train on: the domain ratio of continual pre-training, a mixture of domains,
and how hard to filter a pool for a budget, each with bootstrap intervals.

* :func:`plan_cpt_mixture` (D-CPT law, Que et al. 2024, catalog ``dcpt``): the domain
  ratio ``r`` that minimises the domain loss subject to ``general loss <= (1 + T)
  baseline``, the paper's use of the law. ``r`` is searched on a fine grid over [0, 1].
* :func:`plan_mixture` (data mixing law, Ye et al. 2024, catalog ``data_mixing``): the
  proportions on the simplex that minimise a weighted sum of validation-domain losses
  (Ye's explicit aggregation), by constrained optimisation (scipy SLSQP from every
  vertex and the centre).
* :func:`plan_filtering` (Goyal et al. 2024, catalog ``data_filtering`` fitted per pool
  with ``groups=``): pools ranked by utility, the filter "keep the best k pools" that
  gives the lowest error after a budget of samples, the mix's utility being the
  size-weighted mean of the pools' decayed utilities.

Every answer is a :class:`DataPlan` (defined, with the helpers the planners share, in
:mod:`scalinglaws.plan.data_plan`; importable from here). Intervals are percentiles
over the fits' bootstrap draws (fit with ``bootstrap=``): the whole optimisation is
repeated for each draw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError
from scalinglaws.laws.data_laws import filtering_error
from scalinglaws.laws.derived import _slug
from scalinglaws.plan.data_plan import DataPlan, _band, _catalog, _draws, _number, _params

__all__ = ["DataPlan", "plan_cpt_mixture", "plan_filtering", "plan_mixture"]


# --------------------------------------------------------------------------- D-CPT


def _cpt_curve(fit: Fit, group: str | None, r: np.ndarray, n: float, d: float, draws: np.ndarray | None) -> np.ndarray:
    """The fit's loss along the ratios ``r`` (its own ``mix_ratio``) at one N and D."""
    X: dict[str, Any] = {"n_params": np.full(r.shape, n), "n_tokens": np.full(r.shape, d), "mix_ratio": r}
    if group is not None:
        X[fit.law.spec["groups"]["column"]] = np.full(r.shape, group)
    with np.errstate(all="ignore"):
        return np.asarray(fit.law.function(X, _params(fit, draws)), dtype=float)


def _cpt_choose(dom: np.ndarray, gen: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Index of the lowest domain loss among ratios whose general loss is within the limit; -1: none."""
    masked = np.where(gen <= limit[..., None], dom, np.inf)
    idx = np.argmin(masked, axis=-1)
    return np.where(np.isfinite(np.take_along_axis(masked, idx[..., None], -1)[..., 0]), idx, -1)


def plan_cpt_mixture(
    domain: Fit,
    general: Fit | None = None,
    *,
    n_params: float,
    n_tokens: float,
    tolerance: float = 0.03,
    baseline: float | None = None,
    labels: tuple[str, str] = ("domain", "general"),
    general_ratio: str = "domain",
    level: float = 0.9,
    points: int = 2001,
) -> DataPlan:
    """The domain ratio r of a continual pre-training run that minimises the domain loss
    while the general loss stays within ``(1 + tolerance) * baseline`` (Que et al. 2024).

    Parameters
    ----------
    domain, general : Fit
        Fits of the ``dcpt`` law to the domain loss and to the general loss, each
        against the same ratio ``mix_ratio`` (the domain share of the corpus). Or one
        fit grouped by a column (``groups=``) whose labels are ``labels`` =
        (domain label, general label), with ``general=None``.
    n_params, n_tokens : float
        The run: model size and continual pre-training tokens.
    tolerance : float
        T: how much the general loss may rise, relative to ``baseline`` (0.03: 3 %).
    baseline : float, optional
        The general loss to protect; default the general fit's prediction at r = 0
        (the same run on general data only). Que et al. protect the general loss of
        the model before continual pre-training: pass it here.
    general_ratio : {"domain", "general"}
        What the general fit's ``mix_ratio`` is: ``"domain"`` (default), the domain
        share r, as for the domain fit; ``"general"``, the general share 1 - r, the
        paper's parameterisation (Que et al. fit L_g against r_g, the general corpus's
        share, and L_d against r_d; their Fig. 1).
    level : float
        Interval level over bootstrap draws.
    points : int
        Ratios on the grid over [0, 1] (2001: steps of 0.0005).

    Returns
    -------
    DataPlan
        ``choice["mix_ratio"]``, the predicted domain and general losses there, and
        their intervals over the bootstrap draws of both fits.
    """
    level = check_level(level)
    n = _number(n_params, "n_params")
    d = _number(n_tokens, "n_tokens")
    tol = _number(tolerance, "tolerance", strict=False)
    _catalog(domain, "dcpt", "plan_cpt_mixture")
    if general_ratio not in ("domain", "general"):
        raise DataError(f"general_ratio must be 'domain' or 'general', got {general_ratio!r}")
    if general is None:
        groups = domain.law.spec.get("groups") or {}
        missing = [lab for lab in labels if lab not in groups.get("labels", ())]
        if missing:
            raise DataError(f"give the general-loss fit too, or one dcpt fit grouped by a column with the labels "
                            f"{list(labels)} (missing {missing})")
        fits: list[tuple[Fit, str | None]] = [(domain, labels[0]), (domain, labels[1])]
    else:
        fits = [(domain, None), (_catalog(general, "dcpt", "plan_cpt_mixture"), None)]
    r = np.linspace(0.0, 1.0, max(int(points), 11))
    r_gen = 1.0 - r if general_ratio == "general" else r
    dom = _cpt_curve(fits[0][0], fits[0][1], r, n, d, None)
    gen = _cpt_curve(fits[1][0], fits[1][1], r_gen, n, d, None)
    base = float(gen[0]) if baseline is None else _number(baseline, "baseline")
    limit = np.asarray((1.0 + tol) * base)
    i = int(_cpt_choose(dom, gen, limit))
    if i < 0:
        raise DataError(f"no ratio keeps the general loss within {tol:.1%} of {base:.4g} "
                        f"(its lowest prediction is {float(np.nanmin(gen)):.4g})")
    choice_ci: dict[str, tuple[float, float]] = {}
    loss_ci = None
    dd, gd = _draws(fits[0][0]), _draws(fits[1][0])
    if dd is not None and gd is not None:
        m = min(len(dd), len(gd))
        domd = _cpt_curve(fits[0][0], fits[0][1], r, n, d, dd[:m])
        gend = _cpt_curve(fits[1][0], fits[1][1], r_gen, n, d, gd[:m])
        limd = (1.0 + tol) * (gend[:, 0] if baseline is None else np.full(m, base))
        idx = _cpt_choose(domd, gend, limd)
        ok = idx >= 0
        choice_ci["mix_ratio"] = _band(r[idx[ok]], level)
        loss_ci = _band(domd[np.arange(m)[ok], idx[ok]], level)
    step = max(len(r) // 20, 1)
    show = np.unique(np.r_[np.arange(0, len(r), step), len(r) - 1, i])
    options = pd.DataFrame({"mix_ratio": r[show], "domain_loss": dom[show], "general_loss": gen[show],
                            "general_ok": gen[show] <= limit})
    note = (f"domain loss minimised over the domain share r in [0, 1] at N={n:.4g}, D={d:.4g}"
            f"{' (general fit in the general share 1 - r)' if general_ratio == 'general' else ''}, subject to general loss <= "
            f"(1 + {tol:g}) x {base:.4g} = {float(limit):.4g}; general loss at the choice {float(gen[i]):.4g}")
    return DataPlan("cpt_mixture", {"mix_ratio": float(r[i])}, choice_ci, float(dom[i]), loss_ci, options,
                    note=note, level=level)


# --------------------------------------------------------------------------- Ye et al.


def _mixing_fits(fits: Fit | Sequence[Fit] | Mapping[str, Fit]) -> list[Fit]:
    items = list(fits.values()) if isinstance(fits, Mapping) else [fits] if isinstance(fits, Fit) else list(fits)
    if not items:
        raise DataError("plan_mixture needs at least one fit of the data_mixing law")
    for f in items:
        _catalog(f, "data_mixing", "plan_mixture")
    if any(f.law.variables != items[0].law.variables for f in items):
        raise DataError("the data_mixing fits must share their domains, in the same order")
    return items


def _simplex_min(f: Any, k: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The point of the (bounded) simplex minimising ``f``, from its vertices and centre."""
    cons = [{"type": "eq", "fun": lambda x: float(np.sum(x) - 1.0), "jac": lambda x: np.ones_like(x)}]
    starts = [np.clip(np.full(k, 1.0 / k), lo, hi)] + [np.clip(np.eye(k)[j] * 0.9 + 0.1 / k, lo, hi) for j in range(k)]
    best, best_val = starts[0], math.inf
    for x0 in starts:
        from scipy.optimize import minimize  # imported on use: it is heavy to import
        res = minimize(f, x0, method="SLSQP", bounds=list(zip(lo, hi)), constraints=cons,
                       options={"ftol": 1e-12, "maxiter": 200})
        x = np.clip(res.x, lo, hi)
        if abs(float(np.sum(x)) - 1.0) < 1e-6 and float(f(x)) < best_val:
            best, best_val = x, float(f(x))
    return best


def plan_mixture(
    fits: Fit | Sequence[Fit] | Mapping[str, Fit],
    *,
    weights: Sequence[float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    level: float = 0.9,
) -> DataPlan:
    """The training-domain proportions that minimise the (weighted) validation loss
    under Ye et al.'s data mixing law, with bootstrap intervals.

    Parameters
    ----------
    fits : Fit, list or dict of Fit
        ``data_mixing`` fits with the same domains: one per validation domain, or one
        fitted to the total validation loss.
    weights : list of float, optional
        Weight of each validation domain in the objective (default equal): the
        composition of the validation set (Ye's explicit aggregation).
    bounds : dict, optional
        ``{domain: (lower, upper)}`` proportions allowed (e.g. the share a domain's
        available data can fill without repeating); default [0, 1].

    Returns
    -------
    DataPlan
        ``choice``: the proportion of each domain, the predicted loss there, and their
        intervals over the bootstrap draws.
    """
    level = check_level(level)
    items = _mixing_fits(fits)
    names = items[0].law.variables
    k = len(names)
    w = np.ones(len(items)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(items),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise DataError(f"weights must be {len(items)} non-negative numbers, not all 0; got {weights!r}")
    w = w / w.sum()
    lo, hi = np.zeros(k), np.ones(k)
    for name, (a, b) in (bounds or {}).items():
        if name not in names:
            raise DataError(f"bounds name an unknown domain {name!r}; the domains are {list(names)}")
        if not 0.0 <= a <= b <= 1.0:
            raise DataError(f"bounds of {name!r} must satisfy 0 <= lower <= upper <= 1, got ({a}, {b})")
        lo[names.index(name)], hi[names.index(name)] = a, b
    if lo.sum() > 1.0 + 1e-12 or hi.sum() < 1.0 - 1e-12:
        raise DataError("the bounds leave no mixture whose proportions sum to 1")

    def objective(params: Sequence[Mapping[str, Any]]) -> Any:
        def f(x: np.ndarray) -> float:
            X = {n: np.asarray(v) for n, v in zip(names, x)}
            return float(sum(wi * np.asarray(it.law.function(X, p), dtype=float) for wi, it, p in zip(w, items, params)))
        return f

    point = [_params(it, None) for it in items]
    x = _simplex_min(objective(point), k, lo, hi)
    loss = objective(point)(x)
    draws = [_draws(it) for it in items]
    ci: dict[str, tuple[float, float]] = {}
    loss_ci = None
    lower = upper = np.full(k, np.nan)
    if all(d is not None for d in draws):
        m = min(len(d) for d in draws if d is not None)
        xs, ls = [], []
        for s in range(m):
            ps = [{n: float(v) for n, v in zip(it.free_params, d[s])} for it, d in zip(items, draws) if d is not None]
            xd = _simplex_min(objective(ps), k, lo, hi)
            xs.append(xd)
            ls.append(objective(ps)(xd))
        X = np.array(xs)
        bands = [_band(X[:, j], level) for j in range(k)]
        ci = {n: b for n, b in zip(names, bands)}
        lower, upper = np.array([b[0] for b in bands]), np.array([b[1] for b in bands])
        loss_ci = _band(np.array(ls), level)
    options = pd.DataFrame({"domain": list(names), "proportion": x, "lower": lower, "upper": upper,
                            "bound_lower": lo, "bound_upper": hi})
    note = (f"weighted validation loss of {len(items)} data_mixing fit(s) minimised over the simplex of "
            f"{k} training domains (SLSQP from each vertex and the centre)")
    return DataPlan("mixture", {n: float(v) for n, v in zip(names, x)}, ci, float(loss), loss_ci, options,
                    note=note, level=level)


# --------------------------------------------------------------------------- Goyal et al.


def _pool_params(fit: Fit, params: Mapping[str, Any], label: str) -> tuple[Any, Any]:
    slug = _slug(label)
    return params[f"b_{slug}"], params[f"tau_{slug}"]


def plan_filtering(
    fit: Fit,
    budget: float,
    *,
    pool_sizes: float | Mapping[str, float],
    level: float = 0.9,
) -> DataPlan:
    """How many of the best pools to keep for a budget of samples (Goyal et al. 2024).

    Parameters
    ----------
    fit : Fit
        The ``data_filtering`` law fitted to several pools at once, grouped by the pool
        column with ``a`` and ``d`` shared: ``sl.fit(runs, "data_filtering",
        groups="pool", shared=["a", "d"])``.
    budget : float
        Samples (or tokens) the training run will see.
    pool_sizes : float or dict
        Unique samples per pool: one number for all, or ``{pool: size}``.
    level : float
        Interval level over bootstrap draws.

    Returns
    -------
    DataPlan
        ``choice``: the number of pools kept and the predicted error, a table of every
        nested filter, and intervals over the bootstrap draws.

    Notes
    -----
    The pools are ranked by utility (most negative ``b`` first) and the candidates are
    the nested filters "best 1", "best 2", ...; each is priced with
    :func:`scalinglaws.laws.data_laws.filtering_error` at ``budget``.
    """
    level = check_level(level)
    _catalog(fit, "data_filtering", "plan_filtering")
    n = _number(budget, "budget")
    groups = fit.law.spec.get("groups") or {}
    if not groups or set(groups.get("shared", ())) != {"a", "d"}:
        raise DataError("plan_filtering needs data_filtering fitted per pool: groups='pool', shared=['a', 'd']")
    labels = [str(v) for v in groups["labels"]]
    if isinstance(pool_sizes, Mapping):
        missing = [lab for lab in labels if lab not in pool_sizes]
        if missing:
            raise DataError(f"pool_sizes lacks the pool(s) {missing}")
        sizes = {lab: _number(pool_sizes[lab], f"pool size of {lab!r}") for lab in labels}
    else:
        sizes = {lab: _number(pool_sizes, "pool_sizes") for lab in labels}
    P = dict(fit.params)
    order = sorted(labels, key=lambda lab: float(_pool_params(fit, P, lab)[0]))

    def errors(p: Mapping[str, Any]) -> np.ndarray:
        out = []
        for k in range(1, len(order) + 1):
            kept = order[:k]
            bt = [_pool_params(fit, p, lab) for lab in kept]
            out.append(np.asarray(filtering_error(n, [sizes[lab] for lab in kept], [b for b, _ in bt],
                                                  [t for _, t in bt], p["a"], p["d"]), dtype=float))
        return np.stack([np.broadcast_to(e, np.shape(out[-1])) for e in out], axis=-1)

    err = errors(P)
    best = int(np.argmin(err))
    draws = _draws(fit)
    ci: dict[str, tuple[float, float]] = {}
    loss_ci = None
    lower = upper = np.full(len(order), np.nan)
    if draws is not None:
        E = errors(_params(fit, draws))[:, 0, :]  # (S, candidates)
        ci = {"pools": _band(1.0 + np.argmin(E, axis=1), level)}
        loss_ci = _band(E[:, best], level)
        lower, upper = np.percentile(E, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
    total = np.cumsum([sizes[lab] for lab in order])
    options = pd.DataFrame({"pools": np.arange(1, len(order) + 1), "last_pool": order, "unique": total,
                            "epochs": n / total, "error": err, "lower": lower, "upper": upper})
    note = (f"pools ranked by utility b (best first); error after {n:.4g} samples for each filter 'keep the best k', "
            f"the mix's utility the size-weighted mean of its pools' decayed utilities")
    return DataPlan("filtering", {"pools": float(best + 1)}, ci, float(err[best]), loss_ci, options,
                    pools=tuple(order[: best + 1]), note=note, level=level)
