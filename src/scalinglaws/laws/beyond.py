"""Laws beyond the final loss: learning curves, over-training, downstream error, repeated sampling.

Every factory returns an ordinary :class:`~scalinglaws.laws.law.Law`, so ``sl.fit(runs,
"overtraining")`` fits it with the same engine as any other law.

=================  =========================================  ====================  ==========
name               law                                        variables             target
=================  =========================================  ====================  ==========
``lr_annealing``   L0 + A*s1^-alpha - C*s2                    s1, s2                loss
``kaplan_steps``   (N_c/N)^alpha_N + (S_c/S)^alpha_S          n_params, steps       loss
``overtraining``   E + a*N^-alpha + b*6^(-alpha/2)*(M*N)^-alpha  n_params, tokens_per_param  loss
``downstream_exp`` eps - k*exp(-gamma*L)                      loss                  an error column
``coverage``       exp(a * k^b)                               n_samples             coverage
``loss_to_loss``   K*(L_x - E_x)^kappa + E_y                  loss_x                loss
=================  =========================================  ====================  ==========
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.errors import FitError
from scalinglaws.laws.law import Law, Param, formula_law

__all__ = [
    "coverage",
    "downstream_exp",
    "early_stopping_steps",
    "kaplan_steps",
    "loss_to_loss",
    "lr_annealing",
    "overtraining",
]


def _ymin(y: Any) -> float:
    arr = np.asarray(y, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.min()) if arr.size else 1.0


# --------------------------------------------------------------------------- learning curves


def _annealing_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts scaled to the data: LR units set the size of A and C."""
    y = np.asarray(y, dtype=float)
    s1 = np.asarray(variables["s1"], dtype=float)
    s2 = np.abs(np.asarray(variables["s2"], dtype=float))
    lo, med = _ymin(y), float(np.median(y))
    s1ref = float(np.median(s1[s1 > 0])) if (s1 > 0).any() else 1.0
    span = max(med - 0.8 * lo, 1e-3 * max(lo, 1e-12))
    a0 = span * math.sqrt(s1ref)
    c0 = 0.1 * max(lo, 1e-3) / max(float(s2.max()) if s2.size else 0.0, 1e-12)
    return {"L0": (0.5 * lo, 0.8 * lo), "A": (a0 / 3, a0, 3 * a0), "C": (c0 / 10, c0, 10 * c0)}


def lr_annealing() -> Law:
    """Tissue, Wang, Wang (2024): the loss after each step under any LR schedule.

    ``s1`` (forward area) and ``s2`` (annealing area) come from the schedule, see
    :func:`scalinglaws.dynamics.schedules.areas`; :func:`scalinglaws.fit_curves` computes them.
    """
    return formula_law(
        "L0 + A * s1**(-alpha) - C * s2",
        name="lr_annealing",
        variables=["s1", "s2"],
        params=[
            Param("L0", 0.0, math.inf, grid=(1.0,), doc="loss floor at infinite forward area"),
            Param("A", 0.0, math.inf, log=True, grid=(1.0,), doc="scale of the forward (power-law) term"),
            Param("alpha", 1e-4, 10.0, grid=(0.3, 0.6, 1.0), doc="exponent of the forward area"),
            Param("C", 0.0, math.inf, log=True, grid=(1.0,), doc="loss drop per unit of annealing area"),
        ],
        source="Tissue, Wang, Wang 2024, Scaling Law with Learning Rate Annealing (arXiv 2408.11029), Eq. 1",
        description="validation loss after each step; s1 = sum of LRs so far, s2 = annealing area with momentum",
        grid_fn=_annealing_grid,
    )


