"""HTML tables for people: numbers with units (30.2B parameters, 1.3e23 FLOPs), intervals
beside their values, only the rows a reader needs.

Used by the report (:mod:`scalinglaws.render.report`); draws results, computes nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.render.style import count_label


def table(head: Sequence[str], rows: Sequence[Sequence[str]], *, cls: str = "") -> str:
    """An HTML table; every cell escaped."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def fmt(v: Any) -> str:
    """A value as text: yes/no, integers whole, floats to 5 significant digits."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.5g}"
    if v is None:
        return "n/a"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def quantity(value: Any, kind: str) -> str:
    """A number for a reader: ``count`` 30.2B, ``flops`` 1.3e23, ``loss`` 2.053, ``ratio`` 21.4."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return fmt(value)
    if not math.isfinite(v):
        return "n/a"
    if kind == "count":
        return count_label(v)
    if kind == "flops":
        return f"{v:.2g}".replace("e+", "e")
    if kind == "loss":
        return f"{v:.4g}"
    return f"{v:.3g}".replace("e+0", "e").replace("e+", "e")


def with_interval(value: Any, interval: Any, kind: str) -> str:
    """``30.2B (25.1B – 36.0B)``; the value alone without an interval."""
    text = quantity(value, kind)
    if interval is not None and len(interval) == 2 and all(np.isfinite(np.asarray(interval, float))):
        text += f" ({quantity(interval[0], kind)} – {quantity(interval[1], kind)})"
    return text


#: Rows of a plan table: (attribute, label with unit, kind); only those the plan has are shown.
PLAN_ROWS = (
    ("n_params", "model size N (parameters)", "count"),
    ("n_tokens", "training data D (tokens)", "count"),
    ("tokens_per_param", "tokens per parameter D/N", "ratio"),
    ("loss", "predicted loss (nats/token)", "loss"),
    ("epochs", "epochs over the unique data", "ratio"),
    ("unique_tokens", "unique tokens", "count"),
    ("inference_tokens", "lifetime inference tokens", "count"),
    ("inference_flops", "inference compute (FLOPs)", "flops"),
    ("total_flops", "total compute (FLOPs)", "flops"),
)


def plan_table(plans: Sequence[tuple[float, Any]]) -> str:
    """One table for the plans: a column per budget, a row per quantity with its interval.
    Training FLOPs appear only where they differ from the budget by more than 1 %; how the
    plan was found (closed form or numeric, FLOP convention, draws) is a note below."""
    good = [(c, p) for c, p in plans if not isinstance(p, str)]
    if not good:
        return ""
    level = good[0][1].level
    head = ["", *(f"C = {quantity(c, 'flops')} FLOPs" for c, _ in good)]
    rows = []
    for attr, label, kind in PLAN_ROWS:
        values = [getattr(p, attr, None) for _, p in good]
        if all(v is None for v in values):
            continue
        rows.append([label, *(with_interval(v, p.intervals.get(attr), kind) if v is not None else "" for v, (_, p) in zip(values, good))])
    if any(abs(p.training_flops / c - 1) > 0.01 for c, p in good):
        rows.append(["training compute (FLOPs)", *(quantity(p.training_flops, "flops") for _, p in good)])
    p0 = good[0][1]
    how = f"{p0.method}; training FLOPs per token: {p0.flop_convention}"
    how += (f"; in brackets: {level:.0%} intervals over {p0.n_draws} bootstrap refits of the law (uncertainty "
            "of the curve; the summary's predictive interval adds run-to-run noise and extrapolation error)"
            if p0.n_draws else "; no intervals (the fit has no bootstrap draws)")
    return table(head, rows, cls="plan") + f'<p class="note">{html.escape(how)}.</p>'


def plan_warnings(plans: Sequence[tuple[float, Any]]) -> list[str]:
    """What a reader must know about the plans: budgets that could not be planned,
    optima at the edge of the search, the plans' own warnings (each once)."""
    out = []
    for c, p in plans:
        where = f"C = {quantity(c, 'flops')} FLOPs"
        if isinstance(p, str):
            out.append(f"{where}: not planned: {p}")
            continue
        if p.at_search_bound:
            out.append(f"{where}: the optimum sits at the edge of the size search; the plan is a bound, not an optimum")
        out += [f"{where}: {w}" for w in p.warnings]
    return list(dict.fromkeys(out))


def heldout_table(v: Any, *, limit: int = 20) -> str:
    """The held-out runs of a validation, the largest first (by the validation's scale
    column ``v.by`` when the table has it), at most ``limit`` of them: the law's variables
    (N, D, ...), actual and predicted values, the interval, the relative error and
    whether the actual is inside."""
    t = v.table
    by = getattr(v, "by", None)
    ordered = by in t.columns and pd.api.types.is_numeric_dtype(t[by])
    if ordered:
        t = t.sort_values(by, ascending=False, kind="stable")
    skip = {"row", "fold", "actual", "predicted", "lower", "upper", "log_error", "rel_error", "inside"}
    cols = [c for c in t.columns if c not in skip]
    names = {"n_params": "N (parameters)", "n_tokens": "D (tokens)", "flops": "C (FLOPs)"}
    kinds = {"n_params": "count", "n_tokens": "count", "flops": "flops"}
    head = ["run", *(names.get(c, c) for c in cols), "actual", "predicted", f"{v.level:.0%} interval", "error",
            "inside"]
    rows = []
    for _, r in t.head(limit).iterrows():
        cells = [str(int(r["row"]))]
        for c in cols:
            cells.append(quantity(r[c], kinds.get(c, "ratio")) if isinstance(r[c], (int, float, np.number)) else str(r[c]))
        cells += [f"{r['actual']:.4g}", f"{r['predicted']:.4g}", f"{r['lower']:.4g} – {r['upper']:.4g}",
                  f"{r['rel_error']:+.1%}", "yes" if r["inside"] else "NO"]
        rows.append(cells)
    which = f"largest (by {by})" if ordered else "first"
    more = (f'<p class="note">The {limit} {which} of {len(t)} held-out runs (to_dict() holds them all).</p>'
            if len(t) > limit else "")
    return table(head, rows) + more


def params_inline(params: Mapping[str, float]) -> str:
    """``E = 1.82, A = 482, alpha = 0.348``."""
    return ", ".join(f"{k} = {v:.4g}" for k, v in params.items())


__all__ = ["PLAN_ROWS", "fmt", "heldout_table", "params_inline", "plan_table", "plan_warnings", "quantity", "table",
           "with_interval"]
