"""One self-contained HTML page about a fit: data, parameters with intervals, diagnostics,
figures, the extrapolation test and, when it applies, the compute-optimal plan.

The page needs nothing but itself: figures are inline base64 PNG, the style sheet is
inline, there is no script and no network access. It is written atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalinglaws._version import __version__
from scalinglaws.data.runs import Runs
from scalinglaws.engine.records import observations
from scalinglaws.engine.result import Fit
from scalinglaws.errors import ScalingLawsError
from scalinglaws.render.review import Review
from scalinglaws.render.style import axis_label
from scalinglaws.render.summary import summary_html, target, verdict
from scalinglaws.render.tables import fmt as _fmt
from scalinglaws.render.tables import heldout_table, plan_table, plan_warnings, quantity
from scalinglaws.render.tables import table as _table

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1b1b;background:#fff;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:32px 0 8px;border-bottom:2px solid #0072B2;padding-bottom:3px}
.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.92em}
th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f2f6fa;text-align:center}td:first-child,th:first-child{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #E69F00;padding:6px 10px;margin:6px 0}
.ok{background:#eaf6ef;border-left:4px solid #009E73;padding:6px 10px;margin:6px 0}
.note{color:#555;font-size:.9em}
figure{margin:12px 0 20px}figure img{width:100%;height:auto;border:1px solid #eee}
figure.corner img{width:80%}figure.corner-small img{width:55%}
.summary{border:1px solid #ccc;border-left:8px solid #999;border-radius:4px;padding:10px 16px;margin:12px 0 20px;background:#fafafa}
.summary.ok{border-left-color:#009E73;background:#f2faf6}.summary.caution{border-left-color:#E69F00;background:#fff8ec}
.summary.bad{border-left-color:#D55E00;background:#fdf0ea}
.summary .verdict{margin:0 0 4px;font-size:1.1em}.summary ul{margin:4px 0 8px}
.badge{display:inline-block;font-weight:700;padding:2px 10px;border-radius:3px;color:#fff;background:#666}
.ok .badge{background:#00785a}.caution .badge{background:#a86a00}.bad .badge{background:#b34700}
table.kv th{text-align:left;background:none;padding-right:14px;white-space:nowrap}table.kv td{text-align:left}
table.plan td{white-space:nowrap}
figcaption{color:#555;font-size:.9em}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
"""


def render_report(review: Review, *, title: str | None = None, figures: bool = True) -> str:
    """The HTML page of a :class:`~scalinglaws.reporting.Review` (made by
    :func:`scalinglaws.reporting.review`): draws what the review holds and fits nothing.

    Returns
    -------
    str
        A complete HTML document.
    """
    fit, runs, validation, level = review.fit, review.runs, review.validation, review.level
    parts = [_header(title or f"Scaling-law report: {fit.law.name}", runs, fit), summary_html(review)]
    parts.append(_data_section(runs, fit))
    parts.append(_fit_section(fit, level))
    parts.append(_diagnostics_section(fit, review.warnings, verdict(review, target(review))[0]))
    if figures:
        parts.append(_figures_section(fit, runs, validation, level, review.isoflop))
    parts.append(_validation_section(validation, review.notes, runs, figures))
    auto = fit.options.get("auto")
    if auto:
        parts.append(_selection_section(auto))
    if review.sensitivity is not None:
        parts.append(_sensitivity_section(review.sensitivity))
    plan = _plan_section(review.plans)
    if plan:
        parts.append(plan)
    parts.append(
        f'<p class="note">Made by scalinglaws {html.escape(__version__)} on '
        f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC. Data fingerprint "
        f"<code>{html.escape(runs.fingerprint()[:16])}</code>.</p>"
    )
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title or 'Scaling-law report: ' + fit.law.name)}</title>"
        f"<style>{_CSS}</style></head><body><main>\n{body}\n</main></body></html>\n"
    )


# ----------------------------------------------------------------------------- sections


def _header(title: str, runs: Runs, fit: Fit) -> str:
    formula = f"<code>{html.escape(fit.law.formula)}</code>" if fit.law.formula else "(a Python function)"
    src = f"<br>{html.escape(fit.law.source)}" if fit.law.source else ""
    return f"<h1>{html.escape(title)}</h1><p class=\"sub\">Law {html.escape(fit.law.name)}: {formula}{src}</p>"


