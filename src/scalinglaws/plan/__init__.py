"""Layer 4, plan: decisions from fits. Compute-optimal allocation, FLOP and parameter
accounting, IsoFLOP analysis, hyperparameter laws and next-run suggestions."""

from scalinglaws.plan.optimal import Plan, compute_for_loss, compute_optimal, fit_from_params, frontier

__all__ = ["Plan", "compute_for_loss", "compute_optimal", "fit_from_params", "frontier"]
