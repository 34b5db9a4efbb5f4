"""Laws derived from a law: some parameters pinned, or parameters per group of runs.

:meth:`Law.with_fixed <scalinglaws.laws.law.Law.with_fixed>` and
:meth:`Law.grouped <scalinglaws.laws.law.Law.grouped>` call these; each returns a new
:class:`~scalinglaws.laws.law.Law` whose function (and exact Jacobian, when the base law
has one) wraps the base law's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.params import Param
from scalinglaws.laws.variables import Variable

if TYPE_CHECKING:
    from scalinglaws.laws.law import Law, ValueAndGrad


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