def kaplan_steps() -> Law:
    """Kaplan et al. (2020), Eq. 1.6: loss against model size and steps, with infinite data.

    Use ``steps`` = S_min (steps at a batch far below the critical batch) to follow the
    paper; the fit was made on all steps after warmup.
    """
    return formula_law(
        "(N_c / n_params)**alpha_N + (S_c / steps)**alpha_S",
        name="kaplan_steps",
        params=[
            Param("N_c", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), doc="model-size scale"),
            Param("alpha_N", 1e-4, 5.0, grid=(0.05, 0.1, 0.3), doc="model-size exponent"),
            Param("S_c", 0.0, math.inf, log=True, grid=(1e2, 2e3, 1e5), doc="step scale"),
            Param("alpha_S", 1e-4, 5.0, grid=(0.3, 0.76, 1.5), doc="step exponent"),
        ],
        source="Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv 2001.08361), Eq. 1.6, "
        "Table 3 (alpha_N 0.077, alpha_S 0.76, N_c 6.5e13, S_c 2.1e3; N non-embedding)",
        description="learning curve L(N, S) of a model with n_params parameters after steps (S_min) updates",
    )


def early_stopping_steps(params: Mapping[str, float] | Any, *, n_params: Any, loss: Any) -> np.ndarray:
    """Kaplan's early-stopping bound: S_stop >= S_c / (L(N, D) - L(N, inf))**(1/alpha_S).

    Parameters
    ----------
    params : Fit or dict
        A ``kaplan_steps`` fit, or its parameters ``N_c, alpha_N, S_c, alpha_S``.
    n_params : float or array
        Model size N; the converged loss is ``L(N, inf) = (N_c / N)**alpha_N``.
    loss : float or array
        ``L(N, D)``, the loss the model reaches with finite data (e.g. from a ``kaplan`` fit).

    Returns
    -------
    array
        The bound, broadcast over ``n_params`` and ``loss``; inf where ``loss`` does not
        exceed the converged loss.

    Examples
    --------
    >>> p = {"N_c": 6.5e13, "alpha_N": 0.077, "S_c": 2.1e3, "alpha_S": 0.76}
    >>> round(float(early_stopping_steps(p, n_params=1e9, loss=2.5)))
    24925
    """
    p = getattr(params, "params", params)
    try:
        N_c, a_N, S_c, a_S = (float(p[k]) for k in ("N_c", "alpha_N", "S_c", "alpha_S"))
    except KeyError as err:
        raise FitError(f"early_stopping_steps needs a kaplan_steps fit; missing parameter {err}") from None
    gap = np.asarray(loss, dtype=float) - (N_c / np.asarray(n_params, dtype=float)) ** a_N
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > 0, S_c / np.where(gap > 0, gap, 1.0) ** (1.0 / a_S), np.inf)


# --------------------------------------------------------------------------- over-training and downstream


def overtraining() -> Law:
    """Gadre et al. (2024): Chinchilla with one shared exponent, in N and M = tokens per parameter.

    The code form of the paper (``powlaw_ours``), with ``alpha = -e > 0``:
    ``L = E + a*N^-alpha + b*6^(-alpha/2)*(M*N)^-alpha``. It is Chinchilla's
    ``E + A/N^alpha + B/D^alpha`` with ``A = a`` and ``B = b*6^(-alpha/2)``; at fixed M,
    ``log(L - E)`` falls linearly in ``log C`` with slope ``-alpha/2`` (Gadre et al. 2024, §2.2).
    Runs with ``n_tokens`` and ``n_params`` need nothing more: the fit derives
    ``tokens_per_param = n_tokens / n_params`` (its declaration in the vocabulary says
    how); a table that keeps M under another name maps it with
    ``variables={"tokens_per_param": "tok_mult_M"}``.
    """
    return formula_law(
        "E + a * n_params**(-alpha) + b * 6**(-alpha/2) * (tokens_per_param * n_params)**(-alpha)",
        name="overtraining",
        params=[
            Param("E", 0.0, math.inf, grid=(0.0, 1.0, 2.0, 10.0), doc="irreducible loss"),
            Param("a", 0.0, math.inf, grid=(1e2, 3e2, 1e3, 3e3), doc="model-size coefficient"),
            Param("b", 0.0, math.inf, grid=(1e2, 3e2, 1e3, 3e3), doc="data coefficient (times 6^(alpha/2))"),
            Param("alpha", 0.0, 10.0, grid=(0.1, 0.3), doc="shared exponent (-e in the paper's code)"),
        ],
        source="Gadre et al. 2024, Language Models Scale Reliably with Over-Training and on Downstream Tasks "
        "(arXiv 2403.08540), scaling/laws.py powlaw_ours; start grid 4x4x2x4 from curve_fit_powlaw_ours",
        description="loss of a model with n_params parameters trained on tokens_per_param * n_params tokens",
    )


