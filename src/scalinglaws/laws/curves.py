"""Laws of one scale variable ``x``: power law with a floor, and the M1–M4 estimators.

M1–M4 are the four estimators compared by Alabdulmohsin, Neyshabur and Zhai (2022),
"Revisiting Neural Scaling Laws in Language and Vision" (NeurIPS 2022); their signs
follow the paper (``c < 0`` in M1, M2 and M4; ``c >= 0`` in M3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law, function_law


def expit(t: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-t))`` with full relative precision at both
    ends (as ``scipy.special.expit``, without importing scipy.special for it)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(t, dtype=float)))

_A_GRID = (1e-2, 1.0, 1e2, 1e4)


def _floor_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Floors start below the smallest observed value: 0, half of it, 90 % of it."""
    ymin = float(np.min(y))
    floors = (0.0, 0.5 * ymin, 0.9 * ymin) if ymin > 0 else (0.0,)
    return {"E": floors, "eps_inf": floors}


def power() -> Law:
    """A power law plus a constant: the saturating law of Hestness et al. (2017)."""
    return formula_law(
        "E + A * x**(-alpha)",
        name="power",
        params=[
            Param("E", 0.0, math.inf, grid=(0.0,), doc="limit as x grows (irreducible loss)"),
            Param("A", 0.0, math.inf, log=True, grid=_A_GRID, doc="scale"),
            Param("alpha", 0.0, 10.0, grid=(0.1, 0.3, 0.7), doc="exponent"),
        ],
        source="Hestness et al. 2017, Deep Learning Scaling is Predictable, Empirically (arXiv 1712.00409); "
        "M2 of Alabdulmohsin et al. 2022",
        description="loss against one scale variable x (map any column to x)",
        grid_fn=_floor_grid,
    )


def m1() -> Law:
    """M1: a pure power law, err = beta * x**c."""
    return formula_law(
        "beta * x**c",
        name="m1",
        params=[
            Param("beta", 0.0, math.inf, log=True, grid=_A_GRID, doc="scale"),
            Param("c", -10.0, 0.0, grid=(-0.1, -0.3, -0.7), doc="exponent (negative)"),
        ],
        source="Alabdulmohsin, Neyshabur, Zhai 2022, Revisiting Neural Scaling Laws in Language and Vision, M1",
        description="pure power law, no floor",
    )


def m2() -> Law:
    """M2: power law plus limiting error, err = beta * x**c + eps_inf."""
    return formula_law(
        "beta * x**c + eps_inf",
        name="m2",
        params=[
            Param("beta", 0.0, math.inf, log=True, grid=_A_GRID, doc="scale"),
            Param("c", -10.0, 0.0, grid=(-0.1, -0.3, -0.7), doc="exponent (negative)"),
            Param("eps_inf", 0.0, math.inf, grid=(0.0,), doc="limiting error"),
        ],
        source="Alabdulmohsin, Neyshabur, Zhai 2022, M2 (after Hestness et al. 2017)",
        description="power law plus limiting error",
        grid_fn=_floor_grid,
    )


def m3() -> Law:
    """M3: err = beta * (1/x + gamma)**c with c >= 0; the floor is beta * gamma**c."""
    return formula_law(
        "beta * (1 / x + gamma)**c",
        name="m3",
        params=[
            Param("beta", 0.0, math.inf, log=True, grid=_A_GRID, doc="scale"),
            Param("gamma", 0.0, math.inf, grid=(0.0, 1e-6, 1e-3), doc="sets the floor beta*gamma**c"),
            Param("c", 0.0, 10.0, grid=(0.1, 0.3, 0.7), doc="exponent"),
        ],
        source="Alabdulmohsin, Neyshabur, Zhai 2022, M3",
        description="power law that saturates at beta * gamma**c",
    )


#: Newton iterations of the M4 solve: at most this many (about 3 to 8 are used), stopping
#: when no point's u = expit(t) moves by more than ``_NEWTON_TOL`` relative to itself.
_NEWTON_MAX = 60
_NEWTON_TOL = 1e-14


