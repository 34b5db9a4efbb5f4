"""Default bounds and starts for a formula law, read from the formula and the data.

A law written as a string names its parameters but says nothing of their sign or size.
Rather than start every parameter at 1.0, this module reads the role of each parameter
from the structure of the parsed (SymPy) expression and derives bounds and a start grid
from the data the law is fitted to:

==============  ==========================================  ===================  ==========================
role            where it appears                            bounds               starts
==============  ==========================================  ===================  ==========================
``floor``       a lone additive parameter, every other      ``[0, inf)``         fractions of ``min(y)``
                top-level term a decreasing power term
``exponent``    ``x**-alpha``, ``1/x**alpha``,              ``[0, 2]``           0.05 ... 1.2
                ``(N_c/x)**alpha``, ``(x/N_c)**-alpha``
``coefficient`` a factor of a decreasing power term         ``[0, inf)``, log    log-spaced around
                (``A`` in ``A / x**alpha``)                                      ``(y - floor) * x**alpha``
``scale``       ``N_c`` in ``(N_c/x)**alpha``               ``[0, inf)``, log    log-spaced around
                                                                                 ``x * (y - floor)**(1/alpha)``
``location``    ``x0`` in ``log(x) - x0`` (a parameter      unbounded            quantiles of ``log(x)``
                added to an expression of variables)
``offset``      a lone additive parameter beside other      unbounded            quantiles of ``y``
                terms (an intercept)
``amplitude``   the lone parameter factor of another        unbounded            ``+-`` the spread of ``y``
                additive term
``other``       anything else                               unbounded            ``-1, -0.1, 0.1, 1``
==============  ==========================================  ===================  ==========================

"Decreasing power term" means a product of parameters and powers of variables with a
negative parameter exponent, the form of every term of the Chinchilla, Kaplan and
Henighan laws. The grid is the Cartesian product of the per-parameter starts; the
engine races them in one batched solve, so a few thousand starts cost little.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.laws import formula as _formula

#: Starts of the exponent of a decreasing power term.
EXPONENT_GRID = (0.05, 0.15, 0.3, 0.5, 0.8, 1.2)
EXPONENT_BOUNDS = (0.0, 2.0)
#: Starts of a floor, as fractions of the smallest observed value.
FLOOR_FRACTIONS = (0.0, 0.5, 0.8, 0.9, 0.97)
#: Log-spaced starts of a coefficient or scale, at most this many per parameter.
SCALE_POINTS = 8
OTHER_GRID = (-1.0, -0.1, 0.1, 1.0)
ROLES = ("floor", "exponent", "coefficient", "scale", "location", "offset", "amplitude", "other")


@dataclass(frozen=True)
class Role:
    """What one parameter does in a formula, and the bounds that follow from it."""

    name: str
    kind: str
    lower: float = -math.inf
    upper: float = math.inf
    log: bool = False

    @property
    def doc(self) -> str:
        return f"{self.kind} (bounds and starts derived from the formula)"


@dataclass(frozen=True)
class _PowerTerm:
    """One decreasing power term: ``coefficients * prod(base_v ** -exponent_v)``."""

    coefficients: tuple[str, ...]
    scale: str | None  # N_c of (N_c / x)**alpha
    powers: tuple[tuple[Any, str], ...]  # (variable-only base expression, exponent parameter)


def _neg_param(expo: Any, params: set[str]) -> str | None:
    """``alpha`` if ``expo`` is ``-alpha``, else None."""
    if expo.is_Mul and len(expo.args) == 2 and expo.args[0] == -1 and expo.args[1].is_Symbol:
        name = expo.args[1].name
        return name if name in params else None
    return None


def _scale_base(base: Any, params: set[str], sign: int) -> tuple[str, Any] | None:
    """``(N_c, x)`` if ``base`` is ``N_c / x`` (sign +1) or ``x / N_c`` (sign -1)."""
    if not base.is_Mul:
        return None
    scale, rest = None, []
    for f in base.args:
        if f.is_Symbol and f.name in params and sign == 1:
            scale = f.name if scale is None else "<two>"
        elif f.is_Pow and f.args[0].is_Symbol and f.args[0].name in params and f.args[1] == -1 and sign == -1:
            scale = f.args[0].name if scale is None else "<two>"
        else:
            rest.append(f)
    if scale is None or scale == "<two>" or not rest:
        return None
    var = base.func(*rest) if len(rest) > 1 else rest[0]
    if var.free_symbols & {_sym(p) for p in params}:
        return None
    # N_c / x is N_c * x**-1: the variable part must be the reciprocal (or x itself for x / N_c)
    inner = 1 / var if sign == 1 else var
    return scale, inner


def _sym(name: str) -> Any:
    return _formula._sympy().Symbol(name, real=True)


def _power_term(term: Any, params: set[str]) -> _PowerTerm | None:
    coefs: list[str] = []
    powers: list[tuple[Any, str]] = []
    scale = None
    psyms = {_sym(p) for p in params}
    for f in _formula._sympy().Mul.make_args(term):
        if f.is_Number:
            continue
        if f.is_Symbol and f.name in params:
            coefs.append(f.name)
            continue
        if not f.is_Pow:
            return None
        base, expo = f.args
        alpha = _neg_param(expo, params)
        if alpha is not None and not (base.free_symbols & psyms):
            powers.append((base, alpha))
            continue
        sign = 1 if expo.is_Symbol and expo.name in params else (-1 if alpha is not None else 0)
        name = expo.name if sign == 1 else alpha
        found = _scale_base(base, params, sign) if sign else None
        if found is None or scale is not None:
            return None
        scale, inner = found
        powers.append((inner, str(name)))
    if not powers:
        return None
    return _PowerTerm(tuple(coefs), scale, tuple(powers))


def analyse(formula: str, variables: Sequence[str], params: Sequence[str]) -> tuple[dict[str, Role], list[_PowerTerm], dict[str, tuple[Any, float]]]:
    """The role of each parameter of ``formula``; also its power terms and locations.

    Examples
    --------
    >>> roles, _, _ = analyse("E + A / n_params**alpha", ["n_params"], ["E", "A", "alpha"])
    >>> [roles[p].kind for p in ("E", "A", "alpha")]
    ['floor', 'coefficient', 'exponent']
    """
    sp = _formula._sympy()
    expr = _formula.parse(formula)
    pset = set(params)
    terms = sp.Add.make_args(expr)
    roles: dict[str, Role] = {}
    power_terms: list[_PowerTerm] = []
    lone: list[str] = []
    others: list[Any] = []
    for t in terms:
        if t.is_Symbol and t.name in pset:
            lone.append(t.name)
            continue
        pt = _power_term(t, pset)
        if pt is None:
            others.append(t)
        else:
            power_terms.append(pt)
    used_elsewhere = {s.name for t in terms for s in t.free_symbols if not (t.is_Symbol)}
    for pt in power_terms:
        for _, alpha in pt.powers:
            roles.setdefault(alpha, Role(alpha, "exponent", *EXPONENT_BOUNDS))
        for c in pt.coefficients:
            roles.setdefault(c, Role(c, "coefficient", 0.0, math.inf, log=True))
        if pt.scale:
            roles.setdefault(pt.scale, Role(pt.scale, "scale", 0.0, math.inf, log=True))
    for name in lone:
        if name in roles or name in used_elsewhere:
            continue
        kind = "floor" if power_terms and not others and len(lone) == 1 else "offset"
        roles[name] = Role(name, kind, 0.0 if kind == "floor" else -math.inf)
    locations: dict[str, tuple[Any, float]] = {}
    for t in others:
        for f in sp.Mul.make_args(t):
            if f.is_Symbol and f.name in pset and f.name not in roles and _count(expr, f) == 1:
                roles[f.name] = Role(f.name, "amplitude")
        for node in sp.preorder_traversal(t):
            if node.is_Add:
                found = _location(node, pset)
                if found and found[0] not in roles:
                    name, rest, coef = found
                    roles[name] = Role(name, "location")
                    locations[name] = (rest, coef)
    for p in params:
        roles.setdefault(p, Role(p, "other"))
    # a coefficient or exponent that also appears in an unrecognised term is not what it seems
    for t in others:
        for s in t.free_symbols:
            if s.name in roles and roles[s.name].kind in ("coefficient", "exponent", "scale"):
                roles[s.name] = Role(s.name, "other")
    return roles, power_terms, locations


def _count(expr: Any, sym: Any) -> int:
    return sum(1 for node in _formula._sympy().preorder_traversal(expr) if node == sym)


def _location(node: Any, params: set[str]) -> tuple[str, Any, float] | None:
    """``(x0, rest, c)`` if ``node`` is ``rest + c * x0`` with ``rest`` free of parameters."""
    psyms = {_sym(p) for p in params}
    hits, rest = [], []
    for a in node.args:
        coef, sym = a.as_coeff_Mul()
        if sym.is_Symbol and sym.name in params and coef.is_Number:
            hits.append((sym.name, float(coef)))
        else:
            rest.append(a)
    if len(hits) != 1 or not rest:
        return None
    rest_expr = node.func(*rest) if len(rest) > 1 else rest[0]
    if rest_expr.free_symbols & psyms or not rest_expr.free_symbols:
        return None
    return hits[0][0], rest_expr, hits[0][1]


def _values(expr: Any, variables: Mapping[str, Any]) -> np.ndarray:
    """An expression of variables only, evaluated at every run."""
    sp = _formula._sympy()
    names = sorted(s.name for s in expr.free_symbols)
    fn = sp.lambdify([_sym(n) for n in names], expr, modules="numpy")
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*(np.asarray(variables[n], dtype=float) for n in names)), dtype=float)
    out = np.broadcast_to(out, np.shape(next(iter(variables.values())))) if out.ndim == 0 else out
    return out[np.isfinite(out)]


def _log_span(values: Sequence[float]) -> tuple[float, ...]:
    """At most SCALE_POINTS log-spaced values covering ``values`` (positive, finite)."""
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], dtype=float)
    if v.size == 0:
        return (1.0,)
    lo, hi = float(np.log10(v.min())), float(np.log10(v.max()))
    lo, hi = max(lo, -250.0), min(hi, 250.0)
    n = int(min(SCALE_POINTS, max(2, math.ceil(hi - lo) + 1)))
    return tuple(float(x) for x in np.logspace(lo, hi, n)) if hi > lo else (10.0**lo,)


def make_grid_fn(formula: str, variables: Sequence[str], params: Sequence[str]) -> Any:
    """``grid_fn(variables, y)`` giving data-derived starts for the given ``params``.

    The grid for coefficients and scales spans every value implied by the floor and
    exponent starts, so whichever exponent the data want, one start lies near it.
    """
    roles, power_terms, locations = analyse(formula, variables, params)
    wanted = set(params)

    def grid_fn(X: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        yv = np.asarray(y, dtype=float)
        yv = yv[np.isfinite(yv)]
        if yv.size == 0:
            return {}
        y_min, y_med = float(yv.min()), float(np.median(yv))
        spread = float(np.ptp(yv)) or abs(y_med) or 1.0
        floor_name = next((r.name for r in roles.values() if r.kind == "floor"), None)
        floors = [f * y_min for f in FLOOR_FRACTIONS] if (floor_name and y_min > 0) else [0.0]
        gaps = [max(y_med - f, 1e-3 * max(abs(y_med), 1e-12)) for f in floors]
        out: dict[str, tuple[float, ...]] = {}
        n_terms = max(1, len(power_terms))
        for pt in power_terms:
            med = {alpha: float(np.median(v)) for base, alpha in pt.powers if (v := _values(base, X)).size}
            if len(med) != len(pt.powers) or any(m <= 0 for m in med.values()):
                continue
            combos = list(itertools.product(EXPONENT_GRID, repeat=len(pt.powers)))[:4096]
            implied = []
            for gap in gaps:
                for exps in combos:
                    share = gap / n_terms
                    if pt.scale:
                        # (N_c / x)**alpha = share  ->  N_c = x * share**(1/alpha)
                        implied.append(med[pt.powers[0][1]] * share ** (1.0 / exps[0]))
                    else:
                        implied.append(share * math.prod(med[a] ** e for (_, a), e in zip(pt.powers, exps)))
            grid = _log_span(implied)
            targets = [pt.scale] if pt.scale else list(pt.coefficients[:1])
            for name in targets:
                if name in wanted:
                    out[name] = grid
            for name in pt.coefficients[1:] if not pt.scale else pt.coefficients:
                if name in wanted:
                    out.setdefault(name, (1.0,))
        for name, role in roles.items():
            if name not in wanted or name in out:
                continue
            if role.kind == "floor":
                out[name] = tuple(floors)
            elif role.kind == "exponent":
                out[name] = EXPONENT_GRID
            elif role.kind == "offset":
                out[name] = tuple(float(q) for q in np.quantile(yv, (0.0, 0.5, 1.0)))
            elif role.kind == "amplitude":
                out[name] = tuple(s * spread for s in (-1.0, -0.3, 0.3, 1.0))
            elif role.kind == "location":
                rest, coef = locations[name]
                v = _values(rest, X)
                if v.size:
                    out[name] = tuple(float(-q / coef) for q in np.quantile(v, (0.1, 0.5, 0.9)))
            elif role.kind == "other":
                out[name] = OTHER_GRID
        return out

    return grid_fn


def default_params(formula: str, variables: Sequence[str], params: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Bounds and a fallback start for each of ``params`` from its role in ``formula``.

    The fallback start is used when no data are given; with data, :func:`make_grid_fn`'s
    starts replace it.

    Examples
    --------
    >>> default_params("E + A / n_params**alpha", ["n_params"], ["E", "A", "alpha"])["alpha"]["upper"]
    2.0
    """
    roles, _, _ = analyse(formula, variables, params)
    fallback = {"exponent": (0.3,), "coefficient": (1.0,), "scale": (1.0,), "floor": (0.0,)}
    out: dict[str, dict[str, Any]] = {}
    for name in params:
        r = roles[name]
        out[name] = {
            "lower": r.lower,
            "upper": r.upper,
            "log": r.log,
            "grid": fallback.get(r.kind, (1.0,)),
            "doc": r.doc,
        }
    return out
