"""The numeric core of compute-optimal planning: the fitted loss as a function of (N, D).

:class:`_Model` evaluates a fit's law at model size ``N`` and data ``D`` for a batch of
parameter sets (the point estimate and every bootstrap draw), with Muennighoff et al.'s
(2023) effective data and parameters when tokens are repeated. The solvers minimise
over ``log N`` row by row (a grid, then zooming) and find the data that reaches a loss
(bisection in ``log D``). :mod:`scalinglaws.plan.optimal` builds plans on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scalinglaws.errors import DataError, FitError
from scalinglaws.laws.law import Law
from scalinglaws.engine.result import Fit

#: Muennighoff et al. (2023) decay constants of repeated data and excess parameters
#: (from the official datablations code).
R_D_STAR = 15.387756
R_N_STAR = 5.309743

_RATIO_RANGE = (1e-6, 1e8)  # tokens per parameter searched by the numeric solver
_GRID = 321
_ZOOM = (33, 6)  # points per zoom round, rounds


# --------------------------------------------------------------------------- data limits


def effective_tokens(n_tokens: Any, unique_tokens: Any, r_d: float = R_D_STAR) -> Any:
    """Muennighoff et al.'s effective data ``D' = U + U R*_D (1 - exp(-(D/U - 1)/R*_D))``.

    Equal to ``n_tokens`` when no token is repeated (``n_tokens <= unique_tokens``).

    Examples
    --------
    >>> round(float(effective_tokens(4.0, 1.0)), 2)   # 4 epochs are worth ~3.73
    3.73
    """
    D = np.asarray(n_tokens, dtype=float)
    U = np.asarray(unique_tokens, dtype=float)
    repeats = np.maximum(D / U - 1.0, 0.0)
    out = np.where(D <= U, D, U + U * r_d * (1.0 - np.exp(-repeats / r_d)))
    return out if out.ndim else float(out)


def effective_params(n_params: Any, unique_params: Any, r_n: float = R_N_STAR) -> Any:
    """Effective parameters ``N' = U_N + U_N R*_N (1 - exp(-(N/U_N - 1)/R*_N))`` (N if N <= U_N)."""
    N = np.asarray(n_params, dtype=float)
    U = np.asarray(unique_params, dtype=float)
    excess = np.maximum(N / U - 1.0, 0.0)
    out = np.where(N <= U, N, U + U * r_n * (1.0 - np.exp(-excess / r_n)))
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------- the loss model


