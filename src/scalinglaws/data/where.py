"""A small, safe evaluator for the row filters of :func:`scalinglaws.load_runs`.

A filter such as ``"loss < 4 and n_params >= 1e8"`` or ``"dataset in ['c4', 'rpj']"``
is parsed with :func:`ast.parse` and evaluated node by node over the columns of a
table. Only a whitelist of nodes is accepted (comparisons, ``and``/``or``/``not``,
arithmetic, column names, numbers, strings, booleans, and list or tuple literals on
the right of ``in``); anything else (calls, attributes, subscripts, lambdas,
comprehensions, conditional expressions, dunder names) is refused before any part of
the expression is evaluated. ``eval``, :meth:`pandas.DataFrame.query` and
:meth:`pandas.DataFrame.eval` are never used: they can run arbitrary code.

Column names that are not Python identifiers can be written between backticks, as in
pandas: ```C4 Eval Loss` < 3.5``.
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import operator
import re
import tokenize
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError

__all__ = ["evaluate_where"]

_MAX_LENGTH = 2000
#: Deepest expression tree accepted; the evaluator recurses, so deeper ones (``not not
#: ... x`` or ``- - ... x`` a thousand times) would overflow Python's stack.
_MAX_DEPTH = 100
#: Integers beyond this are compared as floats (pandas cannot compare a column with an
#: integer of hundreds of digits).
_MAX_EXACT_INT = 2**53
_BACKTICK = re.compile(r"`([^`]*)`")
_PLACEHOLDER = "_where_col_{}_"

_NODE_NAMES = {
    "Call": "function calls",
    "Attribute": "attribute access",
    "Subscript": "indexing",
    "Lambda": "lambda",
    "IfExp": "conditional expressions",
    "ListComp": "comprehensions",
    "SetComp": "comprehensions",
    "DictComp": "comprehensions",
    "GeneratorExp": "comprehensions",
    "NamedExpr": "assignment expressions",
    "Starred": "starred expressions",
    "JoinedStr": "f-strings",
    "Dict": "dict literals",
    "Set": "set literals",
    "Await": "await",
    "Yield": "yield",
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod,
    ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
)  # fmt: skip
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}


def evaluate_where(
    expr: str, frame: pd.DataFrame, aliases: Mapping[str, str] | None = None
) -> pd.Series:
    """Evaluate a row filter over ``frame`` without running arbitrary code.

    Parameters
    ----------
    expr : str
        The filter, e.g. ``"excluded_by_epoch == 0"`` or ``"loss < 4 and n_params >= 1e8"``.
    frame : pandas.DataFrame
        The table; names in ``expr`` refer to its columns.
    aliases : mapping of str to str, optional
        Other names a column may be called by (original name -> column in ``frame``).

    Returns
    -------
    pandas.Series
        Boolean mask aligned with ``frame.index`` (missing values count as False).

    Raises
    ------
    DataError
        If the expression is malformed, uses a construct outside the whitelist, names
        an unknown column, or does not give one truth value per row.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"loss": [3.0, 2.5, 4.1], "dataset": ["c4", "c4", "rpj"]})
    >>> evaluate_where("loss < 4 and dataset == 'c4'", frame).tolist()
    [True, True, False]
    """
    if not isinstance(expr, str) or not expr.strip():
        raise DataError(f"where expression must be a non-empty string, got {expr!r}")
    if len(expr) > _MAX_LENGTH:
        raise DataError(
            f"where expression is too long ({len(expr)} characters, at most {_MAX_LENGTH})"
        )
    quoted: dict[str, str] = {}

    def _quote(name: str) -> str:
        key = _PLACEHOLDER.format(len(quoted))
        quoted[key] = name
        return key

    source = _BACKTICK.sub(lambda match: _quote(match.group(1)), expr.strip())
    source = _quote_unnormalised_names(source, _quote)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise DataError(f"where expression {expr!r} is not valid: {err.msg}") from err
    except (RecursionError, MemoryError):
        raise DataError(f"where expression {expr!r} is nested too deeply") from None
    if _depth(tree) > _MAX_DEPTH:
        raise DataError(
            f"where expression {expr!r} is nested too deeply (more than {_MAX_DEPTH} levels)"
        )
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            kind = type(node).__name__
            what = _NODE_NAMES.get(kind, "this construct")
            raise DataError(f"where expression {expr!r} is not allowed: {what} ({kind})")
        if isinstance(node, ast.Name) and node.id.startswith("__") and node.id not in quoted:
            raise DataError(f"where expression {expr!r} is not allowed: dunder name {node.id!r}")
    return _Evaluator(expr, frame, dict(aliases or {}), quoted).result(tree.body)


class _Evaluator:
    """Walks a whitelisted tree; values are Series (one per row) or scalars."""

    def __init__(
        self, expr: str, frame: pd.DataFrame, aliases: dict[str, str], quoted: dict[str, str]
    ) -> None:
        self.expr, self.frame, self.aliases, self.quoted = expr, frame, aliases, quoted

    def fail(self, problem: str) -> DataError:
        return DataError(f"where expression {self.expr!r}: {problem}")

    def result(self, node: ast.expr) -> pd.Series:
        value = self.eval(node)
        if not isinstance(value, pd.Series):
            raise self.fail("does not depend on any column; compare a column, e.g. 'loss < 4'")
        if not (pd.api.types.is_bool_dtype(value.dtype) or _is_boolean_objects(value)):
            raise self.fail("does not give a condition; compare it, e.g. 'loss < 4'")
        return value.fillna(False).astype(bool)

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int) and not isinstance(node.value, bool):
                return _bounded_int(node.value)
            if isinstance(node.value, bool | float | str):
                return node.value
            raise self.fail(
                f"constant {node.value!r} is not allowed (numbers, strings, True, False)"
            )
        if isinstance(node, ast.Name):
            return self.column(node.id)
        if isinstance(node, ast.BoolOp):
            values = [self.condition(v) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                cond = self.condition(node.operand)
                return (not cond) if isinstance(cond, bool | np.bool_) else ~cond
            operand = self.numeric(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left, right = self.numeric(node.left), self.numeric(node.right)
            with np.errstate(all="ignore"):
                if not isinstance(left, pd.Series) and not isinstance(right, pd.Series):
                    left = np.float64(left)  # avoid huge Python integers (10**10**10)
                return _ARITH[type(node.op)](left, right)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        raise self.fail(f"a {type(node).__name__} is only allowed on the right of 'in' / 'not in'")

    def column(self, name: str) -> pd.Series:
        name = self.quoted.get(name, name)
        if name in self.frame.columns:
            return self.frame[name]
        if name in self.aliases and self.aliases[name] in self.frame.columns:
            return self.frame[self.aliases[name]]
        known = [str(c) for c in self.frame.columns] + list(self.aliases)
        normal = unicodedata.normalize("NFKC", name)
        close = [normal] if normal != name and normal in known else []
        close = close or difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise self.fail(
            f"{name!r} is not a column{hint} (columns: {', '.join(map(str, self.frame.columns))})"
        )

    def condition(self, node: ast.expr) -> Any:
        value = self.eval(node)
        if isinstance(value, bool | np.bool_):
            return value
        if isinstance(value, pd.Series) and (
            pd.api.types.is_bool_dtype(value.dtype) or _is_boolean_objects(value)
        ):
            return value.fillna(False).astype(bool)
        raise self.fail(
            f"{ast.unparse(node)!r} is not a condition; compare it, e.g. '{ast.unparse(node)} != 0'"
        )

    def numeric(self, node: ast.expr) -> Any:
        value = self.eval(node)
        if isinstance(value, pd.Series):
            if pd.api.types.is_numeric_dtype(value.dtype):
                return value
        elif isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return value
        raise self.fail(f"arithmetic needs numbers, and {ast.unparse(node)!r} is not numeric")

    def compare(self, node: ast.Compare) -> Any:
        if len(node.ops) > 1 and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            raise self.fail("'in' / 'not in' cannot be chained with other comparisons; use 'and'")
        result: Any = True
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                options = self.literal_list(right_node)
                if not isinstance(left, pd.Series):
                    raise self.fail("the left side of 'in' must be a column")
                part = left.isin(options)
                part = ~part if isinstance(op, ast.NotIn) else part
                right = options
            else:
                right = self.eval(right_node)
                try:
                    part = _COMPARE[type(op)](left, right)
                except (TypeError, ValueError, OverflowError) as err:
                    left_text, right_text = ast.unparse(node.left), ast.unparse(right_node)
                    raise self.fail(
                        f"cannot compare {left_text!r} with {right_text!r} ({err})"
                    ) from err
            result = part if result is True else (result & part)
            left = right
        return result

    def literal_list(self, node: ast.expr) -> list[Any]:
        if not isinstance(node, ast.List | ast.Tuple):
            raise self.fail(
                "'in' / 'not in' needs a list of values, e.g. \"dataset in ['c4', 'rpj']\""
            )
        values = []
        for element in node.elts:
            value = self.eval(element)
            if isinstance(value, pd.Series):
                raise self.fail("the values after 'in' must be constants, not columns")
            values.append(value)
        return values


def _is_boolean_objects(series: pd.Series) -> bool:
    """True for an object Series holding only booleans (and missing values)."""
    if series.dtype != object:
        return False
    return bool(series.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all())


def _depth(tree: ast.AST) -> int:
    """The depth of an expression tree, measured without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _bounded_int(value: int) -> int | float:
    """Small integers as they are; huge ones as floats (inf beyond the float range)."""
    if abs(value) <= _MAX_EXACT_INT:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _quote_unnormalised_names(source: str, quote: Callable[[str], str]) -> str:
    """Treat names that Unicode normalisation would change as backtick-quoted.

    Python folds identifiers to NFKC, so ``ｌｏｓｓ`` (full-width letters) would read as
    ``loss`` and silently filter on another column; quoted, it means the column of that
    exact name.
    """
    if source.isascii():
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source  # ast.parse will say what is wrong
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans = []
    for tok in tokens:
        if tok.type == tokenize.NAME and unicodedata.normalize("NFKC", tok.string) != tok.string:
            start = offsets[tok.start[0] - 1] + tok.start[1]
            spans.append((start, start + len(tok.string)))
    for start, end in reversed(spans):
        source = source[:start] + quote(source[start:end]) + source[end:]
    return source
