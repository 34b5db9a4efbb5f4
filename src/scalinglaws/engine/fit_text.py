"""A fit as text and as HTML: what :meth:`Fit.report <scalinglaws.engine.result.Fit.report>`
(and ``str(fit)``) and ``Fit._repr_html_`` (a notebook's view) return."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalinglaws.engine.records import FitLike, observations


def fit_report(fit: FitLike, level: float = 0.95) -> str:
    """A plain-text report: parameters, intervals, objective and diagnostics."""
    problems = fit.problems
    lines = [f"NOT OK: {'; '.join(problems)}. Do not use these parameters as they are."] if problems else []
    lines.append(f"Fit of {fit.law.name} to {fit.n_runs} {observations(fit)}")
    if fit.law.formula:
        lines.append(f"  law: {fit.law.formula}")
    opts = fit.options
    if opts:
        lines.append(
            f"  objective: {opts.get('loss', '?')}"
            + (f"(delta={opts.get('delta'):g})" if opts.get("loss") == "huber" else "")
            + f" on {opts.get('space', '?')} residuals, summed = {fit.objective:.10g}"
        )
    have_ci = fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2
    ci = fit.intervals(level) if have_ci else {}
    width = max(len(n) for n in fit.params)
    header = f"  {'parameter':<{width}}  {'value':>12}"
    if ci:
        header += f"  {int(level * 100)}% interval"
    lines.append(header)
    for name, value in fit.params.items():
        row = f"  {name:<{width}}  {value:>12.6g}"
        if name in ci:
            row += f"  ({ci[name][0]:.6g}, {ci[name][1]:.6g})"
        if name in fit.fixed:
            row += "  fixed" + (f" ({fit.fixed_source})" if fit.fixed_source else "")
        lines.append(row)
    auto = fit.options.get("auto") if isinstance(fit.options, Mapping) else None
    if auto:
        scores = ", ".join(
            f"{row['candidate']} {row['score']:.4g}" if row.get("score") is not None else f"{row['candidate']} -"
            for row in auto.get("table", [])
        )
        lines.append(
            f"  chosen automatically by nested extrapolation tests along {auto.get('by')} "
            f"(mean held-out log RMSE: {scores})"
        )
        if auto.get("note"):
            lines.append(f"  note: {auto['note']}")
    d = fit.diagnostics
    lines.append(
        f"  converged: {'yes' if d.converged else 'NO'} ({d.iterations} iterations; "
        f"{d.n_starts} starts, {d.n_refined} refined, {d.n_near_best} reached the best objective)"
    )
    lines.append(f"  condition number: {d.condition_number:.3g}")
    if fit.draws is not None:
        lines.append(f"  bootstrap: {len(fit.draws)} resamples, {d.bootstrap_failed} failed")
    for w in d.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def fit_html(fit: FitLike, level: float = 0.9) -> str:
    """The fit as a notebook shows it: verdict, law, parameters with intervals, diagnostics."""
    import html

    e = html.escape
    have = fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2
    ci = fit.intervals(level) if have else {}
    rows = "".join(
        f"<tr><td>{e(n)}</td><td>{v:.6g}</td><td>{f'{ci[n][0]:.4g} – {ci[n][1]:.4g}' if n in ci else ''}</td>"
        f"<td>{'fixed' if n in fit.fixed else ''}</td></tr>" for n, v in fit.params.items())
    head = f"<th>{level:.0%} interval</th>" if ci else "<th></th>"
    trust = (f'<p style="color:#b34700"><b>NOT OK:</b> {e("; ".join(fit.problems))}</p>' if fit.problems
             else '<p style="color:#00785a"><b>OK:</b> converged, every parameter identified</p>')
    formula = f" <code>{e(fit.law.formula)}</code>" if fit.law.formula else ""
    d = fit.diagnostics
    boot = f"{len(fit.draws)} bootstrap refits" if fit.draws is not None else "no bootstrap"
    warn = "".join(f"<li>{e(w)}</li>" for w in d.warnings)
    return (f"<div><b>Fit of {e(fit.law.name)}</b>{formula} to {fit.n_runs} {observations(fit)}{trust}"
            f"<table><thead><tr><th>parameter</th><th>value</th>{head}<th></th></tr></thead><tbody>{rows}"
            f"</tbody></table><p>objective {fit.objective:.6g}; {d.iterations} iterations; condition number "
            f"{d.condition_number:.3g}; {boot}</p>" + (f"<ul>{warn}</ul>" if warn else "") + "</div>")
