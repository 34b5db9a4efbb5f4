"""Decisions from a fit: the compute-optimal run, with and without inference or data limits.

:func:`compute_optimal` minimises the fitted loss ``L(N, D)`` over model size ``N`` with
``D = C / f(N)`` tokens, where ``f(N)`` is the training FLOPs per token of the FLOP
convention (``6N`` by default; :mod:`scalinglaws.plan.flops` for attention and head FLOPs).

- A law that carries a closed-form optimum (``Law.optimum``) uses it under 6ND; the
  ``chinchilla`` law carries Hoffmann et al. (2022), Eq. 4:
  ``N_opt = G (C/6)^(beta/(alpha+beta))``, ``G = (alpha A / (beta B))^(1/(alpha+beta))``.
- Every other law is solved numerically: a grid of 321 points in ``log N`` (tokens per
  parameter from 1e-6 to 1e8), then six rounds of zooming onto the best grid cell; all
  bootstrap draws are solved together as one array.
- ``inference_tokens`` (Sardana et al. 2023): reach the loss the
  compute-optimal model reaches at ``C`` for the least training + inference FLOPs,
  ``f(N) D + f(N)/3 D_inf`` (``6ND + 2N D_inf`` under 6ND); ``D(N)`` is found by
  bisection on ``L(N, D) = loss``.
- ``unique_tokens`` (Muennighoff et al. 2023): data repeated for
  ``D / U`` epochs. A law with a ``unique_tokens`` variable (``muennighoff``) is used as
  it is; any other law is evaluated at the effective data ``D'`` and parameters ``N'`` with
  the published ``R*_D = 15.39`` and ``R*_N = 5.31``.

Every figure has a percentile interval when the fit has bootstrap draws: the same
optimisation is done under every draw.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.flops import FlopCounter, as_counter, counter_name
from scalinglaws.laws.law import Law
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.engine.trust import check_budget

#: Muennighoff et al. (2023) decay constants of repeated data and excess parameters
#: (from the official datablations code).
R_D_STAR = 15.387756
R_N_STAR = 5.309743

_RATIO_RANGE = (1e-6, 1e8)  # tokens per parameter searched by the numeric solver
_GRID = 321
_ZOOM = (33, 6)  # points per zoom round, rounds


# --------------------------------------------------------------------------- fits


def fit_from_params(
    law: str | Law | Callable[..., Any],
    params: Mapping[str, float],
    *,
    draws: np.ndarray | None = None,
    source: str = "",
    law_options: Mapping[str, Any] | None = None,
) -> Fit:
    """A :class:`Fit` from known parameter values; see :meth:`Fit.from_params`.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28})
    >>> round(float(f.predict(n_params=7e10, n_tokens=1.4e12)), 3)
    1.937
    """
    return Fit.from_params(law, params, draws=draws, source=source, law_options=law_options)


# --------------------------------------------------------------------------- data limits


def effective_tokens(n_tokens: Any, unique_tokens: Any, r_d: float = R_D_STAR) -> Any:
    """Muennighoff et al.'s effective data ``D' = U + U R*_D (1 - exp(-(D/U - 1)/R*_D))``.

    Equal to ``n_tokens`` when no token is repeated (``n_tokens <= unique_tokens``).

    Examples
    --------
    >>> round(float(effective_tokens(4.0, 1.0)), 2)   # 4 epochs are worth ~3.73
    3.73
    """
    D = np.asarray(n_tokens, dtype=float)
    U = np.asarray(unique_tokens, dtype=float)
    repeats = np.maximum(D / U - 1.0, 0.0)
    out = np.where(D <= U, D, U + U * r_d * (1.0 - np.exp(-repeats / r_d)))
    return out if out.ndim else float(out)


def effective_params(n_params: Any, unique_params: Any, r_n: float = R_N_STAR) -> Any:
    """Effective parameters ``N' = U_N + U_N R*_N (1 - exp(-(N/U_N - 1)/R*_N))`` (N if N <= U_N)."""
    N = np.asarray(n_params, dtype=float)
    U = np.asarray(unique_params, dtype=float)
    excess = np.maximum(N / U - 1.0, 0.0)
    out = np.where(N <= U, N, U + U * r_n * (1.0 - np.exp(-excess / r_n)))
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------- the loss model


