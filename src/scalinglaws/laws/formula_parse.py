"""Reading a formula string safely: a whitelisted Python expression rebuilt as SymPy.

A formula such as ``"E + A / n_params**alpha"`` is read with :func:`ast.parse` and
rebuilt node by node from a whitelist (numbers, names, ``+ - * / **``, a few math
functions). Nothing is ever passed to :func:`eval` or :func:`exec`: a string that
tries to call, import, index or reach an attribute is refused with a
:class:`~scalinglaws.errors.LawError`. :mod:`scalinglaws.laws.formula` differentiates
and evaluates the result (and re-exports these names).
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Sequence
from typing import Any

from scalinglaws.errors import LawError

MAX_FORMULA_LENGTH = 4000
MAX_DEPTH = 60
#: Integer exponents beyond this are applied as floats: SymPy computes integer powers
#: exactly, and 9**9**9 (370 million digits) would take it minutes and gigabytes.
MAX_EXACT_EXPONENT = 64

# Names a formula may call, mapped to SymPy constructors (filled lazily).
_FUNCTIONS = ("exp", "log", "sqrt", "abs", "min", "max", "log1p", "tanh")
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _sympy() -> Any:
    import sympy

    return sympy


def _check_name(name: str, formula: str) -> None:
    if name.startswith("_"):
        raise LawError(
            f"formula {formula!r}: the name {name!r} is not allowed "
            "(names may not start with an underscore)"
        )


class _Builder(ast.NodeVisitor):
    """Turns a whitelisted Python expression tree into a SymPy expression."""

    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.sp = _sympy()
        self.depth = 0

    def refuse(self, node: ast.AST, what: str | None = None) -> LawError:
        kind = what or type(node).__name__
        return LawError(
            f"formula {self.formula!r} is not allowed: it contains {kind}. Formulas may use "
            "numbers, names, + - * / **, parentheses and the functions "
            + ", ".join(_FUNCTIONS)
        )

    def visit(self, node: ast.AST) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LawError(f"formula {self.formula!r} is nested too deeply")
        try:
            method = getattr(self, "visit_" + type(node).__name__, None)
            if method is None:
                raise self.refuse(node)
            return method(node)
        finally:
            self.depth -= 1

    def visit_Expression(self, node: ast.Expression) -> Any:
        return self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refuse(node, f"the constant {value!r}")
        if not math.isfinite(value):
            raise self.refuse(node, "a non-finite constant")
        return self.sp.Integer(value) if isinstance(value, int) else self.sp.Float(value)

    def visit_Name(self, node: ast.Name) -> Any:
        _check_name(node.id, self.formula)
        if node.id in _CONSTANTS:
            return self.sp.Float(_CONSTANTS[node.id])
        if node.id in _FUNCTIONS:
            raise self.refuse(node, f"the function name {node.id!r} used as a value")
        return self.sp.Symbol(node.id, real=True)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise self.refuse(node, f"the operator {type(node.op).__name__}")

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            return left / right
        if isinstance(op, ast.Pow):
            return self._power(node, left, right)
        raise self.refuse(node, f"the operator {type(op).__name__}")

    def _power(self, node: ast.AST, base: Any, expo: Any) -> Any:
        """``base**expo`` without exact arithmetic on huge integers."""
        sp = self.sp
        if base.is_number and expo.is_number:
            # a constant: evaluate it in floating point, keeping small exact powers exact
            try:
                value = float(base) ** float(expo)
            except (OverflowError, ZeroDivisionError, TypeError, ValueError):
                value = math.nan
            if isinstance(value, complex) or not math.isfinite(value):
                raise self.refuse(node, f"the constant power {ast.unparse(node)[:60]}, which is not a finite real number")
            if base.is_Rational and expo.is_Integer and abs(int(expo)) <= MAX_EXACT_EXPONENT:
                return base**expo
            return sp.Float(value)
        if expo.is_Integer and abs(int(expo)) > MAX_EXACT_EXPONENT:
            expo = sp.Float(int(expo))  # (2*x)**(9**9) would expand 2**387420489 exactly
        return base**expo

    def visit_Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise self.refuse(node, "a call to something other than " + ", ".join(_FUNCTIONS))
        if node.keywords:
            raise self.refuse(node, "keyword arguments")
        args = [self.visit(a) for a in node.args]
        name, sp = node.func.id, self.sp
        unary = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "tanh": sp.tanh}
        if name in unary:
            if len(args) != 1:
                raise LawError(f"formula {self.formula!r}: {name}() takes one argument")
            return unary[name](args[0])
        if name == "log1p":
            if len(args) != 1:
                raise LawError(f"formula {self.formula!r}: log1p() takes one argument")
            return sp.log(1 + args[0])
        if len(args) < 2:
            raise LawError(f"formula {self.formula!r}: {name}() takes two or more arguments")
        return (sp.Min if name == "min" else sp.Max)(*args)


@functools.lru_cache(maxsize=256)
def parse(formula: str) -> Any:
    """Parse a formula string into a SymPy expression, refusing anything but arithmetic.

    Examples
    --------
    >>> str(parse("E + A / n_params**alpha"))
    'A/n_params**alpha + E'
    """
    if not isinstance(formula, str):
        raise LawError(f"a formula must be a string, got {type(formula).__name__}")
    if len(formula) > MAX_FORMULA_LENGTH:
        raise LawError(f"formula is too long ({len(formula)} characters, at most {MAX_FORMULA_LENGTH})")
    if not formula.strip():
        raise LawError("formula is empty")
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except SyntaxError as err:
        raise LawError(f"formula {formula!r} is not a valid expression: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise LawError(f"formula {formula[:60]!r}... is nested too deeply") from None
    expr = _Builder(formula).visit(tree)
    sp = _sympy()
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        raise LawError(
            f"formula {formula!r} is not a finite real expression (SymPy reads it as {str(expr)[:60]}): "
            "look for a division by zero, log(0) or the root of a negative number"
        )
    return expr


def free_names(formula: str) -> tuple[str, ...]:
    """The names a formula uses, sorted."""
    return tuple(sorted(str(s) for s in parse(formula).free_symbols))


def split_names(formula: str, variables: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a formula's names into (variables present, parameters), in order of appearance."""
    parse(formula)  # refuses unsafe formulas before anything else is looked at
    first: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(formula.strip(), mode="eval")):
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS and node.id not in _CONSTANTS:
            pos = (node.lineno, node.col_offset)
            if node.id not in first or pos < first[node.id]:
                first[node.id] = pos
    order = sorted(first, key=first.__getitem__)
    var = tuple(n for n in order if n in variables)
    par = tuple(n for n in order if n not in variables)
    return var, par


__all__ = ["MAX_DEPTH", "MAX_EXACT_EXPONENT", "MAX_FORMULA_LENGTH", "free_names", "parse", "split_names"]
