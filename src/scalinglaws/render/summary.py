"""The summary at the top of a report: the prediction at a target with its interval, the
law, and a trust verdict (OK / CAUTION / NOT OK) with its reasons.

The target is the first compute-optimal plan's run when the review has one, otherwise 10
times the largest run: each scale variable of the law (parameters, tokens, FLOPs,
samples, steps, examples, a generic ``x``) at 10 times its largest value, every other
variable (bits of precision, a data share, a block size) at its largest value in the
runs, since ten times 16 bits or a share of 10 is no run anyone trains (a category at its
value in the run of the largest scale).
A law with no scale variable gets no target. The verdict reads what the
review already holds (``Fit.ok``, the validation's coverage, the extrapolation factor,
the fit's warnings, the sensitivity spread); it computes nothing but the prediction.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.engine.records import observations
from scalinglaws.errors import ScalingLawsError
from scalinglaws.render.review import Review
from scalinglaws.render.tables import params_inline, quantity

#: Beyond this factor over the largest run (in compute, or in the law's variable) a
#: prediction is far enough out to be read with caution whatever the validation says.
FAR = 100.0
#: Held-out coverage this far below the nominal level gives a CAUTION even when the
#: shortfall is not significant (a significant one always does).
SLACK = 0.05
#: Units of the variables that grow with the run (``Variable.unit``; "" is the generic
#: scale ``x``, an area of the LR schedule, or an undeclared variable): the summary's
#: default target is 10 times their largest value. Others are held at their largest.
SCALE_UNITS = frozenset({"", "parameters", "tokens", "FLOPs", "samples", "optimizer steps", "examples",
                         "tokens per parameter"})


@dataclass(frozen=True)
class Target:
    """Where the summary predicts: the law's variables, a description, the extrapolation
    factor over the largest run, and the prediction with its interval."""

    at: dict[str, Any]
    what: str
    factor: float
    value: float
    lower: float
    upper: float


def target(review: Review) -> Target | None:
    """The summary's target and the predictive interval there (None when the law cannot
    be evaluated there)."""
    fit, runs, level = review.fit, review.runs, review.level
    mapping = dict(fit.options.get("variables") or {})
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    plan = next((p for _, p in review.plans if not isinstance(p, str)), None)
    at: dict[str, Any]
    if plan is not None and "flops" in runs.columns:
        at = {"n_params": plan.n_params, "n_tokens": plan.n_tokens}
        factor = plan.flops / float(np.max(runs.column("flops")))
        what = (f"the compute-optimal run at C = {quantity(plan.flops, 'flops')} FLOPs: N = "
                f"{quantity(plan.n_params, 'count')} parameters on D = {quantity(plan.n_tokens, 'count')} tokens")
    else:
        scales = [v for v in numeric if fit.law.variable(v).unit in SCALE_UNITS]
        if not scales or any(mapping.get(v, v) not in runs.columns for v in fit.law.variables):
            return None
        with np.errstate(invalid="ignore"):
            largest = int(np.nanargmax(runs.column(mapping.get(scales[0], scales[0]))))
        at, parts, held = {}, [], []
        for v in fit.law.variables:
            col = mapping.get(v, v)
            if v in fit.law.categorical:
                at[v] = str(runs.data[col].iloc[largest])
                held.append(f"{v} = {at[v]}")
            elif v in scales:
                at[v] = 10 * float(np.nanmax(runs.column(col)))
                parts.append(f"{col} = {quantity(at[v], 'count' if col in ('n_params', 'n_tokens') else 'flops' if col == 'flops' else 'ratio')}")
            else:
                at[v] = float(np.nanmax(runs.column(col)))
                held.append(f"{col} = {at[v]:.4g}")
        factor = 10.0
        what = "10 times the largest run: " + ", ".join(parts) + (f"; {', '.join(held)}, the largest in the runs" if held else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(np.asarray(fit.predict(**at, check_range=False)).reshape(-1)[0])
            lo, hi = fit.predict_interval(level, **at, check_range=False)
    except (ScalingLawsError, ValueError, TypeError):
        return None
    return Target(at, what, float(factor), value, float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0]))


def verdict(review: Review, tgt: Target | None) -> tuple[str, list[str]]:
    """``("OK" | "CAUTION" | "NOT OK", reasons)``. NOT OK: the fit cannot be trusted
    (:attr:`Fit.problems`). CAUTION: the held-out runs fall outside their intervals more
    often than the level allows (or their coverage is more than :data:`SLACK` below
    it), no extrapolation test, a target more than :data:`FAR`
    times beyond the largest run, warnings of the fit, or a prediction that moves more
    than 5 % under other fitting choices. OK otherwise."""
    fit, v = review.fit, review.validation
    if not fit.ok:
        return "NOT OK", list(fit.problems)
    caution = []
    if v is None:
        caution.append("the extrapolation was not tested on held-out runs")
    elif v.undercovered:
        caution.append(f"only {v.coverage:.0%} of {v.n_test} held-out runs fell inside their {v.level:.0%} intervals: "
                       "the intervals are too narrow beyond the data")
    elif not math.isfinite(v.coverage):
        caution.append("the extrapolation test has no intervals to check")
    elif v.coverage < v.level - SLACK:
        caution.append(f"{v.coverage:.0%} of {v.n_test} held-out runs fell inside their {v.level:.0%} intervals: "
                       "below the nominal level (not significantly, at this number of runs)")
    if tgt is not None and tgt.factor > FAR:
        caution.append(f"the target is {tgt.factor:.0f} times beyond the largest run")
    if review.warnings:
        caution.append(f"the fit raised {len(review.warnings)} warning(s): see Diagnostics")
    s = review.sensitivity
    if s is not None and math.isfinite(s.spread) and s.spread > math.log(1.05):
        caution.append(f"the prediction moves by {math.expm1(s.spread):.0%} under other defensible fitting choices")
    if caution:
        return "CAUTION", caution
    ok = ["the fit converged with every parameter identified"]
    if v is not None:
        ok.append(f"{v.coverage:.0%} of {v.n_test} held-out runs fell inside their {v.level:.0%} intervals")
    return "OK", ok


def summary_html(review: Review) -> str:
    """The summary box: verdict, prediction at the target, law, coverage, extrapolation factor."""
    fit, v, level = review.fit, review.validation, review.level
    tgt = target(review)
    word, reasons = verdict(review, tgt)
    cls = {"OK": "ok", "CAUTION": "caution", "NOT OK": "bad"}[word]
    target_name = fit.options.get("target") or "loss"
    rows = []
    if tgt is not None:
        unit = " nats/token" if target_name == "loss" else ""
        rows.append(("Prediction", (f"{target_name} <b>{tgt.value:.4g}</b>{unit}, {level:.0%} predictive interval "
                     f"{tgt.lower:.4g} – {tgt.upper:.4g}, at {html.escape(tgt.what)}")))
        rows.append(("Extrapolation", f"{tgt.factor:.3g}× beyond the largest run" if tgt.factor > 1
                     else f"within the fitted runs ({tgt.factor:.3g}× the largest)"))
    formula = html.escape(fit.law.formula) if fit.law.formula else html.escape(fit.law.name)
    rows.append(("Law", f"<code>{formula}</code> with {html.escape(params_inline(fit.params))}"))
    if v is not None and math.isfinite(v.coverage):
        flag = " (too low)" if v.undercovered else ""
        rows.append(("Held-out coverage", (f"{v.coverage:.0%} of {v.n_test} runs inside their {v.level:.0%} "
                     f"intervals{flag}; log RMSE {v.rmse_log:.3g}")))
    rows.append(("Fit", ("converged" if fit.diagnostics.converged else "did NOT converge")
                 + f"; {fit.n_runs} {observations(fit)}"))
    body = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    why = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    return (f'<section class="summary {cls}"><p class="verdict"><span class="badge">{word}</span> '
            f"{'Trust the prediction within its interval.' if word == 'OK' else 'Read before using:'}</p>"
            f"<ul>{why}</ul><table class=\"kv\">{body}</table></section>")


__all__ = ["FAR", "SCALE_UNITS", "SLACK", "Target", "summary_html", "target", "verdict"]
