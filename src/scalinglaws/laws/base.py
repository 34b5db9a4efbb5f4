"""The :class:`Law` value, and the laws derived from one (some parameters pinned, or
parameters per group of runs).

A :class:`Law` is data plus one vectorised function; :meth:`Law.with_fixed` and
:meth:`Law.grouped` call :func:`fixed_law` and :func:`grouped_law`, which return a new
:class:`Law` whose function (and exact Jacobian, when the base law has one) wraps the
base law's. They live in one module because each needs the other: the class calls the
functions, the functions build the class. :mod:`scalinglaws.laws.law` (the builders
:func:`~scalinglaws.laws.law.formula_law` and :func:`~scalinglaws.laws.law.function_law`)
and :mod:`scalinglaws.laws.derived` re-export these names.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.params import Param, default_start, describe_param
from scalinglaws.laws.variables import Variable, declare

Function = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
ValueAndGrad = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[Any, list[Any]]]
#: ``grid_fn(variables, y)`` returns start values for some parameters, chosen from the data.
GridFunction = Callable[[Mapping[str, Any], Any], Mapping[str, Sequence[float]]]
#: ``optimum(params, flops)``: the loss-minimising model size under ``flops = 6 N D``,
#: for parameter arrays of shape (S,) and budgets of shape (S,); a law's closed form.
Optimum = Callable[[Mapping[str, Any], Any], Any]

__all__ = ["Function", "GridFunction", "Law", "Optimum", "ValueAndGrad", "fixed_law", "grouped_law"]


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
    >>> from scalinglaws.laws.law import formula_law
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
        """The same law with some parameters pinned to constants (:func:`fixed_law`)."""
        return fixed_law(self, fixed)

    def grouped(self, column: str, groups: Sequence[Any], shared: Iterable[str]) -> Law:
        """One law per group of runs, with the ``shared`` parameters common to all groups.

        The grouped law has a categorical variable ``column`` and parameters
        ``"A_g"`` for each unshared ``A`` and group ``g`` (the label made a name: other
        characters become ``_``). Built by :func:`grouped_law`.
        """
        return grouped_law(self, column, groups, shared)


def fixed_law(law: Law, fixed: Mapping[str, float]) -> Law:
    """``law`` with some parameters pinned to constants (:meth:`Law.with_fixed`)."""
    for name, value in fixed.items():
        law.param(name)
        if not np.isfinite(value):
            raise LawError(f"fixed value for {name} must be finite, got {value}")
    if len(fixed) >= len(law.params):
        raise LawError(f"cannot fix every parameter of {law.name!r}: nothing would be fitted")
    base = law
    const = {k: float(v) for k, v in fixed.items()}
    keep = tuple(p for p in law.params if p.name not in const)
    keep_idx = [i for i, p in enumerate(law.params) if p.name not in const]

    def function(X: Mapping[str, Any], P: Mapping[str, Any]) -> Any:
        return base.function(X, {**P, **const})

    vg: ValueAndGrad | None = None
    if base.value_and_grad is not None:
        base_vg = base.value_and_grad

        def vg(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[Any, list[Any]]:
            f, grads = base_vg(X, {**P, **const})
            return f, [grads[i] for i in keep_idx]

    label = ", ".join(f"{k}={v:g}" for k, v in const.items())
    return replace(
        law,
        name=f"{law.name}[{label}]",
        params=keep,
        function=function,
        value_and_grad=vg,
        spec={**law.spec, "fixed": {**law.spec.get("fixed", {}), **const}},
        optimum=None,  # the closed form is the free law's; pinned laws are solved numerically
    )


def grouped_law(law: Law, column: str, groups: Sequence[Any], shared: Iterable[str]) -> Law:
    """One law per group of runs, with the ``shared`` parameters common to all groups
    (:meth:`Law.grouped`)."""
    shared = tuple(shared)
    for name in shared:
        law.param(name)
    labels = [str(g) for g in groups]
    if len(labels) < 2:
        raise LawError(f"grouping by {column!r} needs at least two groups, got {labels}")
    if len(set(labels)) != len(labels):
        raise LawError(f"group labels in {column!r} are not unique: {labels}")
    base = law
    lookup = {g: i for i, g in enumerate(labels)}
    params: list[Param] = []
    start_map: dict[str, str] = dict(law.start_map)
    # per base parameter: list of grouped parameter names (one if shared)
    expand: dict[str, list[str]] = {}
    for p in law.params:
        if p.name in shared:
            params.append(p)
            expand[p.name] = [p.name]
        else:
            names = [f"{p.name}_{_slug(g)}" for g in labels]
            expand[p.name] = names
            params.extend(replace(p, name=n) for n in names)
            start_map.update({n: law.start_map.get(p.name, p.name) for n in names})
    index = {p.name: i for i, p in enumerate(params)}

    def codes_of(values: Any) -> np.ndarray:
        arr = np.asarray(values).astype(str)
        codes = np.array([lookup.get(v, -1) for v in arr.ravel()], dtype=int).reshape(arr.shape)
        if (codes < 0).any():
            bad = arr.ravel()[np.argmax(codes.ravel() < 0)]
            raise LawError(f"unknown group {str(bad)!r} in {column!r}; the fit knows {labels}")
        return codes

    def base_params(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        codes = codes_of(X[column])
        masks = [codes == i for i in range(len(labels))]
        out: dict[str, Any] = {}
        for name, names in expand.items():
            if len(names) == 1:
                out[name] = P[names[0]]
            else:
                out[name] = sum(P[n] * m for n, m in zip(names, masks))
        return out, masks

    def function(X: Mapping[str, Any], P: Mapping[str, Any]) -> Any:
        bp, _ = base_params(X, P)
        return base.function({k: v for k, v in X.items() if k != column}, bp)

    vg: ValueAndGrad | None = None
    if base.value_and_grad is not None:
        base_vg = base.value_and_grad

        def vg(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[Any, list[Any]]:
            bp, masks = base_params(X, P)
            f, grads = base_vg({k: v for k, v in X.items() if k != column}, bp)
            out: list[Any] = [None] * len(params)
            for j, (name, names) in enumerate(expand.items()):
                if len(names) == 1:
                    out[index[names[0]]] = grads[j]
                else:
                    for n, m in zip(names, masks):
                        out[index[n]] = grads[j] * m
            return f, out

    return replace(  # a new law: every field but the closed form (dropped) is set here
        law,
        name=f"{law.name}[by {column}; shared {', '.join(shared) or 'none'}]",
        variables=law.variables + (column,),
        params=tuple(params),
        function=function,
        formula=law.formula,
        source=law.source,
        description=law.description,
        value_and_grad=vg,
        spec={**law.spec, "groups": {"column": column, "labels": labels, "shared": list(shared)}},
        categorical=law.categorical + (column,),
        grid_fn=law.grid_fn,
        start_map=start_map,
        target=law.target,
        variable_info=(*law.variable_info, Variable(column, meaning="group label")),
        optimum=None,
    )


def _slug(label: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in label)
    return out if out and not out[0].isdigit() else "g" + out
