"""The value a report draws: :class:`Review` (runs, fit, extrapolation test, plans,
sensitivity, IsoFLOP analysis, notes and warnings).

:func:`scalinglaws.reporting.review` makes one (it fits, validates and plans); this
layer only holds it, so that :mod:`scalinglaws.render.report` and
:mod:`scalinglaws.render.summary` can name its type without importing the module that
makes it. Importable from :mod:`scalinglaws.reporting` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scalinglaws.data.runs import Runs
from scalinglaws.engine.result import Fit

if TYPE_CHECKING:  # types only: render never imports the code that validates or plans
    from scalinglaws.judge.sensitivity import Sensitivity
    from scalinglaws.judge.validation import Validation
    from scalinglaws.plan.isoflop import IsoFlop

__all__ = ["Review"]


@dataclass(frozen=True)
class Review:
    """What a report shows: runs, the fit, the extrapolation test, plans, and every
    warning raised while making them.

    Attributes
    ----------
    runs : Runs
    fit : Fit
    validation : Validation or None
    level : float
        Level of every interval.
    plans : tuple of (flops, Plan or str)
        Compute-optimal plans; a string says why a budget could not be planned.
    sensitivity : Sensitivity or None
        How far the prediction at the summary's target (the first compute-optimal plan's
        run, else 10 times the largest value of each scale variable) moves under other fitting
        choices (Li et al. 2025).
    isoflop : IsoFlop or None
        The IsoFLOP analysis of the runs (:func:`scalinglaws.isoflop`, no bootstrap),
        made when the law is in ``n_params`` and ``n_tokens`` and the runs allow one.
    notes : tuple of str
        Steps that were not run, and why.
    warnings : tuple of str
        The main fit's diagnostics and the warnings raised while making it, without
        duplicates (the validation's own warnings are ``validation.warnings``).
    """

    runs: Runs
    fit: Fit
    validation: Validation | None = None
    level: float = 0.9
    plans: tuple[tuple[float, Any], ...] = ()
    sensitivity: Sensitivity | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    isoflop: IsoFlop | None = None
