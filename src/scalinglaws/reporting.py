"""A review of a law on runs: the fit, its extrapolation test and the plans that follow,
gathered in one :class:`Review` value; and the HTML report that draws it.

This module orchestrates (it fits, validates and plans); :mod:`scalinglaws.render`
only draws the :class:`Review` it returns. The :class:`Review` class itself lives in
:mod:`scalinglaws.render.review` (so that render names it without importing this
module) and is importable from here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.result import Fit
from scalinglaws.errors import LawError, ScalingLawsError, ScalingLawsWarning
from scalinglaws.io import atomic_write_text
from scalinglaws.judge.auto import fit as fit_law
from scalinglaws.judge.sensitivity import sensitivity as sensitivity_of
from scalinglaws.judge.validate import Validation
from scalinglaws.judge.validate import validate as validate_law
from scalinglaws.laws.law import Law
from scalinglaws.plan.isoflop import IsoFlop, isoflop
from scalinglaws.plan.optimal import compute_optimal
from scalinglaws.render.report import render_report
from scalinglaws.render.review import Review
from scalinglaws.render.summary import target


def review(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any] | None = None,
    *,
    fit: Fit | None = None,
    validation: Validation | None = None,
    validate: bool = True,
    holdout: Any = "largest",
    by: str | None = None,
    frac: float = 0.2,
    n: int | None = None,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: int = 0,
    candidates: Sequence[str | Law] | None = None,
    plan_flops: Sequence[float] | None = None,
    sensitivity_check: bool = True,
    **fit_kwargs: Any,
) -> Review:
    """Fit ``law`` (or take ``fit``), test its extrapolation and plan from it.

    Parameters
    ----------
    runs : Runs, DataFrame or path
    law : str, Law or callable, optional
        The law to fit (``"auto"`` to choose one); not needed when ``fit`` is given.
    fit : Fit, optional
        A fit already made on ``runs``; otherwise one is made with ``bootstrap`` refits.
    validation : Validation, optional
        An extrapolation test already made; otherwise, with ``validate=True``, one is
        run with ``holdout``, ``by``, ``frac``, ``n`` (needs ``law``).
    level : float
        Level of every interval.
    bootstrap, seed : int
        Bootstrap refits of the fit and of the validation.
    candidates : sequence, optional
        Candidates of ``law="auto"``.
    plan_flops : sequence of float, optional
        Budgets for the compute-optimal plan (default: 10 and 100 times the largest
        budget in the runs), when the law is in ``n_params`` and ``n_tokens``.
    sensitivity_check : bool
        Refit under other fitting choices (:func:`scalinglaws.sensitivity`) and show
        how far the prediction at the summary's target moves (the first plan's run, else
        10 times the largest value of each scale variable: see :mod:`scalinglaws.render.summary`).
    **fit_kwargs
        Options of :func:`scalinglaws.fit`.
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    if fit is None and law is None:
        raise LawError("a report needs a law (or a fit already made)")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fit is None:
            assert law is not None
            auto_opts: dict[str, Any] = {"candidates": candidates, "by": by} if isinstance(law, str) and law.strip().lower() == "auto" else {}
            fit = fit_law(runs, law, bootstrap=bootstrap, seed=seed, **auto_opts, **fit_kwargs)
    # the validation's refits warn about their own fits: those are not the main fit's warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if validation is None and validate and law is not None:
            try:
                validation = validate_law(runs, law, holdout=holdout, by=by, frac=frac, n=n, level=level,
                                          bootstrap=bootstrap, seed=seed, candidates=candidates, **fit_kwargs)
            except ScalingLawsError as err:
                notes.append(f"validation not run: {err}")
        # the plans' and the summary's predictions beyond the runs are the point of a
        # report: the page shows how far out they are, so they do not warn on stderr
        plans = _plans(fit, runs, plan_flops, level)
        sens = None
        if law is not None and sensitivity_check and not (isinstance(law, str) and law.strip().lower() == "auto"):
            # the sensitivity is checked where the summary predicts, so that its verdict
            # and the sensitivity table speak of the same prediction
            tgt = target(Review(runs=runs, fit=fit, level=level, plans=plans))
            at = tgt.at if tgt is not None and set(fit.law.variables) <= set(tgt.at) else None
            try:
                sens = sensitivity_of(runs, law, by=by, at=at, **fit_kwargs)
            except ScalingLawsError as err:
                notes.append(f"sensitivity not run: {err}")
    found = tuple(dict.fromkeys([*fit.diagnostics.warnings,
                                 *(str(w.message) for w in caught if issubclass(w.category, UserWarning))]))
    iso = _isoflop(fit, runs, notes)
    return Review(runs=runs, fit=fit, validation=validation, level=level,
                  plans=plans, sensitivity=sens, notes=tuple(notes), warnings=found,
                  isoflop=iso)


def _isoflop(fit: Fit, runs: Runs, notes: list[str]) -> IsoFlop | None:
    """The runs' IsoFLOP analysis for the figure, when the law and the runs have one; its
    own warnings stay in the result (they are about the runs' design, not the fit)."""
    numeric = {v for v in fit.law.variables if v not in fit.law.categorical}
    if not ({"n_params", "n_tokens"} <= numeric and {"n_params", "flops"} <= set(runs.columns)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return isoflop(runs, bootstrap=0)
    except ScalingLawsError as err:
        notes.append(f"IsoFLOP figure not drawn: {err}")
        return None


def build_report(runs: Runs | pd.DataFrame | str, law: Any = None, *, title: str | None = None,
                 figures: bool = True, **options: Any) -> str:
    """The report as one HTML string: :func:`review` (same options), then
    :func:`scalinglaws.render.report.render_report`."""
    return _render(review(runs, law, **options), title=title, figures=figures)


def _render(made: Review, *, title: str | None = None, figures: bool = True) -> str:
    with warnings.catch_warnings():
        # the figures draw the law past the runs on purpose (the range is shaded) and the
        # summary predicts at the plan: the page says how far out, stderr need not
        warnings.filterwarnings("ignore", message="beyond the fitted range", category=ScalingLawsWarning)
        return render_report(made, title=title, figures=figures)


def write_report(path: str | Path, runs: Runs | pd.DataFrame | str, law: Any = None, **options: Any) -> Path:
    """Build the report (:func:`build_report` options) and write it atomically to ``path``."""
    text = build_report(runs, law, **options)
    target = Path(path)
    atomic_write_text(target, text)
    return target


def _plans(fit: Fit, runs: Runs, plan_flops: Sequence[float] | None, level: float) -> tuple[tuple[float, Any], ...]:
    numeric = {v for v in fit.law.variables if v not in fit.law.categorical}
    if not {"n_params", "n_tokens"} <= numeric:
        return ()
    if plan_flops is None:
        if "flops" not in runs.columns:
            return ()
        top = float(np.max(runs.column("flops")))
        plan_flops = [10 * top, 100 * top]
    out: list[tuple[float, Any]] = []
    for c in plan_flops:
        try:
            out.append((float(c), compute_optimal(fit, flops=float(c), level=level)))
        except (ScalingLawsError, ValueError) as err:
            out.append((float(c), str(err)))
    return tuple(out)


__all__ = ["Review", "build_report", "review", "write_report"]
