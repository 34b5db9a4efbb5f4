"""scalinglaws: turn small training runs into trustworthy predictions about large ones.

>>> import scalinglaws as sl
>>> sorted(sl.laws.names())[:3]
['bnsl', 'chinchilla', 'henighan']
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import flops, laws, plot, schedules, trackers
from .compare import Comparison, LadderComparison, compare, compare_ladders
from .report import build_report, write_report
from .select import Selection, choose_law
from .validate import Validation, validate
from .hparams import CriticalBatch, HparamAdvice, HparamFit, HparamLaw, critical_batch_size, fit_hparams, hparam_preset, recommend_hparams
from .isoflop import IsoFlop, PowerLawFit, envelope, fit_power_law, isoflop
from .plan import Plan, compute_for_loss, compute_optimal, fit_from_params, frontier
from .suggest import Suggestion, suggest_runs
from .curves import CurveFit, best_cooldown, fit_curves, load_curves
from .downstream import coverage_table, pass_at_k, predict_downstream, samples_for_coverage
from .errors import DataError, FitError, LawError, ScalingLawsError, ScalingLawsWarning
from .fit import fit
from .law import Law, Param, formula_law, function_law
from .laws import get_law
from .result import Diagnostics, Fit
from .runs import Runs, load_runs

__all__ = [
    "Comparison",
    "LadderComparison",
    "Selection",
    "Validation",
    "build_report",
    "choose_law",
    "compare",
    "compare_ladders",
    "plot",
    "validate",
    "write_report",
    "CriticalBatch",
    "HparamAdvice",
    "HparamFit",
    "HparamLaw",
    "IsoFlop",
    "Plan",
    "PowerLawFit",
    "Suggestion",
    "compute_for_loss",
    "compute_optimal",
    "critical_batch_size",
    "envelope",
    "fit_from_params",
    "fit_hparams",
    "fit_power_law",
    "flops",
    "frontier",
    "hparam_preset",
    "isoflop",
    "recommend_hparams",
    "suggest_runs",
    "CurveFit",
    "best_cooldown",
    "coverage_table",
    "fit_curves",
    "load_curves",
    "pass_at_k",
    "predict_downstream",
    "samples_for_coverage",
    "schedules",
    "trackers",
    "DataError",
    "Diagnostics",
    "Fit",
    "FitError",
    "Law",
    "LawError",
    "Param",
    "Runs",
    "ScalingLawsError",
    "ScalingLawsWarning",
    "__version__",
    "fit",
    "formula_law",
    "function_law",
    "get_law",
    "laws",
    "load_runs",
]
