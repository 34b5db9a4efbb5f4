"""Data laws: what the mixture, the domain ratio and the quality of the data are worth.

==================  ================================================================  ===========================
name                law                                                               variables
==================  ================================================================  ===========================
``dcpt``            E + A/N^alpha + B r^eta / D^beta + C / (r + eps)^gamma            n_params, n_tokens, mix_ratio
``data_mixing``     c + exp(t_1 r_1 + ... + t_k r_k)                                  the k proportions r_j
``data_filtering``  d + exp(b_0 log(a min(n, U)) + sum_j b_j log(n_{j+1} / n_j))      n_tokens, unique_tokens
==================  ================================================================  ===========================

``dcpt`` is the D-CPT law of Que et al. (2024, arXiv 2406.01375): the loss after
continual pre-training of an ``N``-parameter model on ``D`` tokens of which a fraction
``r`` is domain data. It is fitted separately to the domain loss and to the general
loss (the paper fits the general loss against the general share ``r_g = 1 - r``, its
Fig. 1; ``plan_cpt_mixture(..., general_ratio="general")`` reads such a fit);
:func:`scalinglaws.plan.data_mix.plan_cpt_mixture` picks the ``r`` that minimises the
first while keeping the second within a tolerance.

``data_mixing`` is the data mixing law of Ye et al. (2024, arXiv 2403.16952),
``L_i(r) = c_i + k_i exp(sum_j t_ij r_j)``, for one validation domain ``i`` over the
proportions ``r_1..r_k`` of ``k`` training domains. On the simplex (proportions that
sum to 1) ``k_i`` is redundant with a common shift of the ``t_ij``
(``k exp(sum t_j r_j) = exp(sum (t_j + log k) r_j)``), so the catalog law drops it and
fits ``c`` and one ``t`` per domain, which the data then identify; Ye's ``k_i`` and
``t_ij`` are any split of these. The variables are named by the ``domains`` option:
``get_law("data_mixing", domains=("web", "code"))`` reads the columns ``web`` and
``code``; ``domains=3`` reads ``r_1, r_2, r_3``.

``data_filtering`` is the law of Goyal et al. (2024, "Scaling Laws for Data
Filtering", arXiv 2404.07177) for one pool of data of ``U`` unique samples (or tokens)
seen ``n`` times in all: error (or loss) falls as a power of the samples seen with
exponent ``b`` (the pool's *utility*, negative), and each repetition halves the
utility every ``tau`` epochs (its *half-life*): in epoch ``j`` (``j = 0`` the first
pass) the exponent is ``b_j = b 0.5^(j/tau)`` and the error is multiplied by
``(n_{j+1}/n_j)^{b_j}``, ``n_j`` the samples seen when the epoch starts. ``a`` scales
the samples (one constant shared by the pools of a data set) and ``d`` is the floor.
This is the form of the authors' repository (``objective.py``, effective utility, with
the floor added once as in its aggregation over pools);
:func:`scalinglaws.plan.data_mix.plan_filtering` mixes pools and picks the filter for
a budget of samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, Param, formula_law
from scalinglaws.laws.variables import VOCABULARY, Variable

__all__ = ["MIX_RATIO", "data_filtering", "data_mixing", "dcpt", "filtering_error", "mixing_domains"]

#: r of the D-CPT law: the fraction of the continual pre-training corpus the loss is about.
MIX_RATIO = Variable(
    "mix_ratio",
    unit="fraction",
    positive=False,
    meaning="mixture ratio r: fraction of domain data in the continual pre-training corpus (0 to 1)",
)

#: The most epochs :func:`filtering_error` sums (a pool seen more often is refused).
MAX_EPOCHS = 10_000


# --------------------------------------------------------------------------- D-CPT


def _dcpt_starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """E below the lowest loss; A and C of the size of the loss span at the data's N and r."""
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    n = np.asarray(variables.get("n_params", ()), dtype=float)
    d = np.asarray(variables.get("n_tokens", ()), dtype=float)
    n, d = n[np.isfinite(n) & (n > 0)], d[np.isfinite(d) & (d > 0)]
    if not values.size or not n.size or not d.size:
        return {}
    ymin, ymax = float(values.min()), float(values.max())
    span = max(ymax - ymin, 1e-3 * max(abs(ymax), 1e-12))
    nmid, dmid = float(np.exp(np.mean(np.log(n)))), float(np.exp(np.mean(np.log(d))))
    return {
        "E": (0.5 * ymin, 0.9 * ymin) if ymin > 0 else (0.0,),
        "A": (span * nmid**0.3,),
        "B": (span * dmid**0.3,),
        "C": (0.1 * span, span),
    }