def downstream_exp() -> Law:
    """Gadre et al. (2024): average top-1 error from loss, ``Err(L) = eps - k*exp(-gamma*L)``.

    Fit it with the error column as the target: ``sl.fit(pairs, "downstream_exp",
    target="err")``. The paper fits it by least squares in linear space from
    ``eps = k = gamma = 1`` (``loss="squared", space="linear"``).
    """

    def grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        top = float(np.nanmax(np.asarray(y, dtype=float))) if np.size(y) else 1.0
        return {"eps": (1.0, max(top, 1e-3) * 1.1)}

    return formula_law(
        "eps - k * exp(-gamma * loss)",
        name="downstream_exp",
        params=[
            Param("eps", 0.0, math.inf, grid=(1.0,), doc="error of a model with infinite loss (random guessing)"),
            Param("k", 0.0, math.inf, grid=(0.5, 1.0, 3.0), doc="scale"),
            Param("gamma", 0.0, 50.0, grid=(0.3, 1.0, 3.0), doc="rate: Err = eps - k * perplexity^-gamma"),
        ],
        source="Gadre et al. 2024 (arXiv 2403.08540), Eq. for top-1 error; scaling/shared.py fit_ds",
        description="downstream top-1 error against loss (column 'error', or name yours with target=)",
        grid_fn=grid,
        target="error",
    )


# --------------------------------------------------------------------------- repeated sampling, loss to loss


def coverage() -> Law:
    """Brown et al. (2024), Large Language Monkeys: coverage ``c(k) = exp(a * k^b)``, a < 0, b < 0.

    The target column is ``coverage`` (fraction of problems solved by at least one of
    ``n_samples`` samples); :func:`scalinglaws.coverage_table` makes one from
    per-problem counts.
    """
    return formula_law(
        "exp(a * n_samples**b)",
        name="coverage",
        params=[
            Param("a", -math.inf, 0.0, grid=(-0.3, -1.0, -3.0), doc="log coverage at one sample (a < 0)"),
            Param("b", -10.0, 0.0, grid=(-0.1, -0.3, -0.7), doc="exponent (b < 0)"),
        ],
        source="Brown et al. 2024, Large Language Monkeys: Scaling Inference Compute with Repeated Sampling "
        "(arXiv 2407.21787), Eq. 2-3",
        description="coverage (pass@k over problems) against the number of samples k",
        target="coverage",
    )


def loss_to_loss() -> Law:
    """Brandfonbrener et al. (2024): a shifted power law between two losses of paired models.

    ``loss = K * (loss_x - E_x)**kappa + E_y``: the target is the loss on the second
    set, ``loss_x`` the loss on the first. The paper takes E_x and E_y from separate
    compute fits: pin them with ``fixed={"E_x": ..., "E_y": ...}``; they are weakly
    identified from the pairs alone.
    """

    def grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        xmin, ymin = _ymin(variables["loss_x"]), _ymin(y)
        return {"E_x": (0.0, 0.5 * xmin, 0.8 * xmin), "E_y": (0.0, 0.5 * ymin, 0.8 * ymin)}

    return formula_law(
        "K * (loss_x - E_x)**kappa + E_y",
        name="loss_to_loss",
        params=[
            Param("K", 0.0, math.inf, log=True, grid=(0.5, 1.0, 2.0), doc="scale"),
            Param("E_x", 0.0, math.inf, grid=(0.0,), doc="irreducible loss of the first set"),
            Param("kappa", 1e-3, 10.0, grid=(0.5, 1.0, 2.0), doc="exponent"),
            Param("E_y", 0.0, math.inf, grid=(0.0,), doc="irreducible loss of the second set"),
        ],
        source="Brandfonbrener et al. 2024, Loss-to-Loss Prediction: Scaling Laws for All Datasets "
        "(arXiv 2411.12925)",
        description="loss on one data set (target) against loss_x on another, for the same models",
        grid_fn=grid,
    )
