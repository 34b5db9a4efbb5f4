"""What a law is: named variables, parameters with bounds and starts, and one function.

A :class:`Law` is data plus one vectorised function ``function(variables, params)``.
``variables`` maps each variable name to an array (the runs' columns); ``params`` maps
each parameter name to an array. Inputs broadcast by numpy's rules, so the fitting
engine passes parameters of shape ``(n_starts, 1)`` and variables of shape
``(n_runs,)`` and gets ``(n_starts, n_runs)`` back, while a user passes scalars.

Laws written as formula strings also carry their exact symbolic Jacobian
(``value_and_grad``); laws given as Python functions are differentiated numerically by
the engine. The engine never looks at a law's name.

The :class:`Law` class itself (with the type aliases of its functions) lives in
:mod:`scalinglaws.laws.base`, together with the laws derived from one; it is importable
from here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scalinglaws.errors import LawError
from scalinglaws.laws import formula as _formula
from scalinglaws.laws import starts as _starts

# re-exported: importable from here as before (plan.data_mix imported _slug from here)
from scalinglaws.laws.base import (  # noqa: F401
    Function,
    GridFunction,
    Law,
    Optimum,
    ValueAndGrad,
    _slug,
)
from scalinglaws.laws.params import Param
from scalinglaws.laws.variables import VOCABULARY, Variable, declare

__all__ = ["Law", "Optimum", "Param", "Variable", "formula_law", "function_law"]


# --------------------------------------------------------------------------- builders


def _known(variables: Sequence[str | Variable] | None, columns: Sequence[str]) -> dict[str, Variable]:
    """The names that are data, with their declarations.

    Explicit ``variables`` (names or :class:`Variable` s) are the only ones; otherwise
    the vocabulary's names and the runs' ``columns`` are.
    """
    if variables is not None:
        if isinstance(variables, str):
            variables = [variables]
        return {v.name: v for v in declare(variables)}
    return {**{c: Variable(c) for c in columns}, **VOCABULARY}


def formula_law(
    formula: str,
    *,
    name: str | None = None,
    params: Sequence[Param] | Mapping[str, Mapping[str, Any]] | None = None,
    variables: Sequence[str | Variable] | None = None,
    columns: Sequence[str] = (),
    source: str = "",
    description: str = "",
    grid_fn: GridFunction | None = None,
    target: str = "loss",
    optimum: Optimum | None = None,
) -> Law:
    """A law from a formula string, parsed safely and differentiated symbolically.

    Names in ``variables`` (names or :class:`Variable` declarations) are variables and
    every other name is a parameter. Without ``variables``, the names of the standard
    vocabulary (``n_params``, ``n_tokens``, ``flops``, ``x``, ...; see
    :data:`~scalinglaws.laws.variables.VOCABULARY`) and of ``columns`` (a runs table's
    columns, as :func:`scalinglaws.fit` passes them) are variables. Parameters not
    described in ``params`` get bounds and data-derived starts from their role in the
    formula (floor, coefficient, exponent, ...; see :mod:`scalinglaws.laws.starts`).
    ``e`` and ``pi`` are refused: write ``exp(1)`` or the number, or give the parameter
    another name.

    Examples
    --------
    >>> law = formula_law("E + A / n_params**alpha")
    >>> law.variables, law.param_names
    (('n_params',), ('E', 'A', 'alpha'))
    """
    known = _known(variables, columns)
    _refuse_constant_names(formula)
    var, par = _formula.split_names(formula, tuple(known))
    if not var:
        raise LawError(
            f"formula {formula!r} has no variable: name one of {sorted(VOCABULARY)} "
            "(or a column of the runs), or pass variables=[...]"
        )
    if not par:
        raise LawError(f"formula {formula!r} has no parameter to fit")
    given: dict[str, Param] = {}
    if params is not None:
        items = params.items() if isinstance(params, Mapping) else ((p.name, p) for p in params)
        for key, spec in items:
            given[key] = spec if isinstance(spec, Param) else Param(name=key, **dict(spec))
    extra = set(given) - set(par)
    if extra:
        raise LawError(f"parameters {sorted(extra)} are described but do not appear in {formula!r}")
    par = tuple([p for p in given if p in par] + [p for p in par if p not in given])
    defaults, grid_fn = _derived_defaults(formula, var, [p for p in par if p not in given], grid_fn)
    plist = tuple(given.get(p) or defaults[p] for p in par)
    compiled = _formula.compile_formula(formula, var, tuple(p.name for p in plist))
    return Law(
        name=name or formula,
        variables=var,
        params=plist,
        function=compiled.evaluate,
        formula=formula,
        source=source,
        description=description,
        value_and_grad=compiled.value_and_grad,
        spec={"formula": formula, "variables": list(var), "name": name or formula},
        grid_fn=grid_fn,
        target=target,
        variable_info=tuple(known[v] for v in var),
        optimum=optimum,
    )


# ------------------------------------------- derived defaults of formula laws (laws/starts.py)


def _refuse_constant_names(formula: str) -> None:
    """``e`` and ``pi`` read as constants would silently fix what a user meant as a parameter."""
    import ast

    try:
        tree = ast.parse(formula.strip(), mode="eval") if isinstance(formula, str) else None
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return  # the parser gives the one-line error
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name) and node.id in ("e", "pi"):
            what = "exp(1)" if node.id == "e" else "3.141592653589793"
            raise LawError(
                f"formula {formula!r} uses the name {node.id!r}, which is ambiguous: write {what} for the "
                f"constant, or give the parameter another name (e.g. {node.id}_0)"
            )


def _derived_defaults(
    formula: str, var: tuple[str, ...], names: Sequence[str], grid_fn: GridFunction | None
) -> tuple[dict[str, Param], GridFunction | None]:
    """Params with bounds from their role, and a grid function giving data-derived starts
    (the caller's ``grid_fn`` wins for the parameters it covers)."""
    if not names:
        return {}, grid_fn
    par = _formula.split_names(formula, var)[1]
    specs = _starts.default_params(formula, var, par)
    derived = _starts.make_grid_fn(formula, var, names)
    if grid_fn is None:
        combined: GridFunction = derived
    else:
        user = grid_fn

        def combined(variables: Mapping[str, Any], y: Any) -> Mapping[str, Sequence[float]]:
            return {**derived(variables, y), **user(variables, y)}

    return {n: Param(name=n, **specs[n]) for n in names}, combined


def function_law(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    params: Sequence[Param] | None = None,
    variables: Sequence[str | Variable] | None = None,
    columns: Sequence[str] = (),
    source: str = "",
    description: str = "",
    grid_fn: GridFunction | None = None,
    target: str = "loss",
) -> Law:
    """A law from a Python function ``fn(n_params, ..., alpha, ...)``.

    Argument names that are variables (as in :func:`formula_law`: ``variables``, or
    the vocabulary and ``columns``) are variables, the rest are parameters (in
    signature order). The function must work on numpy arrays with broadcasting.
    It is differentiated numerically by the engine.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as err:
        raise LawError(f"cannot read the arguments of {fn!r}: {err}") from None
    names = [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    known = _known(variables, columns)
    var = tuple(n for n in names if n in known)
    par = tuple(n for n in names if n not in known)
    if not var:
        raise LawError(
            f"function {getattr(fn, '__name__', fn)!r} takes no variable: name an argument one of "
            f"{sorted(VOCABULARY)} (or a column of the runs), or pass variables=[...]"
        )
    if not par:
        raise LawError(f"function {getattr(fn, '__name__', fn)!r} has no parameter to fit")
    given = {p.name: p for p in (params or ())}
    plist = tuple(given.get(p, Param(name=p, grid=(1.0,))) for p in par)

    def function(X: Mapping[str, Any], P: Mapping[str, Any]) -> Any:
        return fn(**X, **P)

    label = str(name or getattr(fn, "__name__", "custom"))
    return Law(
        name=label,
        variables=var,
        params=plist,
        function=function,
        formula="",
        source=source,
        description=description or (inspect.getdoc(fn) or "").split("\n")[0],
        spec={"function": label},
        grid_fn=grid_fn,
        target=target,
        variable_info=tuple(known[v] for v in var),
    )