def _data_section(runs: Runs, fit: Fit) -> str:
    mapping = dict(fit.options.get("variables") or {})
    cols = [mapping.get(v, v) for v in fit.law.variables if v not in fit.law.categorical]
    target = (fit.options.get("target") or "loss")
    rows = []
    kinds = {"n_params": "count", "n_tokens": "count", "flops": "flops", target: "loss"}
    for c in dict.fromkeys([*cols, target, *(["flops"] if "flops" in runs.columns else [])]):
        if c not in runs.columns:
            continue
        v = runs.column(c)
        derived = " (derived)" if c in runs.derived else ""
        k = kinds.get(c, "ratio")
        rows.append([axis_label(c) + derived, quantity(np.nanmin(v), k), quantity(np.nanmax(v), k),
                     _span(np.nanmax(v) / np.nanmin(v)) if np.nanmin(v) > 0 else "", f"{np.unique(v).size}"])
    source = runs.source if runs.source == "<DataFrame>" else Path(runs.source).name
    return (
        f"<h2>Data</h2><p>{len(runs)} runs from <code>{html.escape(source)}</code>; "
        f"{len(runs.columns)} columns.</p>" + _table(["column", "smallest", "largest", "span", "distinct"], rows)
    )


def _sig3(v: float) -> str:
    """Three significant digits, written out below 1e6 (1480, not 1.48e+03 beside 117)."""
    r = float(f"{v:.3g}")
    return f"{r:.10g}" if abs(r) < 1e6 else f"{r:.3g}"


def _fit_section(fit: Fit, level: float) -> str:
    have = fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2
    ci = fit.intervals(level) if have else {}
    se = fit.standard_errors() if have else {}
    head = ["parameter", "value"] + ([f"{level:.0%} interval", "bootstrap s.e."] if have else []) + ["note"]
    rows = []
    for name, value in fit.params.items():
        row = [name, f"{value:.6g}"]
        if have:
            row += [f"{ci[name][0]:.4g} – {ci[name][1]:.4g}" if name in ci else "", _sig3(se[name]) if name in se else ""]
        note = ("fixed" + (f" ({fit.fixed_source})" if fit.fixed_source else "")) if name in fit.fixed else ""
        row.append(note)
        rows.append(row)
    o = fit.options
    how = (f"{o.get('loss', '?')}" + (f" (delta {o.get('delta'):g})" if o.get("loss") == "huber" else "")
           + f" on {o.get('space', '?')} residuals, summed")
    boot = f"; {len(fit.draws)} bootstrap refits (runs resampled)" if fit.draws is not None else "; no bootstrap"
    return (f"<h2>Fit</h2><p>{fit.n_runs} {observations(fit)}; objective {html.escape(how)} = {fit.objective:.6g}{boot}.</p>"
            + _table(head, rows))


def _diagnostics_section(fit: Fit, caught: Sequence[str], word: str = "OK") -> str:
    d = fit.diagnostics
    rows = [
        ["converged", "yes" if d.converged else "NO"],
        ["iterations of the best start", str(d.iterations)],
        ["starts / refined / reaching the best objective", f"{d.n_starts} / {d.n_refined} / {d.n_near_best}"],
        ["condition number", f"{d.condition_number:.3g}"],
        ["parameters at a bound", ", ".join(d.at_bounds) or "none"],
        ["poorly identified", ", ".join(d.poorly_identified) or "none"],
        ["failed bootstrap refits", str(d.bootstrap_failed)],
    ]
    msgs = list(dict.fromkeys([*d.warnings, *caught]))
    box = "".join(f'<div class="warn">{html.escape(m)}</div>' for m in msgs)
    if not box:  # green only when nothing else in the review says otherwise (the verdict at the top)
        box = ('<div class="ok">The fit raised no warnings.</div>' if word == "OK" else
               f'<p class="note">The fit itself raised no warnings; the verdict at the top ({word}) says what does.</p>')
    return "<h2>Diagnostics</h2>" + _table(["check", "result"], rows) + box


def _figures_section(fit: Fit, runs: Runs, validation: Any, level: float, iso: Any = None) -> str:
    from scalinglaws.render import plot

    figs: list[tuple[Any, ...]] = []
    numeric = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(numeric) == 1 and not fit.law.categorical:
        figs.append(((f"The fit on all runs, extrapolated to 10 times the largest x (shaded); band: {level:.0%} "
                     "predictive interval."), lambda: plot.learning_curve(fit, runs, level=level)))
    else:
        grouped = "each compute budget (colour)" if "flops" in runs.columns else "each group of runs"
        dashed = (" Dashed: the law at 10 times the largest budget; shaded: model sizes beyond the largest run."
                  if "flops" in runs.columns and {"n_params", "n_tokens"} <= set(numeric) else "")
        figs.append((f"The law along {grouped} over the runs, with its {level:.0%} predictive interval.{dashed}",
                     lambda: plot.fit(fit, runs, level=level)))
    kind = "Residuals (actual − fit)" if fit.options.get("space") == "linear" else "Log residuals"
    huber = " (dotted: the Huber threshold)" if fit.options.get("loss") == "huber" else ""
    figs.append((f"{kind} of the fit{huber}.", lambda: plot.residuals(fit, runs)))
    if iso is not None:
        how = f" {iso.grouping[0].upper()}{iso.grouping[1:]}." if iso.grouping else ""
        figs.append(((f"IsoFLOP analysis of the runs: the {iso.method} fitted per budget (colour: compute), minima "
                      f"starred and joined; dotted: the fitted law along each budget.{how}"),
                     lambda: plot.isoflop(iso, fit=fit)))
    if fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2:
        figs.append(("Pairwise bootstrap distributions of the parameters (x: the fit).", lambda: plot.bootstrap(fit),
                     "corner" if len(fit.free_params) > 3 else "corner-small"))
    return "<h2>Figures</h2>\n" + _figures(figs)