def _m4_logit(x: Any, eps_inf: Any, eps_0: Any, alpha: Any, beta: Any, c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, span, eps_inf)``, with ``u = expit(t)`` the solution of the M4 equation in
    :func:`m4_error` and ``span = eps_0 - eps_inf``, all broadcast.

    In the logit ``t`` of ``u`` the equation is ``g(t) = alpha*softplus(t) - softplus(-t) - rhs
    = 0``. ``g`` increases (``g' = (1 - u) + alpha*u > 0``) and ``g'' = (alpha - 1) u (1 - u)``
    has one sign for a given ``alpha``: convex or concave. Newton's method converges
    monotonically (no overshoot, no bracketing) from a start above the root when ``g`` is
    convex and below it when concave. ``t0 = rhs / alpha`` when ``rhs > 0`` and ``alpha > 0``,
    else ``t0 = rhs``, is such a start: for ``t > 0`` the equation reads ``alpha t + (alpha - 1)
    softplus(-t) = rhs`` and for ``t < 0`` it reads ``t + (alpha - 1) softplus(t) = rhs``, so
    the root lies below ``t0`` when ``alpha >= 1`` and above it when ``alpha <= 1``. Each
    iteration costs one ``exp`` and one ``log1p`` (``e = exp(-|t|)`` gives both softplus and
    both logistic values).
    """
    x, eps_inf, eps_0, alpha, beta, c = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (x, eps_inf, eps_0, alpha, beta, c))
    )
    span = eps_0 - eps_inf
    with np.errstate(all="ignore"):
        rhs = np.log(beta) + c * np.log(x) + (alpha - 1.0) * np.log(span)
        finite = np.isfinite(rhs)
        t = np.where(finite, np.where((rhs > 0) & (alpha > 0), rhs / np.where(alpha > 0, alpha, 1.0), rhs), 0.0)
        am1 = alpha - 1.0
        for _ in range(_NEWTON_MAX):
            e = np.exp(-np.abs(t))
            pos = t >= 0
            r = 1.0 / (1.0 + e)
            u = np.where(pos, r, e * r)  # expit(t)
            v = np.where(pos, e * r, r)  # expit(-t)
            g = am1 * (np.maximum(t, 0.0) + np.log1p(e)) + t - rhs  # softplus(-t) = softplus(t) - t
            step = g / (v + alpha * u)
            step = np.where(np.isfinite(step), step, 0.0)  # alpha = 0, u = 1: no root, t stays large
            t = t - step
            if not np.any(np.abs(step) * v > _NEWTON_TOL):
                break
        # an infinite right side means u = 0 or 1; NaN (x or beta not positive) stays NaN
        t = np.where(np.isinf(rhs), rhs, np.where(np.isnan(rhs), np.nan, t))
    return t, span, eps_inf


def m4_error(x: Any, eps_inf: Any, eps_0: Any, alpha: Any, beta: Any, c: Any) -> Any:
    """Solve (err - eps_inf) / (eps_0 - err)**alpha = beta * x**c for err, elementwise.

    With ``u = (err - eps_inf) / (eps_0 - eps_inf)`` in (0, 1) the equation reads
    ``log u - alpha*log(1 - u) = log(beta * x**c) + (alpha - 1) * log(eps_0 - eps_inf)``,
    whose left side increases with u: solved by Newton's method on the logit of u, all
    points at once (see :func:`_m4_logit`); NaN where ``eps_0 <= eps_inf`` or ``x`` or
    ``beta`` is not positive.
    """
    t, span, eps_inf = _m4_logit(x, eps_inf, eps_0, alpha, beta, c)
    with np.errstate(all="ignore"):
        out = eps_inf + expit(t) * span
    return np.where(span > 0, out, np.nan)


def m4() -> Law:
    """M4: (err - eps_inf) / (eps_0 - err)**alpha = beta * x**c, solved for err."""

    def m4_law(x: Any, eps_inf: Any, eps_0: Any, alpha: Any, beta: Any, c: Any) -> Any:
        return m4_error(x, eps_inf, eps_0, alpha, beta, c)

    def grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        ymax = float(np.max(y))
        out = _floor_grid(variables, y)
        out["eps_0"] = (max(1.0, ymax * 1.05), ymax * 1.5) if ymax > 0 else (1.0,)
        return out

    def value_and_grad(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        # implicit differentiation of F(err) = log(err - eps_inf) - alpha*log(eps_0 - err) - log(beta) - c*log(x);
        # err - eps_inf and eps_0 - err come from the logit (no cancellation when err is near either end)
        x = np.asarray(X["x"], dtype=float)
        e_inf, e0, alpha, beta, c = (np.asarray(P[k], dtype=float) for k in ("eps_inf", "eps_0", "alpha", "beta", "c"))
        t, span, e_inf_b = _m4_logit(x, e_inf, e0, alpha, beta, c)
        with np.errstate(all="ignore"):
            above, below = expit(t) * span, expit(-t) * span
            err = np.where(span > 0, e_inf_b + above, np.nan)
            f_err = 1.0 / above + alpha / below
            partials = [-1.0 / above, -alpha / below, -np.log(below), -1.0 / beta, -np.log(x)]
            grads = [-p / f_err for p in partials]
        return err, grads

    law = function_law(
        m4_law,
        name="m4",
        params=[
            Param("eps_inf", 0.0, math.inf, grid=(0.0,), doc="limiting error"),
            Param("eps_0", 0.0, math.inf, grid=(1.0,), doc="error of a random guess (start of the curve)"),
            Param("alpha", 0.0, 10.0, grid=(0.0, 0.5, 1.0), doc="bend of the curve; 0 gives M2"),
            Param("beta", 0.0, math.inf, log=True, grid=_A_GRID, doc="scale"),
            Param("c", -10.0, 0.0, grid=(-0.2, -0.5), doc="exponent (negative)"),
        ],
        source="Alabdulmohsin, Neyshabur, Zhai 2022, Revisiting Neural Scaling Laws in Language and Vision, M4",
        description="sigmoid-like learning curve between eps_0 and eps_inf",
        grid_fn=grid,
    )
    return replace(law, value_and_grad=value_and_grad)
