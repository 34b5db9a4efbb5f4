"""Test-time compute: the cheapest split between model size and samples for a target coverage.

Repeated sampling (Brown et al. 2024, "Large Language Monkeys", arXiv 2407.21787) trades
model size for samples: a smaller model drawn k times may solve as many problems as a
larger one drawn fewer times, for fewer FLOPs. :func:`plan_samples` fits the coverage law
``c(k) = exp(a * k^b)`` (catalog ``coverage``) at each model size measured, interpolates
``a`` and ``b`` linearly in ``log N`` between them, inverts the law for the samples
``k(N) = (log c / a)^(1/b)`` that reach the target coverage, and prices each size with
the training-plus-inference accounting of Sardana et al. (2023):

    cost(N) = 6 * N * D_train(N) + 2 * N * tokens_per_sample * k(N) * n_problems,

with ``D_train = train_tokens_per_param * N`` (0: inference only, for models already
trained). The answer is a table of options (one row per size) with bootstrap intervals,
and the cheapest of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.fit import fit as _fit
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError

__all__ = ["SamplePlan", "plan_samples"]


@dataclass(frozen=True)
class SamplePlan:
    """The cheapest (model size, samples) pair reaching a target coverage, and the options.

    Attributes
    ----------
    target : float
        Coverage asked for.
    n_params, n_samples, total_flops : float
        The cheapest option: model size, samples per problem, training + inference FLOPs.
    n_params_interval : (lower, upper) or None
        Percentile interval of the cheapest size over bootstrap draws.
    total_flops_interval : (lower, upper) or None
        Percentile interval of the cost of the chosen option over draws.
    options : DataFrame
        One row per candidate size: ``n_params, n_samples, n_samples_lower,
        n_samples_upper, train_flops, inference_flops, total_flops, total_lower, total_upper``.
    level : float
    """

    target: float
    n_params: float
    n_samples: float
    total_flops: float
    n_params_interval: tuple[float, float] | None
    total_flops_interval: tuple[float, float] | None
    options: pd.DataFrame = field(repr=False)
    level: float = 0.95

    def __repr__(self) -> str:
        text = (f"SamplePlan(target={self.target:g}: n_params={self.n_params:.4g}, n_samples={self.n_samples:.4g}, "
                f"total_flops={self.total_flops:.4g}")
        if self.n_params_interval is not None and self.total_flops_interval is not None:
            text += (f"; {self.level:.0%} n_params ({self.n_params_interval[0]:.3g}, {self.n_params_interval[1]:.3g}),"
                     f" flops ({self.total_flops_interval[0]:.3g}, {self.total_flops_interval[1]:.3g})")
        return text + f"; {len(self.options)} options)"

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(repr(self))}</p>" + self.options.to_html(index=False, float_format="{:.4g}".format)

    def to_dict(self) -> dict[str, Any]:
        def j(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "target": self.target,
            "n_params": self.n_params,
            "n_samples": j(self.n_samples),
            "total_flops": j(self.total_flops),
            "n_params_interval": None if self.n_params_interval is None else [j(v) for v in self.n_params_interval],
            "total_flops_interval": None if self.total_flops_interval is None else [j(v) for v in self.total_flops_interval],
            "level": self.level,
            "options": [{k: (j(v) if isinstance(v, float) else v) for k, v in row.items()}
                        for row in self.options.to_dict(orient="records")],
        }


def _positive(value: Any, name: str, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise DataError(f"{name} must be a {'non-negative' if zero else 'positive'} number, got {value!r}")
    return float(value)


def _fits(coverage: pd.DataFrame | Mapping[float, Fit], bootstrap: int, seed: int) -> dict[float, Fit]:
    if isinstance(coverage, Mapping):
        fits = {float(n): f for n, f in coverage.items()}
        for n, f in fits.items():
            if not isinstance(f, Fit) or set(f.free_params) != {"a", "b"}:
                raise DataError(f"coverage fit for n_params={n:g} must be a fit of the 'coverage' law (parameters a, b)")
        return fits
    if not isinstance(coverage, pd.DataFrame):
        raise DataError(f"coverage must be a DataFrame or a mapping of n_params to coverage fits, got {type(coverage).__name__}")
    missing = [c for c in ("n_params", "n_samples", "coverage") if c not in coverage.columns]
    if missing:
        raise DataError(f"coverage table is missing the column(s) {missing}; it needs n_params, n_samples, coverage")
    out = {}
    for n, rows in coverage.groupby("n_params"):
        out[float(n)] = _fit(rows[["n_samples", "coverage"]], "coverage", target="coverage", bootstrap=bootstrap, seed=seed)
    return out


def _k_needed(a: np.ndarray, b: np.ndarray, target: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        k = (math.log(target) / a) ** (1.0 / b)
    return np.where(np.isfinite(k), np.maximum(k, 1.0), np.inf)


def plan_samples(
    coverage: pd.DataFrame | Mapping[float, Fit],
    target: float,
    *,
    tokens_per_sample: float,
    n_problems: float = 1.0,
    train_tokens_per_param: float = 0.0,
    n_sizes: int = 25,
    level: float = 0.95,
    bootstrap: int = 200,
    seed: int = 0,
) -> SamplePlan:
    """The model size and samples per problem that reach ``target`` coverage for the fewest FLOPs.

    Parameters
    ----------
    coverage : DataFrame or mapping
        Coverage curves at two or more model sizes: a table with columns ``n_params``,
        ``n_samples`` (k) and ``coverage`` (from :func:`scalinglaws.coverage_table` per
        model), or ``{n_params: fit of the coverage law}`` (fit with ``bootstrap=`` for intervals).
    target : float
        Coverage to reach, in (0, 1).
    tokens_per_sample : float
        Tokens processed per sample (prompt plus generated); each costs ``2 N`` FLOPs.
    n_problems : float
        Problems to solve (scales the inference cost).
    train_tokens_per_param : float
        Training tokens per parameter to charge (e.g. 20); 0 prices inference only.
    n_sizes : int
        Log-spaced candidate sizes between the smallest and largest measured (the
        measured sizes are always candidates). Sizes are never extrapolated.
    level : float
        Interval level (bootstrap percentiles).
    bootstrap, seed : int
        Bootstrap draws per size when ``coverage`` is a table.

    Returns
    -------
    SamplePlan

    Examples
    --------
    ``sl.plan_samples(table, 0.8, tokens_per_sample=500, n_problems=1000)``
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
        raise DataError(f"target coverage must lie strictly between 0 and 1, got {target!r}")
    level = check_level(level)
    tps = _positive(tokens_per_sample, "tokens_per_sample")
    problems = _positive(n_problems, "n_problems")
    tpp = _positive(train_tokens_per_param, "train_tokens_per_param", zero=True)
    fits = _fits(coverage, bootstrap, seed)
    if len(fits) < 2:
        raise DataError(f"plan_samples needs coverage at two model sizes or more, got {len(fits)}")
    sizes = np.array(sorted(fits))
    logs = np.log(sizes)
    point = np.array([[fits[n].params["a"], fits[n].params["b"]] for n in sizes])  # (m, 2)
    draws = [fits[n]._valid_draws()[:, [fits[n].free_params.index("a"), fits[n].free_params.index("b")]]
             if _n_draws(fits[n]) else None for n in sizes]
    grid = np.unique(np.concatenate([sizes, np.geomspace(sizes[0], sizes[-1], max(int(n_sizes), 2))]))
    lg = np.log(grid)

    def cost(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """theta (m, 2) -> samples and total FLOPs at each grid size."""
        a = np.interp(lg, logs, theta[:, 0])
        b = np.interp(lg, logs, theta[:, 1])
        k = _k_needed(a, b, float(target))
        return k, 6.0 * grid * tpp * grid + 2.0 * grid * tps * k * problems

    k0, c0 = cost(point)
    best = int(np.argmin(c0))
    have = all(d is not None and len(d) > 0 for d in draws)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    k_band = c_band = np.full((2, len(grid)), np.nan)
    n_band = f_band = None
    if have:
        n = min(len(d) for d in draws)  # type: ignore[arg-type]
        ks, cs = zip(*(cost(np.stack([d[i] for d in draws])) for i in range(n)))  # type: ignore[index]
        K, C = np.array(ks), np.array(cs)
        k_band = np.percentile(K, q, axis=0, method="nearest")
        c_band = np.percentile(C, q, axis=0, method="nearest")
        chosen = grid[np.argmin(C, axis=1)]
        lo, hi = np.percentile(chosen, q, method="nearest")
        n_band = (float(lo), float(hi))
        f_band = (float(c_band[0, best]), float(c_band[1, best]))
    train = 6.0 * grid * tpp * grid
    options = pd.DataFrame({
        "n_params": grid,
        "n_samples": k0,
        "n_samples_lower": k_band[0],
        "n_samples_upper": k_band[1],
        "train_flops": train,
        "inference_flops": c0 - train,
        "total_flops": c0,
        "total_lower": c_band[0],
        "total_upper": c_band[1],
    })
    return SamplePlan(
        target=float(target),
        n_params=float(grid[best]),
        n_samples=float(k0[best]),
        total_flops=float(c0[best]),
        n_params_interval=n_band,
        total_flops_interval=f_band,
        options=options,
        level=level,
    )


def _n_draws(f: Any) -> int:
    return 0 if f.draws is None else len(f.draws)