def _figures(figs: Sequence[tuple[Any, ...]]) -> str:
    out = []
    for caption, make, *cls in figs:
        try:
            fig = make()
        except ScalingLawsError as err:
            out.append(f'<div class="warn">figure skipped: {html.escape(str(err))}</div>')
            continue
        klass = f' class="{cls[0]}"' if cls else ""
        out.append(f'<figure{klass}><img alt="{html.escape(caption)}" src="data:image/png;base64,{_png(fig)}">'
                   f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "\n".join(out)


def _validation_section(v: Any, notes: Sequence[str], runs: Runs, figures: bool = True) -> str:
    out = ["<h2>Extrapolation test</h2>"]
    out += [f'<div class="warn">{html.escape(n)}</div>' for n in notes]
    if v is None:
        if not notes:
            out.append("<p>Not run.</p>")
        return "\n".join(out)
    out.append(f"<p>{html.escape(v.summary().splitlines()[0])}.</p>")
    out += [f'<div class="warn"><b>{html.escape(w)}</b></div>' for w in v.warnings]
    cov = f"{v.coverage:.0%}" if math.isfinite(v.coverage) else "n/a"
    out.append(_table(["metric", "value"], [
        ["log RMSE", f"{v.rmse_log:.4g}"], ["mean log error (bias)", f"{v.bias_log:+.4g}"],
        ["largest |log error|", f"{v.max_abs_log_error:.4g}"], ["largest relative error", f"{v.max_abs_rel_error:.3%}"],
        [f"coverage of {v.level:.0%} intervals", cov],
    ]))
    out.append(heldout_table(v))
    out.append(f'<p class="note">{html.escape(v.interval)}.</p>')
    if not figures:
        return "\n".join(out)
    from scalinglaws.render import plot

    figs: list[tuple[Any, ...]] = []
    if v.holdout in ("largest", "mask") and len(v.fits) == 1:
        figs.append(("The fit on the training runs only; held-out runs hollow, the extrapolated range shaded.",
                     lambda: plot.fit(v.fit, runs, validation=v, level=v.level)))
    figs.append(("Log error of each held-out prediction with its interval (zero: exact).", lambda: plot.validation(v)))
    out.append(_figures(figs))
    return "\n".join(out)


def _selection_section(auto: Mapping[str, Any]) -> str:
    table = auto.get("table") or []
    head = ["candidate", "parameters", "nested log RMSE", "rank", "note"]
    rows = [[str(r.get("candidate")), str(r.get("n_params")), _fmt(r.get("score")), str(r.get("rank")), str(r.get("note") or "")]
            for r in table]
    return (f"<h2>Law choice</h2><p>{html.escape(str(auto.get('law')))} was chosen by nested extrapolation tests "
            f"on the runs (ordered by {html.escape(str(auto.get('by')))}; cuts after {auto.get('cuts')} runs).</p>"
            + _table(head, rows))


def _sensitivity_section(s: Any) -> str:
    note = ("<p class=\"note\">Each row refits the law with one fitting choice changed (Li et al. 2025, "
            "&ldquo;(Mis)Fitting&rdquo;); the move is the change of the prediction against the baseline.</p>")
    warn = ('<div class="warn"><b>The prediction moves by more than 5 % under other defensible fitting '
            "choices: report it with this spread.</b></div>" if s.spread > math.log(1.05) else "")
    return "<h2>Sensitivity to fitting choices</h2>" + warn + s._repr_html_() + note


def _plan_section(plans: Sequence[tuple[float, Any]]) -> str:
    if not plans:
        return ""
    out = ["<h2>Compute-optimal plan</h2>", plan_table(plans)]
    out += [f'<div class="warn">{html.escape(w)}</div>' for w in plan_warnings(plans)]
    return "\n".join(out)


# ----------------------------------------------------------------------------- helpers


def _span(ratio: float) -> str:
    """Largest over smallest, as the data table shows it.

    >>> [_span(r) for r in (1.64, 282.3, 9270.4, 1.2e7)]  # not 9.27e+03×
    ['1.64×', '282×', '9,270×', '1.2e+07×']
    """
    return f"{ratio:,.0f}×" if 1000 <= ratio < 1e6 else f"{ratio:.3g}×"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)  # sharp at the page's full width
    return base64.b64encode(buf.getvalue()).decode("ascii")


__all__ = ["render_report"]
