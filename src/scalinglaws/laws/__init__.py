"""The catalog of published laws, and :func:`get_law` to name one.

Each entry is a small factory in a file of its family; adding a law is its file (or
a function in its family's file), its line here and its case in the contract test
(tests/test_laws.py), never touching the engine, the loader or the planner. The
walk-through is in docs/architecture.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, formula_law, function_law
from scalinglaws.laws.variables import VOCABULARY, Variable
from scalinglaws.laws import beyond as _beyond
from scalinglaws.laws import bnsl as _bnsl
from scalinglaws.laws import chinchilla as _ch
from scalinglaws.laws import curves as _cu
from scalinglaws.laws import data_laws as _data
from scalinglaws.laws import finetune as _ft
from scalinglaws.laws import downstream as _ds
from scalinglaws.laws import precision as _pr
from scalinglaws.laws import schedule_laws as _sl
from scalinglaws.laws import shape as _sh
from scalinglaws.laws import sparsity as _sp

#: name -> factory; factories take keyword options (``bnsl`` takes ``breaks``).
CATALOG: dict[str, Callable[..., Law]] = {
    "power": _cu.power,
    "m1": _cu.m1,
    "m2": _cu.m2,
    "m3": _cu.m3,
    "m4": _cu.m4,
    "bnsl": _bnsl.bnsl,
    "chinchilla": _ch.chinchilla,
    "kaplan": _ch.kaplan,
    "henighan": _ch.henighan,
    "muennighoff": _ch.muennighoff,
    "nmt": _ch.nmt,
    "lr_annealing": _beyond.lr_annealing,
    "multi_power": _sl.multi_power,
    "kaplan_steps": _beyond.kaplan_steps,
    "overtraining": _beyond.overtraining,
    "downstream_exp": _beyond.downstream_exp,
    "coverage": _beyond.coverage,
    "loss_to_loss": _beyond.loss_to_loss,
    "rectified": _ft.rectified,
    "accuracy_sigmoid": _ds.accuracy_sigmoid,
    "shape": _sh.shape,
    "dcpt": _data.dcpt,
    "data_mixing": _data.data_mixing,
    "data_filtering": _data.data_filtering,
    "kumar_precision": _pr.kumar_precision, "kumar_ptq": _pr.kumar_ptq, "fp_quant": _pr.fp_quant,
    "sparsing_relu": _sp.sparsing_relu,
    "sparsing_silu": _sp.sparsing_silu,
}


def register(name: str, factory: Callable[..., Law]) -> None:
    """Add a law factory to the catalog (for plug-in modules of this package)."""
    CATALOG[name] = factory


def names() -> list[str]:
    """Names of the catalog's laws."""
    return sorted(CATALOG)


def get_law(law: str | Law | Callable[..., Any], **options: Any) -> Law:
    """Resolve a law given by catalog name, formula string, Python function or Law.

    Examples
    --------
    >>> get_law("chinchilla").param_names
    ('E', 'A', 'B', 'alpha', 'beta')
    >>> get_law("E + A * n_params**-alpha").variables
    ('n_params',)
    """
    if isinstance(law, Law):
        if options:
            raise LawError("options apply to catalog laws only, not to a Law object")
        return law
    if isinstance(law, str):
        key = law.strip()
        if key in CATALOG:
            try:
                frozen = tuple(sorted(options.items()))
                hash(frozen)
            except TypeError:  # unhashable options: build afresh
                return _make(key, options)
            return _cached(key, frozen, CATALOG[key])
        if key.lower() in CATALOG:
            return get_law(key.lower(), **options)
        if key.isidentifier():
            import difflib

            close = difflib.get_close_matches(key, list(CATALOG), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise LawError(f"unknown law {key!r}{hint}. The catalog has: {', '.join(names())}")
        return formula_law(key, **options)
    if callable(law):
        return function_law(law, **options)
    raise LawError(f"a law is a catalog name, a formula string, a function or a Law; got {type(law).__name__}")


def _make(key: str, options: Mapping[str, Any]) -> Law:
    try:
        made = CATALOG[key](**options)
    except TypeError as err:
        raise LawError(f"law {key!r} does not take the options {sorted(options)}: {err}") from None
    return replace(made, spec={"catalog": key, "options": dict(options)})


@functools.lru_cache(maxsize=256)
def _cached(key: str, frozen: tuple[tuple[str, Any], ...], factory: Callable[..., Law]) -> Law:
    """A catalog law built once per name, options and factory (laws are immutable values;
    building one compiles its formula, which costs milliseconds)."""
    return _make(key, dict(frozen))


def law_from_spec(spec: Mapping[str, Any]) -> Law:
    """Rebuild a law from the ``spec`` stored with a fit (see :meth:`Fit.to_dict`)."""
    if "catalog" in spec:
        law = get_law(spec["catalog"], **spec.get("options", {}))
    elif "formula" in spec:
        law = formula_law(spec["formula"], name=spec.get("name"), variables=spec.get("variables") or None)
        law = replace(law, variables=tuple(spec.get("variables") or law.variables))
    else:
        raise LawError(
            f"the law {spec.get('function', '?')!r} was a Python function and cannot be rebuilt from JSON; "
            "pass it again: Fit.from_dict(d, law=my_function)"
        )
    if spec.get("groups"):
        g = spec["groups"]
        law = law.grouped(g["column"], g["labels"], g["shared"])
    if spec.get("fixed"):
        law = law.with_fixed(spec["fixed"])
    return law


__all__ = ["CATALOG", "VOCABULARY", "Variable", "get_law", "law_from_spec", "names", "register"]
