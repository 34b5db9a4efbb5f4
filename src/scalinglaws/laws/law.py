"""What a law is: named variables, parameters with bounds and starts, and one function.

A :class:`Law` is data plus one vectorised function ``function(variables, params)``.
``variables`` maps each variable name to an array (the runs' columns); ``params`` maps
each parameter name to an array. Inputs broadcast by numpy's rules, so the fitting
engine passes parameters of shape ``(n_starts, 1)`` and variables of shape
``(n_runs,)`` and gets ``(n_starts, n_runs)`` back, while a user passes scalars.

Laws written as formula strings also carry their exact symbolic Jacobian
(``value_and_grad``); laws given as Python functions are differentiated numerically by
the engine. The engine never looks at a law's name.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.laws import starts as _starts
from scalinglaws.errors import LawError
from scalinglaws.laws import formula as _formula
from scalinglaws.laws.derived import _slug as _slug  # re-exported: plan.data_mix imported it from here
from scalinglaws.laws.derived import fixed_law, grouped_law
from scalinglaws.laws.params import Param, default_start, describe_param
from scalinglaws.laws.variables import VOCABULARY, Variable, declare

Function = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
ValueAndGrad = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[Any, list[Any]]]
#: ``grid_fn(variables, y)`` returns start values for some parameters, chosen from the data.
GridFunction = Callable[[Mapping[str, Any], Any], Mapping[str, Sequence[float]]]
#: ``optimum(params, flops)``: the loss-minimising model size under ``flops = 6 N D``,
#: for parameter arrays of shape (S,) and budgets of shape (S,); a law's closed form.
Optimum = Callable[[Mapping[str, Any], Any], Any]

__all__ = ["Law", "Optimum", "Param", "Variable", "formula_law", "function_law"]


@dataclass(frozen=True)
class Law:
    """A scaling law: variables, parameters and one vectorised function.

    ``variables`` names the variables in order; ``variable_info`` declares each one
    (unit, whether it must be positive, how to derive it), filled from the vocabulary
    (:data:`~scalinglaws.laws.variables.VOCABULARY`) for names the law does not declare
    itself. ``optimum`` is the law's closed-form compute-optimal model size, when it has
    one (see :data:`Optimum`); the planner uses it instead of solving numerically.

    Examples
    --------
    >>> law = formula_law("E + A * x**-alpha", name="power")
    >>> law.variables, law.param_names
    (('x',), ('E', 'A', 'alpha'))
    >>> float(law({"E": 1.0, "A": 2.0, "alpha": 1.0}, x=4.0))
    1.5
    """

    name: str
    variables: tuple[str, ...]
    params: tuple[Param, ...]
    function: Function
    formula: str = ""
    source: str = ""
    description: str = ""
    value_and_grad: ValueAndGrad | None = field(default=None, repr=False, compare=False)
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    categorical: tuple[str, ...] = ()
    grid_fn: GridFunction | None = field(default=None, repr=False, compare=False)
    start_map: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    target: str = "loss"
    variable_info: tuple[Variable, ...] = field(default=(), repr=False, compare=False)
    optimum: Optimum | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = {v.name: v for v in declare(self.variable_info)}
        extra = sorted(set(given) - set(self.variables))
        if extra:
            raise LawError(f"law {self.name!r} declares {extra}, which are not among its variables {list(self.variables)}")
        object.__setattr__(self, "variable_info", declare(given.get(n, n) for n in self.variables))

    def variable(self, name: str) -> Variable:
        """The declaration of one variable."""
        for v in self.variable_info:
            if v.name == name:
                return v
        raise LawError(f"law {self.name!r} has no variable {name!r}; its variables are {list(self.variables)}")

    @property
    def positive_variables(self) -> tuple[str, ...]:
        """The variables whose values must be > 0."""
        return tuple(v.name for v in self.variable_info if v.positive)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise LawError(f"law {self.name!r} has no parameter {name!r}; it has {list(self.param_names)}")

    def __call__(self, params: Mapping[str, Any], /, **variables: Any) -> np.ndarray:
        """Evaluate the law at ``params`` (a dict) on the given variables."""
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise LawError(f"law {self.name!r} needs the variables {list(self.variables)}; missing {missing}")
        unknown = [v for v in variables if v not in self.variables]
        if unknown:
            raise LawError(f"law {self.name!r} has no variable {unknown[0]!r}; its variables are {list(self.variables)}")
        missing_p = [p for p in self.param_names if p not in params]
        if missing_p:
            raise LawError(f"law {self.name!r}: missing parameters {missing_p}")
        X = {k: (np.asarray(v) if k in self.categorical else np.asarray(v, dtype=float)) for k, v in variables.items()}
        P = {k: np.asarray(params[k], dtype=float) for k in self.param_names}
        with np.errstate(all="ignore"):
            return np.asarray(self.function(X, P), dtype=float)

    def start_grid(self, variables: Mapping[str, Any] | None = None, y: Any = None) -> np.ndarray:
        """The default starts, shape (n_starts, n_params), natural units.

        The Cartesian product of each parameter's grid. Grids the law computes from
        the data (``grid_fn``) replace the fixed ones when ``variables`` and ``y`` are
        given. Parameters that copy another's grid (``start_map``: the per-group
        copies of a grouped law) start equal to it instead of multiplying the grid.
        """
        dynamic = dict(self.grid_fn(variables, y)) if (self.grid_fn and variables is not None) else {}
        sources = [self.start_map.get(p.name, p.name) for p in self.params]
        axes: dict[str, tuple[float, ...]] = {}
        for p, src in zip(self.params, sources):
            if src not in axes:
                values = dynamic.get(src) or p.grid or (default_start(p),)
                lo, hi = p.lower, p.upper
                clipped = tuple(sorted({min(max(float(v), lo), hi) for v in values}))
                if p.log:
                    clipped = tuple(v for v in clipped if v > 0) or (default_start(p),)
                axes[src] = clipped
        names = list(axes)
        combos = np.array(list(itertools.product(*(axes[n] for n in names))), dtype=float)
        col = {n: i for i, n in enumerate(names)}
        return combos[:, [col[s] for s in sources]].reshape(-1, len(self.params))

    def describe(self) -> str:
        lines = [f"{self.name}: {self.formula or '(Python function)'}"]
        if self.description:
            lines.append(f"  {self.description}")
        shown = [f"{v.name} ({v.unit})" if v.unit else v.name for v in self.variable_info]
        lines.append(f"  variables: {', '.join(shown)}; predicts: {self.target}")
        lines.append("  parameters: " + ", ".join(describe_param(p) for p in self.params))
        if self.source:
            lines.append(f"  source: {self.source}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- derived laws

    def with_fixed(self, fixed: Mapping[str, float]) -> Law:
        """The same law with some parameters pinned to constants (:func:`scalinglaws.laws.derived.fixed_law`)."""
        return fixed_law(self, fixed)

    def grouped(self, column: str, groups: Sequence[Any], shared: Iterable[str]) -> Law:
        """One law per group of runs, with the ``shared`` parameters common to all groups.

        The grouped law has a categorical variable ``column`` and parameters
        ``"A_g"`` for each unshared ``A`` and group ``g`` (the label made a name: other
        characters become ``_``). Built by :func:`scalinglaws.laws.derived.grouped_law`.
        """
        return grouped_law(self, column, groups, shared)


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