class _Model:
    """The fitted loss as a function of (N, D) for a batch of parameter sets."""

    def __init__(
        self,
        fit: Fit,
        *,
        at: Mapping[str, Any] | None,
        unique_tokens: float | None,
        repeat_constants: tuple[float, float],
        purpose: str,
    ) -> None:
        law = fit.law
        mapping = dict(fit.options.get("variables") or {})
        column = {v: mapping.get(v, v) for v in law.variables}
        find = lambda name: next((v for v, c in column.items() if c == name), None)  # noqa: E731
        self.nvar, self.dvar, self.uvar = find("n_params"), find("n_tokens"), find("unique_tokens")
        if self.nvar is None or self.dvar is None:
            raise FitError(
                f"{purpose} needs a law of model size and data (variables n_params and n_tokens); "
                f"law {law.name!r} has variables {list(law.variables)}"
            )
        inverse = {c: v for v, c in column.items()}
        given = {inverse.get(k, k): v for k, v in (at or {}).items()}
        unknown = [k for k in given if k not in law.variables or k in (self.nvar, self.dvar)]
        if unknown:
            raise FitError(f"at= names {unknown}, which are not fixed variables of {law.name!r}: {list(law.variables)}")
        self.fixed_vars = given
        if self.uvar is not None:
            if unique_tokens is None and self.uvar not in given:
                raise FitError(f"law {law.name!r} depends on unique_tokens: pass unique_tokens=...")
            if unique_tokens is not None:
                self.fixed_vars.pop(self.uvar, None)
        # a law with a unique_tokens variable sees the unique tokens actually used, min(U, D)
        self.law_unique = float(unique_tokens) if (self.uvar is not None and unique_tokens is not None) else None
        others = [v for v in law.variables if v not in (self.nvar, self.dvar, self.uvar) and v not in self.fixed_vars]
        if others:
            raise FitError(f"law {law.name!r} also depends on {others}: give their values with at={{...}}")
        self.law = law
        self.unique = None if (unique_tokens is None or self.uvar is not None) else float(unique_tokens)
        self.r_d, self.r_n = repeat_constants
        point = np.array([[fit.params[n] for n in law.param_names]], dtype=float)
        draws = np.empty((0, point.shape[1]))
        if fit.draws is not None and len(fit.draws):
            d = np.asarray(fit.draws, dtype=float)
            draws = d[np.all(np.isfinite(d), axis=1)]
        self.point, self.draws = point, draws

    def base(self, P: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The law itself; P (S, k), N and D (S, G) -> (S, G)."""
        X: dict[str, Any] = {str(self.nvar): N, str(self.dvar): D}
        if self.law_unique is not None:
            X[str(self.uvar)] = np.minimum(self.law_unique, D)
        for k, v in self.fixed_vars.items():
            X[k] = np.full(N.shape, v, dtype=object if k in self.law.categorical else float)
        params = {n: P[:, j : j + 1] for j, n in enumerate(self.law.param_names)}
        with np.errstate(all="ignore"):
            out = np.asarray(self.law.function(X, params), dtype=float)
        return np.broadcast_to(out, N.shape)

    def unique_params(self, P: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Muennighoff's U_N: the compute-optimal size (under 6ND) for one epoch of U tokens.

        Root of dL/dlogN = dL/dlogD at D = U (the first-order condition of the 6ND
        frontier), by bisection in log N; shape (S,).
        """
        eps = 1e-4
        Ucol = U[:, None]

        def h(u: np.ndarray) -> np.ndarray:
            n = np.exp(u)[:, None]
            dn = self.base(P, n * math.exp(eps), Ucol) - self.base(P, n * math.exp(-eps), Ucol)
            dd = self.base(P, n, Ucol * math.exp(eps)) - self.base(P, n, Ucol * math.exp(-eps))
            return (dn - dd)[:, 0]

        lo = np.log(U) - 40.0
        hi = np.log(U) + 20.0
        h_lo, h_hi = h(lo), h(hi)
        ok = (h_lo < 0) & (h_hi > 0)
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            pos = h(mid) > 0
            hi = np.where(pos, mid, hi)
            lo = np.where(pos, lo, mid)
        return np.where(ok, np.exp(0.5 * (lo + hi)), np.inf)

    def loss(self, P: np.ndarray, N: np.ndarray, D: np.ndarray, unique_n: np.ndarray | None = None) -> np.ndarray:
        if self.unique is None:
            return self.base(P, N, D)
        U = self.unique
        used = np.minimum(D, U)
        D_eff = effective_tokens(D, used, self.r_d)
        assert unique_n is not None
        N_eff = effective_params(N, np.minimum(N, unique_n[:, None]), self.r_n)
        return self.base(P, N_eff, D_eff)


# --------------------------------------------------------------------------- solvers


def _minimise(
    fun: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, grid: int = _GRID
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``fun`` (S, G) -> (S, G) over u in [lo, hi] row by row: grid, then zoom.

    Returns the minimiser (S,) and whether it lies on the search bound (S,).
    """
    t = np.linspace(0.0, 1.0, grid)
    U = lo[:, None] + (hi - lo)[:, None] * t
    V = np.where(np.isfinite(v := fun(U)), v, np.inf)
    i = np.argmin(V, axis=1)
    rows = np.arange(len(lo))
    edge = (i == 0) | (i == grid - 1)
    nan = ~np.isfinite(V[rows, i])
    step = (hi - lo) / (grid - 1)
    centre = U[rows, i]
    n, rounds = _ZOOM
    s = np.linspace(-1.0, 1.0, n)
    for _ in range(rounds):
        a = np.clip(centre[:, None] + step[:, None] * s, lo[:, None], hi[:, None])
        W = np.where(np.isfinite(w := fun(a)), w, np.inf)
        j = np.argmin(W, axis=1)
        centre = a[rows, j]
        step = step * 2.0 / (n - 1)
    return np.where(nan, np.nan, centre), edge & ~nan


def _n_bounds(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo_r, hi_r = _RATIO_RANGE
    return 0.5 * np.log(C / (6.0 * hi_r)), 0.5 * np.log(C / (6.0 * lo_r))


def _closed_form(law: Law, P: np.ndarray, C: np.ndarray) -> np.ndarray:
    """The law's own closed-form optimum (``Law.optimum``) under every parameter set."""
    assert law.optimum is not None
    p = {n: P[:, j] for j, n in enumerate(law.param_names)}
    return np.asarray(law.optimum(p, C), dtype=float)


def _tokens_for_loss(model: _Model, P: np.ndarray, N: np.ndarray, target: np.ndarray, un: np.ndarray | None) -> np.ndarray:
    """D with L(N, D) = target (bisection in log D; inf where N cannot reach it)."""
    lo = np.full(N.shape, 0.0)
    hi = np.full(N.shape, math.log(1e35))
    t = target[:, None] * np.ones_like(N)
    reach = model.loss(P, N, np.exp(hi), un) <= t
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        below = model.loss(P, N, np.exp(mid), un) <= t
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid)
    return np.where(reach, np.exp(hi), np.inf)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """A planned training run: its size, data, predicted loss and cost, with intervals.

    Attributes
    ----------
    flops : float
        The budget asked about. For an inference-aware plan it sets the quality target
        (the loss the compute-optimal model reaches with it).
    n_params, n_tokens, loss, tokens_per_param : float
        The planned run and its predicted loss.
    intervals : dict
        ``name -> (lower, upper)`` at ``level`` over the fit's bootstrap draws (empty
        without draws). The loss interval is the band of the prediction at the planned
        ``(n_params, n_tokens)``.
    training_flops : float
        ``f(n_params) * n_tokens`` under the FLOP convention.
    epochs, unique_tokens : float or None
        Passes over the unique data (data-constrained plans).
    inference_tokens, inference_flops, total_flops : float or None
        Inference-aware plans: lifetime inference tokens, their FLOPs, and the sum.
    reference : Plan or None
        The compute-optimal plan at the same budget (inference-aware plans).
    method : str
        ``"closed form"`` or ``"numeric"``.
    """

    flops: float
    n_params: float
    n_tokens: float
    loss: float
    tokens_per_param: float
    training_flops: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95
    law: str = ""
    method: str = "numeric"
    flop_convention: str = "6nd"
    epochs: float | None = None
    unique_tokens: float | None = None
    inference_tokens: float | None = None
    inference_flops: float | None = None
    total_flops: float | None = None
    reference: Plan | None = field(default=None, repr=False)
    n_draws: int = 0
    at_search_bound: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def flops_saving(self) -> float | None:
        """Share of total FLOPs saved against the compute-optimal model (inference plans)."""
        if self.reference is None or self.total_flops is None or self.reference.total_flops is None:
            return None
        return 1.0 - self.total_flops / self.reference.total_flops

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flops": self.flops,
            "n_params": self.n_params,
            "n_tokens": self.n_tokens,
            "loss": self.loss,
            "tokens_per_param": self.tokens_per_param,
            "training_flops": self.training_flops,
            "intervals": {k: [float(a), float(b)] for k, (a, b) in self.intervals.items()},
            "level": self.level,
            "law": self.law,
            "method": self.method,
            "flop_convention": self.flop_convention,
            "n_draws": self.n_draws,
            "at_search_bound": self.at_search_bound,
            "warnings": list(self.warnings),
        }
        for key in ("epochs", "unique_tokens", "inference_tokens", "inference_flops", "total_flops"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
            out["flops_saving"] = self.flops_saving
        return out

    def report(self) -> str:
        """A plain-text summary (what the ``plan`` command prints)."""
        pct = f"{self.level:.0%}"

        def line(label: str, key: str, value: float, fmt: str = ".4g") -> str:
            text = f"  {label:<18} {value:{fmt}}"
            if key in self.intervals:
                lo, hi = self.intervals[key]
                text += f"   ({pct} interval {lo:{fmt}} to {hi:{fmt}})"
            return text

        kind = "inference-aware plan" if self.inference_tokens is not None else "compute-optimal plan"
        lines = [f"{kind} for {self.flops:.4g} FLOPs ({self.law}; {self.method}; FLOPs per token: {self.flop_convention})"]
        lines.append(line("parameters", "n_params", self.n_params))
        lines.append(line("tokens", "n_tokens", self.n_tokens))
        lines.append(line("tokens/parameter", "tokens_per_param", self.tokens_per_param, ".3g"))
        lines.append(line("predicted loss", "loss", self.loss, ".5g"))
        if self.epochs is not None:
            lines.append(line("epochs", "epochs", self.epochs, ".3g") + f"  of {self.unique_tokens:.4g} unique tokens")
        if self.inference_tokens is not None and self.reference is not None:
            lines.append(f"  training FLOPs     {self.training_flops:.4g}")
            lines.append(f"  inference FLOPs    {self.inference_flops:.4g}  for {self.inference_tokens:.4g} tokens")
            ref = self.reference
            lines.append(
                f"  vs compute-optimal {ref.n_params:.4g} parameters on {ref.n_tokens:.4g} tokens: "
                f"{self.flops_saving:.1%} fewer total FLOPs"
            )
        if self.n_draws:
            lines.append(f"  intervals from {self.n_draws} bootstrap draws")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        def ci(key: str) -> str:
            if key not in self.intervals:
                return ""
            lo, hi = self.intervals[key]
            return f" [{lo:.3g}, {hi:.3g}]"

        extra = ""
        if self.epochs is not None:
            extra += f", epochs={self.epochs:.3g}"
        if self.inference_tokens is not None:
            extra += f", inference_tokens={self.inference_tokens:.3g}, total_flops={self.total_flops:.3g}"
        return (
            f"Plan(flops={self.flops:.4g}: n_params={self.n_params:.4g}{ci('n_params')}, "
            f"n_tokens={self.n_tokens:.4g}{ci('n_tokens')}, tokens_per_param={self.tokens_per_param:.3g}"
            f"{ci('tokens_per_param')}, loss={self.loss:.5g}{ci('loss')}{extra}; {self.law}, {self.method})"
        )

    def _repr_html_(self) -> str:
        """The plan as a notebook shows it: a table of the run with units and intervals."""
        import html

        def num(v: float, kind: str) -> str:
            if kind == "count":
                for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
                    if abs(v) >= scale:
                        return f"{v / scale:.3g}{suffix}"
            return f"{v:.2e}".replace("e+", "e") if kind == "flops" else f"{v:.4g}"

        rows = [("model size N", "parameters", "n_params", self.n_params, "count"),
                ("training data D", "tokens", "n_tokens", self.n_tokens, "count"),
                ("tokens per parameter", "", "tokens_per_param", self.tokens_per_param, "ratio"),
                ("predicted loss", "nats/token", "loss", self.loss, "ratio")]
        if self.epochs is not None:
            rows.append(("epochs", "", "epochs", self.epochs, "ratio"))
        if self.total_flops is not None:
            rows.append(("total compute", "FLOPs", "total_flops", self.total_flops, "flops"))
        if abs(self.training_flops / self.flops - 1) > 0.01:
            rows.append(("training compute", "FLOPs", "training_flops", self.training_flops, "flops"))
        body = "".join(
            f"<tr><td>{label}</td><td>{num(v, kind)}</td><td>{unit}</td><td>"
            + (f"{num(self.intervals[key][0], kind)} – {num(self.intervals[key][1], kind)}" if key in self.intervals else "")
            + "</td></tr>" for label, unit, key, v, kind in rows)
        kind = "Inference-aware plan" if self.inference_tokens is not None else "Compute-optimal plan"
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (f"<div><b>{kind}</b> for C = {num(self.flops, 'flops')} FLOPs ({html.escape(self.law)}, {self.method})"
                f"<table><thead><tr><th></th><th>value</th><th>unit</th><th>{self.level:.0%} interval</th></tr></thead>"
                f"<tbody>{body}</tbody></table>" + (f"<ul>{warn}</ul>" if warn else "") + "</div>")


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise DataError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _closed_form_applies(fit: Fit, counter: Any, unique: float | None, inference: float | None) -> bool:
    """Whether the law offers a closed-form optimum and the question is the one it answers.

    A law's ``optimum`` gives the compute-optimal size under 6ND with all parameters
    free (pinned and grouped laws drop it); inference and data limits change the
    question.
    """
    return (
        fit.law.optimum is not None
        and not fit.law.spec.get("fixed")
        and not fit.law.spec.get("groups")
        and isinstance(counter, FlopCounter)
        and counter.convention == "6nd"
        and (counter.shape is None or counter.shape.count == "total")
        and unique is None
        and inference is None
    )


def compute_optimal(
    fit: Fit,
    flops: float,
    *,
    inference_tokens: float | None = None,
    unique_tokens: float | None = None,
    flops_per_token: str | FlopCounter | Callable[[Any], Any] = "6nd",
    repeat_constants: tuple[float, float] = (R_D_STAR, R_N_STAR),
    at: Mapping[str, Any] | None = None,
    level: float = 0.95,
    method: str = "auto",
) -> Plan:
    """The loss-minimising model size and data for a FLOP budget.

    Parameters
    ----------
    fit : Fit
        A fitted law of ``n_params`` and ``n_tokens`` (any law; see the module docs).
    flops : float
        Training compute budget C.
    inference_tokens : float, optional
        Lifetime inference tokens; the plan then minimises training + inference FLOPs
        for the loss the compute-optimal model reaches at ``flops`` (Sardana et al.).
    unique_tokens : float, optional
        Unique tokens available; more training tokens are repeated epochs
        (Muennighoff et al.).
    flops_per_token : "6nd", FlopCounter or callable
        Training FLOPs per token as a function of ``n_params``; ``D = C / f(N)``.
    repeat_constants : (float, float)
        ``(R*_D, R*_N)`` for laws without a ``unique_tokens`` variable.
    at : dict, optional
        Values of the law's other variables (a group label, a precision, ...).
    level : float
        Interval level.
    method : {"auto", "numeric", "closed_form"}
        ``"auto"`` uses the closed form where it applies (chinchilla under 6ND).

    Returns
    -------
    Plan

    Raises
    ------
    DataError
        If a budget or token count is not a positive number.
    FitError
        If the law does not depend on ``n_params`` and ``n_tokens``.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.6934, "A": 406.4, "B": 410.7, "alpha": 0.3392, "beta": 0.2849})
    >>> p = compute_optimal(f, 5.76e23)
    >>> f"{p.n_params:.3g}", round(p.tokens_per_param, 1)
    ('4.03e+10', 59.1)
    """
    C = _positive(flops, "flops")
    check_budget(fit, C)  # warns, with the factor, beyond the compute of the fitted runs
    D_inf = None if inference_tokens is None else _positive(inference_tokens, "inference_tokens")
    U = None if unique_tokens is None else _positive(unique_tokens, "unique_tokens")
    check_level(level)
    if method not in ("auto", "numeric", "closed_form"):
        raise FitError(f"method must be 'auto', 'numeric' or 'closed_form', got {method!r}")
    r_d, r_n = (_positive(v, "repeat_constants") for v in repeat_constants)
    counter = as_counter(flops_per_token)
    model = _Model(fit, at=at, unique_tokens=U, repeat_constants=(r_d, r_n), purpose="compute_optimal")
    closed = _closed_form_applies(fit, counter, U, D_inf)
    if method == "closed_form" and not closed:
        raise FitError(
            "the closed form applies only to a law that has one (chinchilla; no pinned or grouped parameters) "
            "under 6ND, without inference_tokens or unique_tokens; use method='numeric'"
        )
    use_closed = closed and method != "numeric"

    P = np.vstack([model.point, model.draws])
    S = len(P)
    Cv = np.full(S, C)
    unique_n = model.unique_params(P, np.full(S, model.unique)) if model.unique is not None else None

    def fpt(N: np.ndarray) -> np.ndarray:
        return np.asarray(counter(N), dtype=float)

    def loss_of_u(u: np.ndarray) -> np.ndarray:
        N = np.exp(u)
        return model.loss(P, N, Cv[:, None] / fpt(N), unique_n)

    if use_closed:
        N = _closed_form(fit.law, P, Cv)
        edge = np.zeros(S, dtype=bool)
    else:
        lo, hi = _n_bounds(Cv)
        u, edge = _minimise(loss_of_u, lo, hi)
        N = np.exp(u)
    D = Cv / fpt(N)
    L = model.loss(P, N[:, None], D[:, None], unique_n)[:, 0]

    notes: list[str] = []
    if edge[0]:
        notes.append(
            "the optimum lies at the end of the searched range (1e-6 to 1e8 tokens per parameter): "
            "the law has no interior optimum here"
        )
    if not np.isfinite(N[0]):
        raise FitError(f"no finite compute-optimal model size for {C:.4g} FLOPs under {fit.law.name!r}")

    common: dict[str, Any] = dict(level=level, law=fit.law.name, flop_convention=counter_name(counter), n_draws=S - 1)
    ref_values = {"n_params": N, "n_tokens": D, "tokens_per_param": D / N}
    if U is not None:
        ref_values["epochs"] = D / U
    ref_plan = Plan(
        flops=C,
        n_params=float(N[0]),
        n_tokens=float(D[0]),
        loss=float(L[0]),
        tokens_per_param=float(D[0] / N[0]),
        training_flops=C,
        intervals=_intervals(ref_values, level, S) | _loss_interval(model, P, N[0], D[0], unique_n, level),
        method="closed form" if use_closed else "numeric",
        epochs=None if U is None else float(D[0] / U),
        unique_tokens=U,
        at_search_bound=bool(edge[0]),
        warnings=tuple(notes),
        **common,
    )
    if D_inf is None:
        _warn(notes)
        return ref_plan

    # ---- inference-aware: same loss, least training + inference FLOPs
    def cost_of_u(u: np.ndarray) -> np.ndarray:
        Nn = np.exp(u)
        Dn = _tokens_for_loss(model, P, Nn, L, unique_n)
        f = fpt(Nn)
        return f * Dn + f / 3.0 * D_inf

    u0 = np.log(N)
    u, edge_i = _minimise(cost_of_u, u0 - math.log(1e4), u0 + math.log(10.0), grid=97)
    Ni = np.exp(u)
    Di = _tokens_for_loss(model, P, Ni[:, None], L, unique_n)[:, 0]
    train = fpt(Ni) * Di
    infer = fpt(Ni) / 3.0 * D_inf
    ref_total = C + fpt(N[0]) / 3.0 * D_inf
    ref_plan = replace(ref_plan, inference_tokens=D_inf, inference_flops=float(fpt(N[0]) / 3.0 * D_inf), total_flops=float(ref_total))
    if edge_i[0]:
        notes.append("the inference-aware optimum lies at the end of the searched sizes (1e-4 to 10 times the compute-optimal size)")
    values = {"n_params": Ni, "n_tokens": Di, "tokens_per_param": Di / Ni, "training_flops": train, "total_flops": train + infer}
    if U is not None:
        values["epochs"] = Di / U
    plan = Plan(
        flops=C,
        n_params=float(Ni[0]),
        n_tokens=float(Di[0]),
        loss=float(L[0]),
        tokens_per_param=float(Di[0] / Ni[0]),
        training_flops=float(train[0]),
        intervals=_intervals(values, level, S) | _loss_interval(model, P, Ni[0], Di[0], unique_n, level),
        method="numeric",
        epochs=None if U is None else float(Di[0] / U),
        unique_tokens=U,
        inference_tokens=D_inf,
        inference_flops=float(infer[0]),
        total_flops=float(train[0] + infer[0]),
        reference=ref_plan,
        at_search_bound=bool(edge_i[0]),
        warnings=tuple(notes),
        **common,
    )
    _warn(notes)
    return plan


def _warn(notes: Sequence[str]) -> None:
    for note in notes:
        warnings.warn(note, ScalingLawsWarning, stacklevel=3)


def _intervals(values: Mapping[str, np.ndarray], level: float, S: int) -> dict[str, tuple[float, float]]:
    if S < 3:
        return {}
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = {}
    for k, v in values.items():
        d = np.asarray(v, dtype=float)[1:]
        d = d[np.isfinite(d)]
        if len(d) >= 2:
            lo, hi = np.percentile(d, q)
            out[k] = (float(lo), float(hi))
    return out


def _loss_interval(model: _Model, P: np.ndarray, N: float, D: float, un: np.ndarray | None, level: float) -> dict[str, tuple[float, float]]:
    if len(P) < 3:
        return {}
    S = len(P)
    pred = model.loss(P, np.full((S, 1), N), np.full((S, 1), D), un)[1:, 0]
    pred = pred[np.isfinite(pred)]
    if len(pred) < 2:
        return {}
    lo, hi = np.percentile(pred, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return {"loss": (float(lo), float(hi))}


# --------------------------------------------------------------------------- sweeps


def frontier(fit: Fit, flops: Sequence[float] | np.ndarray, **options: Any) -> pd.DataFrame:
    """The compute-optimal plan over a range of budgets, as a table.

    Parameters
    ----------
    fit : Fit
    flops : sequence of float
        Budgets, e.g. ``np.geomspace(1e20, 1e25, 11)``.
    **options
        As for :func:`compute_optimal`.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``flops, n_params, n_tokens, tokens_per_param, loss`` (plus
        ``epochs``, ``total_flops`` ...), and ``<name>_lo``/``<name>_hi`` interval columns
        when the fit has bootstrap draws.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    >>> frontier(f, [1e21, 1e23])["tokens_per_param"].round(1).tolist()
    [21.6, 19.2]
    """
    budgets = np.atleast_1d(np.asarray(flops, dtype=float))
    if budgets.ndim != 1 or budgets.size == 0:
        raise DataError("flops must be a non-empty list of budgets")
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScalingLawsWarning)
        for C in budgets:
            p = compute_optimal(fit, C, **options)
            row: dict[str, Any] = {"flops": p.flops, "n_params": p.n_params, "n_tokens": p.n_tokens,
                                   "tokens_per_param": p.tokens_per_param, "loss": p.loss}
            for key in ("epochs", "training_flops", "total_flops"):
                if key == "training_flops" and p.inference_tokens is None:
                    continue
                if getattr(p, key) is not None:
                    row[key] = getattr(p, key)
            if p.flops_saving is not None:
                row["flops_saving"] = p.flops_saving
            for k, (lo, hi) in p.intervals.items():
                row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
            row["at_search_bound"] = p.at_search_bound
            rows.append(row)
    for message in {str(w.message) for w in caught if issubclass(w.category, ScalingLawsWarning)}:
        warnings.warn(message, ScalingLawsWarning, stacklevel=2)
    return pd.DataFrame(rows)


def compute_for_loss(fit: Fit, loss: float, **options: Any) -> Plan:
    """The smallest budget whose compute-optimal run reaches ``loss`` (bisection in log C).

    Raises
    ------
    FitError
        If the loss is not reached by any budget up to 1e40 FLOPs (at or below the
        law's floor) or is already reached at 1e6 FLOPs.

    Examples
    --------
    >>> f = fit_from_params("chinchilla", {"E": 1.6934, "A": 406.4, "B": 410.7, "alpha": 0.3392, "beta": 0.2849})
    >>> f"{compute_for_loss(f, 1.95).flops:.3g}"
    '2.46e+23'
    """
    target = _positive(loss, "loss")
    opts = {k: v for k, v in options.items() if k != "level"}
    nodraws = replace(fit, draws=None)

    def frontier_loss(logc: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            return compute_optimal(nodraws, math.exp(logc), **opts).loss

    lo, hi = math.log(1e6), math.log(1e40)
    if frontier_loss(hi) > target:
        raise FitError(f"loss {target:g} is not reached by any budget up to 1e40 FLOPs under {fit.law.name!r} (the law's floor is higher)")
    if frontier_loss(lo) <= target:
        raise FitError(f"loss {target:g} is already reached at 1e6 FLOPs under {fit.law.name!r}")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if frontier_loss(mid) <= target:
            hi = mid
        else:
            lo = mid
    return compute_optimal(fit, math.exp(hi), **options)


__all__ = [
    "R_D_STAR",
    "R_N_STAR",
    "Plan",
    "compute_for_loss",
    "compute_optimal",
    "effective_params",
    "effective_tokens",
    "fit_from_params",
    "frontier",
]