class _Model:
    """The fitted loss as a function of (N, D) for a batch of parameter sets."""

    def __init__(
        self,
        fit: Fit,
        *,
        at: Mapping[str, Any] | None,
        unique_tokens: float | None,
        repeat_constants: tuple[float, float],
        purpose: str,
    ) -> None:
        law = fit.law
        mapping = dict(fit.options.get("variables") or {})
        column = {v: mapping.get(v, v) for v in law.variables}
        find = lambda name: next((v for v, c in column.items() if c == name), None)  # noqa: E731
        self.nvar, self.dvar, self.uvar = find("n_params"), find("n_tokens"), find("unique_tokens")
        if self.nvar is None or self.dvar is None:
            raise FitError(
                f"{purpose} needs a law of model size and data (variables n_params and n_tokens); "
                f"law {law.name!r} has variables {list(law.variables)}"
            )
        inverse = {c: v for v, c in column.items()}
        given = {inverse.get(k, k): v for k, v in (at or {}).items()}
        unknown = [k for k in given if k not in law.variables or k in (self.nvar, self.dvar)]
        if unknown:
            raise FitError(f"at= names {unknown}, which are not fixed variables of {law.name!r}: {list(law.variables)}")
        self.fixed_vars = given
        if self.uvar is not None:
            if unique_tokens is None and self.uvar not in given:
                raise FitError(f"law {law.name!r} depends on unique_tokens: pass unique_tokens=...")
            if unique_tokens is not None:
                self.fixed_vars.pop(self.uvar, None)
        # a law with a unique_tokens variable sees the unique tokens actually used, min(U, D)
        self.law_unique = float(unique_tokens) if (self.uvar is not None and unique_tokens is not None) else None
        others = [v for v in law.variables if v not in (self.nvar, self.dvar, self.uvar) and v not in self.fixed_vars]
        if others:
            raise FitError(f"law {law.name!r} also depends on {others}: give their values with at={{...}}")
        self.law = law
        self.unique = None if (unique_tokens is None or self.uvar is not None) else float(unique_tokens)
        self.r_d, self.r_n = repeat_constants
        point = np.array([[fit.params[n] for n in law.param_names]], dtype=float)
        draws = np.empty((0, point.shape[1]))
        if fit.draws is not None and len(fit.draws):
            d = np.asarray(fit.draws, dtype=float)
            draws = d[np.all(np.isfinite(d), axis=1)]
        self.point, self.draws = point, draws

    def base(self, P: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The law itself; P (S, k), N and D (S, G) -> (S, G)."""
        X: dict[str, Any] = {str(self.nvar): N, str(self.dvar): D}
        if self.law_unique is not None:
            X[str(self.uvar)] = np.minimum(self.law_unique, D)
        for k, v in self.fixed_vars.items():
            X[k] = np.full(N.shape, v, dtype=object if k in self.law.categorical else float)
        params = {n: P[:, j : j + 1] for j, n in enumerate(self.law.param_names)}
        with np.errstate(all="ignore"):
            out = np.asarray(self.law.function(X, params), dtype=float)
        return np.broadcast_to(out, N.shape)

    def unique_params(self, P: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Muennighoff's U_N: the compute-optimal size (under 6ND) for one epoch of U tokens.

        Root of dL/dlogN = dL/dlogD at D = U (the first-order condition of the 6ND
        frontier), by bisection in log N; shape (S,).
        """
        eps = 1e-4
        Ucol = U[:, None]

        def h(u: np.ndarray) -> np.ndarray:
            n = np.exp(u)[:, None]
            dn = self.base(P, n * math.exp(eps), Ucol) - self.base(P, n * math.exp(-eps), Ucol)
            dd = self.base(P, n, Ucol * math.exp(eps)) - self.base(P, n, Ucol * math.exp(-eps))
            return (dn - dd)[:, 0]

        lo = np.log(U) - 40.0
        hi = np.log(U) + 20.0
        h_lo, h_hi = h(lo), h(hi)
        ok = (h_lo < 0) & (h_hi > 0)
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            pos = h(mid) > 0
            hi = np.where(pos, mid, hi)
            lo = np.where(pos, lo, mid)
        return np.where(ok, np.exp(0.5 * (lo + hi)), np.inf)

    def loss(self, P: np.ndarray, N: np.ndarray, D: np.ndarray, unique_n: np.ndarray | None = None) -> np.ndarray:
        if self.unique is None:
            return self.base(P, N, D)
        U = self.unique
        used = np.minimum(D, U)
        D_eff = effective_tokens(D, used, self.r_d)
        assert unique_n is not None
        N_eff = effective_params(N, np.minimum(N, unique_n[:, None]), self.r_n)
        return self.base(P, N_eff, D_eff)


# --------------------------------------------------------------------------- solvers


def _minimise(
    fun: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, grid: int = _GRID
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``fun`` (S, G) -> (S, G) over u in [lo, hi] row by row: grid, then zoom.

    Returns the minimiser (S,) and whether it lies on the search bound (S,).
    """
    t = np.linspace(0.0, 1.0, grid)
    U = lo[:, None] + (hi - lo)[:, None] * t
    V = np.where(np.isfinite(v := fun(U)), v, np.inf)
    i = np.argmin(V, axis=1)
    rows = np.arange(len(lo))
    edge = (i == 0) | (i == grid - 1)
    nan = ~np.isfinite(V[rows, i])
    step = (hi - lo) / (grid - 1)
    centre = U[rows, i]
    n, rounds = _ZOOM
    s = np.linspace(-1.0, 1.0, n)
    for _ in range(rounds):
        a = np.clip(centre[:, None] + step[:, None] * s, lo[:, None], hi[:, None])
        W = np.where(np.isfinite(w := fun(a)), w, np.inf)
        j = np.argmin(W, axis=1)
        centre = a[rows, j]
        step = step * 2.0 / (n - 1)
    return np.where(nan, np.nan, centre), edge & ~nan


def _n_bounds(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo_r, hi_r = _RATIO_RANGE
    return 0.5 * np.log(C / (6.0 * hi_r)), 0.5 * np.log(C / (6.0 * lo_r))


def _closed_form(law: Law, P: np.ndarray, C: np.ndarray) -> np.ndarray:
    """The law's own closed-form optimum (``Law.optimum``) under every parameter set."""
    assert law.optimum is not None
    p = {n: P[:, j] for j, n in enumerate(law.param_names)}
    return np.asarray(law.optimum(p, C), dtype=float)


def _tokens_for_loss(model: _Model, P: np.ndarray, N: np.ndarray, target: np.ndarray, un: np.ndarray | None) -> np.ndarray:
    """D with L(N, D) = target (bisection in log D; inf where N cannot reach it)."""
    lo = np.full(N.shape, 0.0)
    hi = np.full(N.shape, math.log(1e35))
    t = target[:, None] * np.ones_like(N)
    reach = model.loss(P, N, np.exp(hi), un) <= t
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        below = model.loss(P, N, np.exp(mid), un) <= t
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid)
    return np.where(reach, np.exp(hi), np.inf)


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise DataError(f"{name} must be a positive finite number, got {value!r}")
    return v

def _intervals(values: Mapping[str, np.ndarray], level: float, S: int) -> dict[str, tuple[float, float]]:
    if S < 3:
        return {}
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = {}
    for k, v in values.items():
        d = np.asarray(v, dtype=float)[1:]
        d = d[np.isfinite(d)]
        if len(d) >= 2:
            lo, hi = np.percentile(d, q)
            out[k] = (float(lo), float(hi))
    return out


def _loss_interval(model: _Model, P: np.ndarray, N: float, D: float, un: np.ndarray | None, level: float) -> dict[str, tuple[float, float]]:
    if len(P) < 3:
        return {}
    S = len(P)
    pred = model.loss(P, np.full((S, 1), N), np.full((S, 1), D), un)[1:, 0]
    pred = pred[np.isfinite(pred)]
    if len(pred) < 2:
        return {}
    lo, hi = np.percentile(pred, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return {"loss": (float(lo), float(hi))}


__all__ = ["R_D_STAR", "R_N_STAR", "effective_params", "effective_tokens"]