def _zero_ratio_safe(law: Law) -> Law:
    """The law with its Jacobian finite at r = 0: d(r^eta)/d(eta) = r^eta log r is 0 there
    (the limit), where the symbolic form gives 0 * -inf = NaN and would stop every fit on
    runs of pure general data."""
    vg = law.value_and_grad
    if vg is None:  # pragma: no cover - formula laws always carry one
        return law

    def safe(X: Mapping[str, Any], P: Mapping[str, Any]) -> tuple[Any, list[Any]]:
        f, grads = vg(X, P)
        zero = np.asarray(X["mix_ratio"], dtype=float) == 0
        if not zero.any():
            return f, grads
        return f, [np.where(zero & ~np.isfinite(g), 0.0, g) for g in grads]

    return replace(law, value_and_grad=safe)


def dcpt() -> Law:
    """Que et al. (2024): continual pre-training loss in N, D and the domain ratio r."""
    return _zero_ratio_safe(formula_law(
        "E + A / n_params**alpha + B * mix_ratio**eta / n_tokens**beta + C / (mix_ratio + eps)**gamma",
        name="dcpt",
        variables=["n_params", "n_tokens", MIX_RATIO],
        params=[
            Param("E", 0.0, math.inf, grid=(1.0,), doc="irreducible loss"),
            Param("A", 0.0, math.inf, log=True, grid=(10.0,), doc="model-size coefficient"),
            Param("alpha", 1e-3, 3.0, grid=(0.3,), doc="model-size exponent"),
            Param("B", 0.0, math.inf, log=True, grid=(10.0,), doc="data coefficient"),
            Param("eta", 0.0, 5.0, grid=(0.1, 0.5), doc="how the data term grows with r"),
            Param("beta", 1e-3, 3.0, grid=(0.3,), doc="data exponent"),
            Param("C", 0.0, math.inf, log=True, grid=(0.1,), doc="mixture coefficient"),
            Param("eps", 1e-4, 10.0, log=True, grid=(0.01, 0.1), doc="offset keeping the mixture term finite at r = 0"),
            Param("gamma", 1e-3, 5.0, grid=(0.3, 1.0), doc="mixture exponent"),
        ],
        source="Que et al. 2024, D-CPT Law: Domain-specific Continual Pre-Training Scaling Law for Large "
        "Language Models (arXiv 2406.01375, NeurIPS 2024), its preferred parameterisation; "
        "constants are per domain and per loss (general or domain)",
        description="loss after continual pre-training on n_tokens tokens of which a fraction mix_ratio is domain "
        "data; fit it once to the domain loss and once to the general loss",
        grid_fn=_dcpt_starts,
    ))


# --------------------------------------------------------------------------- Ye et al.


def mixing_domains(domains: int | Sequence[str]) -> tuple[str, ...]:
    """The variable names of a mixing law: ``r_1..r_k`` for an int, else the names given."""
    if isinstance(domains, bool):
        raise LawError(f"domains is a number of domains (2 or more) or their column names, got {domains!r}")
    if isinstance(domains, int):
        if domains < 2:
            raise LawError(f"a data mixture has 2 domains or more, got domains={domains}")
        return tuple(f"r_{j}" for j in range(1, domains + 1))
    if isinstance(domains, str) or not isinstance(domains, Sequence):
        raise LawError(f"domains is a number of domains or a list of column names, got {domains!r}")
    names = tuple(str(d) for d in domains)
    if len(names) < 2:
        raise LawError(f"a data mixture has 2 domains or more, got {list(names)}")
    bad = [n for n in names if not n.isidentifier() or n.startswith("_") or n in ("c", "exp")]
    if bad:
        raise LawError(f"domain names must be identifiers other than 'c' and 'exp' (they name columns), got {bad[0]!r}")
    if len(set(names)) != len(names):
        raise LawError(f"domain names repeat: {list(names)}")
    return names


def _mixing_starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if not values.size:
        return {}
    ymin = float(values.min())
    return {"c": (0.0, 0.5 * ymin, 0.9 * ymin) if ymin > 0 else (0.0,)}


def data_mixing(domains: int | Sequence[str] = 2) -> Law:
    """Ye et al. (2024): one validation domain's loss against the training proportions.

    ``domains`` is the number of training domains (variables ``r_1..r_k``) or their
    column names. The law is ``c + exp(sum_j t_<domain> r_<domain>)``: Ye's law with
    ``k_i`` folded into the ``t`` (exact on the simplex; see the module's docstring).
    """
    names = mixing_domains(domains)
    variables = [Variable(n, unit="fraction", meaning=f"proportion of training domain {n!r} in the mixture")
                 for n in names]
    exponent = " + ".join(f"t_{n} * {n}" for n in names)
    params = [Param("c", 0.0, math.inf, grid=(0.0,), doc="loss the mixture cannot remove")]
    params += [Param(f"t_{n}", -50.0, 50.0, grid=(-1.0, 1.0) if j == 0 else (0.0,),
                     doc=f"log-loss change per unit proportion of {n!r} (negative: {n!r} helps)")
               for j, n in enumerate(names)]
    return formula_law(
        f"c + exp({exponent})",
        name="data_mixing",
        variables=variables,
        params=params,
        source="Ye et al. 2024, Data Mixing Laws: Optimizing Data Mixtures by Predicting Language Modeling "
        "Performance (arXiv 2403.16952, ICLR 2025): L_i(r) = c_i + k_i exp(sum_j t_ij r_j), with k_i "
        "folded into t_ij (equal on the simplex)",
        description="one validation domain's loss (or the total loss) against the training-domain proportions; "
        "the proportions of a run sum to 1",
        grid_fn=_mixing_starts,
    )


