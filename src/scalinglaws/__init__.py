"""scalinglaws: turn small training runs into trustworthy predictions about large ones.

>>> import scalinglaws as sl
>>> 'chinchilla' in sl.laws.names()
True
"""

from __future__ import annotations

from scalinglaws._version import __version__

from scalinglaws.plan import flops
from scalinglaws import laws
from scalinglaws.render import plot
from scalinglaws.dynamics import schedules
from scalinglaws.data import datasets, trackers
from scalinglaws.judge.compare import Comparison, LadderComparison, compare, compare_ladders
from scalinglaws.reporting import Review, build_report, review, write_report
from scalinglaws.judge.auto import Selection, choose_law
from scalinglaws.judge.validate import Validation, validate
from scalinglaws.judge.sensitivity import Sensitivity, sensitivity
from scalinglaws.plan.hparams import CriticalBatch, HparamAdvice, HparamFit, HparamLaw, critical_batch_size, fit_hparams, hparam_preset, recommend_hparams
from scalinglaws.plan.isoflop import IsoFlop, PowerLawFit, envelope, fit_power_law, isoflop
from scalinglaws.plan.optimal import Plan, compute_for_loss, compute_optimal, fit_from_params, frontier
from scalinglaws.plan.suggest import Suggestion, suggest_runs
from scalinglaws.dynamics.curves import CurveFit, best_cooldown, fit_curves, load_curves
from scalinglaws.dynamics.schedule_search import ScheduleSearch, optimize_schedule
from scalinglaws.plan.critical_batch import CriticalBatchFit, fit_critical_batch, kaplan_critical_batch, to_minimal_steps, to_minimal_tokens
from scalinglaws.plan.powerlines import PowerLines, PowerLinesAdvice, adamw_timescale, fit_power_lines, weight_decay_for
from scalinglaws.plan.transfer import AdamSetting, adam_sqrt_scaling, ema_momentum, power_scheduler_lr, sqrt_batch_lr
from scalinglaws.dynamics.downstream import coverage_table, pass_at_k, predict_downstream, samples_for_coverage
from scalinglaws.dynamics.emergence import Emergence, emergence
from scalinglaws.dynamics.passuntil import PassRate, pass_until
from scalinglaws.dynamics.finetune_select import FinetuneSelection, select_finetune
from scalinglaws.dynamics.density import CapabilityDensity, DensityTrend, capability_density, density_trend
from scalinglaws.plan.samples import SamplePlan, plan_samples
from scalinglaws.plan.shape import ShapePlan, plan_shape
from scalinglaws.plan.precision import CriticalData, PrecisionPlan, critical_data_size, plan_precision
from scalinglaws.plan.data_mix import DataPlan, plan_cpt_mixture, plan_filtering, plan_mixture
from scalinglaws.errors import DataError, FitError, LawError, ScalingLawsError, ScalingLawsWarning
from scalinglaws.judge.auto import fit
from scalinglaws.laws.law import Law, Param, formula_law, function_law
from scalinglaws.laws.variables import Variable
from scalinglaws.engine.options import Bootstrap, Objective, Starts
from scalinglaws.laws import get_law
from scalinglaws.engine.result import Diagnostics, Fit
from scalinglaws.engine.batch import FitTable, fit_each
from scalinglaws.data.runs import Runs, load_runs

__all__ = [
    "Sensitivity",
    "sensitivity",
    "FitTable",
    "fit_each",
    "datasets",
    "Review",
    "review",
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
    "ScheduleSearch",
    "optimize_schedule",
    "CriticalBatchFit",
    "fit_critical_batch",
    "kaplan_critical_batch",
    "to_minimal_steps",
    "to_minimal_tokens",
    "PowerLines",
    "PowerLinesAdvice",
    "adamw_timescale",
    "fit_power_lines",
    "weight_decay_for",
    "AdamSetting",
    "adam_sqrt_scaling",
    "ema_momentum",
    "power_scheduler_lr",
    "sqrt_batch_lr",
    "best_cooldown",
    "coverage_table",
    "fit_curves",
    "load_curves",
    "pass_at_k",
    "Emergence",
    "emergence",
    "PassRate",
    "pass_until",
    "FinetuneSelection",
    "select_finetune",
    "CapabilityDensity",
    "DensityTrend",
    "capability_density",
    "density_trend",
    "SamplePlan",
    "plan_samples",
    "ShapePlan",
    "plan_shape",
    "PrecisionPlan",
    "CriticalData",
    "plan_precision",
    "critical_data_size",
    "DataPlan",
    "plan_cpt_mixture",
    "plan_mixture",
    "plan_filtering",
    "predict_downstream",
    "samples_for_coverage",
    "schedules",
    "trackers",
    "Bootstrap",
    "DataError",
    "Diagnostics",
    "Fit",
    "FitError",
    "Law",
    "LawError",
    "Objective",
    "Param",
    "Runs",
    "ScalingLawsError",
    "ScalingLawsWarning",
    "Starts",
    "Variable",
    "__version__",
    "fit",
    "formula_law",
    "function_law",
    "get_law",
    "laws",
    "load_runs",
]
