"""Formula strings: parsed safely, differentiated symbolically, evaluated with numpy.

A formula such as ``"E + A / n_params**alpha"`` is read with :func:`ast.parse` and
rebuilt node by node from a whitelist (numbers, names, ``+ - * / **``, a few math
functions). Nothing is ever passed to :func:`eval` or :func:`exec`: a string that
tries to call, import, index or reach an attribute is refused with a
:class:`~scalinglaws.errors.LawError`.

The parsed expression is a SymPy tree. Its derivatives with respect to the parameters
are taken symbolically, common subexpressions are shared (:func:`sympy.cse`), and the
result is evaluated by a small numpy interpreter of the SymPy tree, so a law's value
and its Jacobian cost little more than its value alone.

Parsing lives in :mod:`scalinglaws.laws.formula_parse` (its names are importable from
here too); this module compiles and evaluates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.formula_parse import (
    MAX_DEPTH,
    MAX_EXACT_EXPONENT,
    MAX_FORMULA_LENGTH,
    _sympy,
    free_names,
    parse,
    split_names,
)


# --------------------------------------------------------------------------- evaluation


def _heaviside(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, 1.0, np.where(x < 0, 0.0, 0.5))


class _Env(dict[str, Any]):
    """Values by name; ``"log:<variable>"`` is computed on first use and kept."""

    def __missing__(self, key: str) -> Any:
        if key.startswith("log:"):
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.log(self[key[4:]])
            self[key] = value
            return value
        raise KeyError(key)


Step = Callable[[_Env], Any]


def _compile_node(e: Any, variables: frozenset[str]) -> Step:
    """Turn a SymPy tree into nested numpy closures, once, so evaluating it does no
    symbolic dispatch: the hot loop of a fit calls these thousands of times."""
    sp = _sympy()
    if e.is_Symbol:
        name = e.name
        return lambda env: env[name]
    if e.is_Number or e is sp.zoo or e is sp.S.NaN:
        const = float(e) if e.is_Number else math.nan
        return lambda env: const
    if e.is_Add or e.is_Mul:
        kids = [_compile_node(a, variables) for a in e.args]
        add = bool(e.is_Add)

        def combine(env: _Env) -> Any:
            # combine the smallest operands first: scalars and per-start or per-run
            # vectors meet before any full (n_starts, n_runs) array is touched
            vals = sorted((k(env) for k in kids), key=np.size)
            out = vals[0]
            for v in vals[1:]:
                out = out + v if add else out * v
            return out

        return combine
    if e.is_Pow:
        base, expo = e.args
        if expo.is_Integer:
            k = int(expo)
            b = _compile_node(base, variables)
            if k == -1:
                return lambda env: 1.0 / b(env)
            if k == 2:
                return lambda env: np.square(b(env))
            return lambda env: b(env) ** k
        if expo == sp.Rational(1, 2) or expo == sp.Rational(-1, 2):
            b = _compile_node(base, variables)
            if expo.is_positive:
                return lambda env: np.sqrt(b(env))
            return lambda env: 1.0 / np.sqrt(b(env))
        x = _compile_node(expo, variables)
        if base.is_Symbol and base.name in variables:
            key = "log:" + base.name
            return lambda env: np.exp(x(env) * env[key])
        b = _compile_node(base, variables)
        return lambda env: np.power(b(env), x(env))
    func = e.func
    if func is sp.log:
        arg = e.args[0]
        if arg.is_Symbol and arg.name in variables:
            key = "log:" + arg.name
            return lambda env: env[key]
        inner = _compile_node(arg, variables)
        return lambda env: np.log(inner(env))
    unary: dict[Any, Callable[[Any], Any]] = {sp.exp: np.exp, sp.Abs: np.abs, sp.tanh: np.tanh, sp.Heaviside: _heaviside, sp.sign: np.sign}
    if func in unary:
        g, inner = unary[func], _compile_node(e.args[0], variables)
        return lambda env: g(inner(env))
    if func is sp.Min or func is sp.Max:
        kids = [_compile_node(a, variables) for a in e.args]
        op = np.minimum if func is sp.Min else np.maximum
        return lambda env: functools.reduce(op, [k(env) for k in kids])
    raise LawError(f"cannot evaluate the expression {e} (unsupported operation {func})")


def _program(cse: tuple[Any, Any], variables: frozenset[str]) -> tuple[tuple[tuple[str, Step], ...], tuple[Step, ...]]:
    replacements, outputs = cse
    steps = tuple((str(sym), _compile_node(expr, variables)) for sym, expr in replacements)
    return steps, tuple(_compile_node(o, variables) for o in outputs)


@dataclass(frozen=True)
class CompiledFormula:
    """A formula with its symbolic gradient, ready to evaluate on arrays.

    ``evaluate(variables, params)`` returns the value; ``value_and_grad`` also returns
    the derivative with respect to every parameter, in ``param_names`` order. Inputs
    broadcast with numpy rules: variables of shape ``(n_runs,)`` and parameters of
    shape ``(n_starts, 1)`` give outputs of shape ``(n_starts, n_runs)``.
    """

    formula: str
    variable_names: tuple[str, ...]
    param_names: tuple[str, ...]
    _value: tuple[Any, ...]
    _both: tuple[Any, ...]

    def _run(self, program: tuple[Any, ...], variables: Mapping[str, Any], params: Mapping[str, Any]) -> list[Any]:
        env = _Env()
        for name in self.variable_names:
            env[name] = np.asarray(variables[name], dtype=float)
            if "log:" + name in variables:  # the caller's precomputed log (a solver does this once)
                env["log:" + name] = variables["log:" + name]
        for name in self.param_names:
            env[name] = np.asarray(params[name], dtype=float)
        steps, outputs = program
        with np.errstate(all="ignore"):
            for name, step in steps:
                env[name] = step(env)
            return [out(env) for out in outputs]

    def evaluate(self, variables: Mapping[str, Any], params: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(self._run(self._value, variables, params)[0], dtype=float)

    def value_and_grad(
        self, variables: Mapping[str, Any], params: Mapping[str, Any]
    ) -> tuple[np.ndarray, list[Any]]:
        out = self._run(self._both, variables, params)
        return np.asarray(out[0], dtype=float), out[1:]


@functools.lru_cache(maxsize=256)
def compile_formula(
    formula: str, variable_names: tuple[str, ...], param_names: tuple[str, ...]
) -> CompiledFormula:
    """Compile ``formula`` for the given variables and parameters.

    Every name in the formula must be one of them; a missing or extra name is a
    :class:`LawError` that lists both sets.
    """
    sp = _sympy()
    expr = parse(formula)
    used = {str(s) for s in expr.free_symbols}
    declared = set(variable_names) | set(param_names)
    unknown = used - declared
    if unknown:
        raise LawError(
            f"formula {formula!r} uses {sorted(unknown)}, which are neither variables "
            f"{list(variable_names)} nor parameters {list(param_names)}"
        )
    symbols = [sp.Symbol(p, real=True) for p in param_names]
    grads = [sp.diff(expr, s) for s in symbols]
    # shared subexpressions get names no formula can use (formulas refuse a leading underscore)
    both = sp.cse([expr, *grads], symbols=sp.numbered_symbols("_cse"), optimizations="basic")
    value = sp.cse([expr], symbols=sp.numbered_symbols("_cse"))
    data = frozenset(variable_names)
    return CompiledFormula(
        formula=formula,
        variable_names=tuple(variable_names),
        param_names=tuple(param_names),
        _value=_program(value, data),
        _both=_program(both, data),
    )


def formula_function(compiled: CompiledFormula) -> Callable[[Mapping[str, Any], Mapping[str, Any]], np.ndarray]:
    """The plain ``f(variables, params)`` function of a compiled formula."""
    return compiled.evaluate


@functools.lru_cache(maxsize=256)
def linear_params(formula: str, param_names: tuple[str, ...]) -> tuple[str, ...]:
    """The parameters the formula is affine in, jointly: with the others fixed it is
    ``c0 + sum_k p_k * phi_k`` (chinchilla's E, A and B; power's E and A).

    Given the nonlinear parameters (the exponents), the best linear ones are a linear
    least-squares problem: variable projection (Golub and Pereyra 1973) uses this to
    place starts.

    Examples
    --------
    >>> linear_params("E + A / n_params**alpha + B / n_tokens**beta", ("E", "A", "B", "alpha", "beta"))
    ('E', 'A', 'B')
    """
    sp = _sympy()
    expr = parse(formula)
    chosen: list[Any] = []
    for name in param_names:
        s = sp.Symbol(name, real=True)
        if s not in expr.free_symbols or sp.diff(expr, s, s) != 0:
            continue
        if all(sp.simplify(sp.diff(expr, s, t)) == 0 for t in chosen):
            chosen.append(s)
    return tuple(str(s) for s in chosen)


__all__ = [
    "MAX_DEPTH",
    "MAX_EXACT_EXPONENT",
    "MAX_FORMULA_LENGTH",
    "CompiledFormula",
    "compile_formula",
    "formula_function",
    "free_names",
    "linear_params",
    "parse",
    "split_names",
]