# --------------------------------------------------------------------------- Goyal et al.


def filtering_error(
    n: Any, sizes: Sequence[Any], b: Sequence[Any], tau: Sequence[Any], a: Any, d: Any
) -> np.ndarray:
    """Goyal et al.'s error after ``n`` samples drawn uniformly from a mix of pools.

    Pool ``i`` holds ``sizes[i]`` unique samples, has utility ``b[i]`` and half-life
    ``tau[i]`` (epochs). One epoch is a pass over all pools together (``sum(sizes)``
    samples); in epoch ``j`` the mix's utility is the size-weighted mean of
    ``b_i 0.5^(j / tau_i)`` (the authors' aggregation of utilities). One pool is the
    ``data_filtering`` law. Arguments broadcast with numpy's rules; the result has
    their broadcast shape.
    """
    n = np.asarray(n, dtype=float)
    sizes_a = [np.asarray(s, dtype=float) for s in sizes]
    total = sum(sizes_a)
    with np.errstate(all="ignore"):
        epochs = n / total
    finite = epochs[np.isfinite(epochs)]
    most = float(finite.max()) if finite.size else 1.0
    if most > MAX_EPOCHS:
        raise LawError(f"data_filtering: more than {MAX_EPOCHS} epochs over a pool; the law is summed epoch by epoch")
    top = max(math.ceil(most), 1)
    weights = [s / total for s in sizes_a]
    log_a = np.log(np.asarray(a, dtype=float))
    j = np.arange(1, top + 1, dtype=float).reshape((-1,) + (1,) * max(np.ndim(epochs), 0))

    def utility(k: Any) -> Any:
        return sum(w * np.asarray(bi, dtype=float) * 0.5 ** (k / np.asarray(ti, dtype=float))
                   for w, bi, ti in zip(weights, b, tau))

    with np.errstate(all="ignore"):
        first = utility(0.0) * (log_a + np.log(np.minimum(n, total)))
        # log of (samples at the end of epoch j, or now) over (samples at its start), 0 before it starts
        steps = np.log(np.clip(epochs, j, j + 1) / j)  # (J, *shape(n))
        later = np.zeros(np.broadcast_shapes(np.shape(first), np.shape(epochs)))
        for k in range(steps.shape[0]):  # J is small (epochs), the rest is vectorised
            later = later + utility(float(k + 1)) * steps[k]
        return np.asarray(d + np.exp(first + later), dtype=float)


def _filtering_function(X: Mapping[str, Any], P: Mapping[str, Any]) -> Any:
    return filtering_error(X["n_tokens"], [X["unique_tokens"]], [P["b"]], [P["tau"]], P["a"], P["d"])


def _filtering_starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    n = np.asarray(variables.get("n_tokens", ()), dtype=float)
    n = n[np.isfinite(n) & (n > 0)]
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if not n.size or not values.size:
        return {}
    ymin = float(values.min())
    nmid = float(np.exp(np.mean(np.log(n))))
    return {"a": (1e-2 / nmid, 1.0 / nmid, 1e2 / nmid), "d": (0.0, 0.5 * ymin) if ymin > 0 else (0.0,)}


def data_filtering() -> Law:
    """Goyal et al. (2024): error of one data pool, with utility that halves every tau repeats."""
    return Law(
        name="data_filtering",
        variables=("n_tokens", "unique_tokens"),
        params=(
            Param("a", 0.0, math.inf, log=True, grid=(1e-6,), doc="scale of the samples (shared by a data set's pools)"),
            Param("b", -5.0, 0.0, grid=(-0.3, -0.1), doc="utility: the power of the samples seen on a first pass (< 0)"),
            Param("tau", 1e-2, 1e3, log=True, grid=(1.0, 5.0), doc="half-life: epochs over which the utility halves"),
            Param("d", 0.0, math.inf, grid=(0.0,), doc="floor of the error"),
        ),
        function=_filtering_function,
        formula="d + (a n_1)^b_0 * prod_j (n_{j+1}/n_j)^b_j, b_j = b 0.5^(j/tau), n_j = j * unique_tokens",
        source="Goyal et al. 2024, Scaling Laws for Data Filtering - Data Curation cannot be Compute Agnostic "
        "(CVPR 2024, arXiv 2404.07177): utility and half-life of repeated data; the form of the authors' "
        "repository locuslab/scaling_laws_data_filtering, objective.py",
        description="error (or loss) after n_tokens samples drawn from a pool of unique_tokens unique samples",
        spec={"catalog": "data_filtering", "options": {}},
        grid_fn=_filtering_starts,
        target="loss",
        variable_info=(VOCABULARY["n_tokens"], VOCABULARY["unique_tokens"]),
    )
