"""The compute-optimal shape: width, depth, heads and tokens for a FLOP budget.

A law in width and depth (catalog ``shape``, the Gemstones law of McLeish et al. 2025)
ranks models of the same size by their shape. :func:`plan_shape` searches a grid of
shapes (widths a multiple of the head size, integer depths), counts each one's parameters
and training FLOPs per token with :mod:`scalinglaws.plan.flops` (an
:class:`~scalinglaws.plan.flops.Architecture` and a FLOP convention), spends the budget on
``D = C / flops_per_token`` tokens, and keeps the shape of least predicted loss. Each
bootstrap draw of the fit gives its own best shape: the percentiles of those are the
intervals.

Integer shapes, not a continuous optimum: the answer is a model one can build. When the
best shape lies on the edge of the grid the law prefers shapes beyond it, and the plan
says so (``edge``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError
from scalinglaws.plan.flops import CONVENTIONS, Architecture, flops_per_token

__all__ = ["ShapePlan", "plan_shape"]

_KEYS = ("n_layer", "d_model", "aspect_ratio", "n_params", "n_tokens", "loss")


@dataclass(frozen=True)
class ShapePlan:
    """The loss-minimising transformer shape for a training budget.

    Attributes
    ----------
    flops : float
        The training budget.
    n_layer, d_model, n_head : int
        Depth, width and attention heads (``d_model / head_dim``) of the best shape.
    aspect_ratio : float
        ``d_model / n_layer``.
    n_params, n_tokens, loss : float
        Its parameters (as the architecture counts them), the tokens the budget buys and
        the predicted loss.
    intervals : dict
        Percentile intervals over bootstrap draws of the fit, for ``n_layer``, ``d_model``,
        ``aspect_ratio``, ``n_params``, ``n_tokens`` and ``loss`` (empty without draws).
    level : float
    convention : str
        FLOP convention used to price a token.
    edge : tuple of str
        Which grid edges the best shape touches (``"widest"``, ``"deepest"``, ...): the
        law prefers shapes beyond the grid there.
    top : DataFrame
        The best shapes on the grid, best first (columns ``n_layer, d_model, n_head,
        aspect_ratio, n_params, n_tokens, loss``).
    n_draws : int
        Bootstrap draws behind the intervals.
    """

    flops: float
    n_layer: int
    d_model: int
    n_head: int
    aspect_ratio: float
    n_params: float
    n_tokens: float
    loss: float
    intervals: dict[str, tuple[float, float]]
    level: float
    convention: str
    edge: tuple[str, ...] = ()
    top: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    n_draws: int = 0

    @property
    def tokens_per_param(self) -> float:
        return self.n_tokens / self.n_params

    def __repr__(self) -> str:
        text = (f"ShapePlan(flops={self.flops:.3g}: n_layer={self.n_layer}, d_model={self.d_model}, "
                f"n_head={self.n_head}, aspect_ratio={self.aspect_ratio:.3g}, n_params={self.n_params:.4g}, "
                f"n_tokens={self.n_tokens:.4g}, loss={self.loss:.4g}")
        if "aspect_ratio" in self.intervals:
            lo, hi = self.intervals["aspect_ratio"]
            text += f"; {self.level:.0%} aspect_ratio ({lo:.3g}, {hi:.3g}) over {self.n_draws} draws"
        if self.edge:
            text += f"; on the grid's edge: {', '.join(self.edge)}"
        return text + ")"

    def report(self) -> str:
        """A small table: each quantity, its value and its interval."""
        lines = [f"Compute-optimal shape for {self.flops:.4g} FLOPs ({self.convention} per token)"]
        values = {"n_layer": self.n_layer, "d_model": self.d_model, "aspect_ratio": self.aspect_ratio,
                  "n_params": self.n_params, "n_tokens": self.n_tokens, "loss": self.loss}
        head = f"{self.level:.0%} interval" if self.intervals else "interval"
        lines.append(f"  {'quantity':<14}{'value':>12}  {head}")
        for k in _KEYS:
            iv = self.intervals.get(k)
            span = f"({iv[0]:.4g}, {iv[1]:.4g})" if iv else "- (fit with bootstrap= for intervals)"
            lines.append(f"  {k:<14}{values[k]:>12.4g}  {span}")
        lines.append(f"  n_head {self.n_head}, tokens per parameter {self.tokens_per_param:.3g}")
        if self.edge:
            lines.append(f"  warning: the best shape is on the grid's edge ({', '.join(self.edge)}); "
                         "the law prefers shapes beyond it: widen the grid")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<pre>{html.escape(self.report())}</pre>"
                + self.top.head(10).to_html(index=False, float_format="{:.4g}".format))

    def to_dict(self) -> dict[str, Any]:
        return {
            "flops": self.flops, "n_layer": self.n_layer, "d_model": self.d_model, "n_head": self.n_head,
            "aspect_ratio": self.aspect_ratio, "n_params": self.n_params, "n_tokens": self.n_tokens,
            "tokens_per_param": self.tokens_per_param, "loss": self.loss,
            "intervals": {k: [float(v[0]), float(v[1])] for k, v in self.intervals.items()},
            "level": self.level, "convention": self.convention, "edge": list(self.edge), "n_draws": self.n_draws,
            "top": self.top.head(10).to_dict(orient="records"),
        }


def _grid(values: Sequence[float] | None, default: np.ndarray, name: str, step: int) -> np.ndarray:
    if values is None:
        return default
    arr = np.unique(np.asarray(list(values), dtype=float))
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr % step):
        raise DataError(f"{name} must be positive whole numbers (multiples of {step}), got {list(values)!r}")
    return arr


def plan_shape(
    fit: Fit,
    flops: float,
    *,
    convention: str = "6nd",
    head_dim: int = 64,
    vocab_size: int = 50257,
    seq_len: int = 2048,
    gated: bool = False,
    tied_embeddings: bool = True,
    widths: Sequence[int] | None = None,
    depths: Sequence[int] | None = None,
    level: float = 0.95,
    top: int = 10,
) -> ShapePlan:
    """The transformer shape (n_layer, d_model, n_head) and tokens of least predicted loss for ``flops``.

    Parameters
    ----------
    fit : Fit
        A fit of a law in ``d_model`` and ``n_layer`` (and ``n_params``, ``n_tokens``):
        catalog ``shape``. Fit with ``bootstrap=`` for intervals.
    flops : float
        Training budget; every shape spends it all on ``flops / flops_per_token`` tokens.
    convention : str
        FLOPs per token (:data:`scalinglaws.plan.flops.CONVENTIONS`; default ``6nd``).
    head_dim, vocab_size, seq_len, gated, tied_embeddings
        The architecture counted (:class:`~scalinglaws.plan.flops.Architecture`):
        ``n_head = d_model / head_dim``, MLP width ``4 d_model``. The fit's ``n_params``
        must count parameters the same way (all of them, embeddings included).
    widths, depths : sequences of int, optional
        The grid searched. Default: widths, multiples of ``head_dim`` from ``head_dim`` to
        131,072 (240 of them, log-spaced), and depths 1 to 512 (200, log-spaced).
    level : float
        Interval level (bootstrap percentiles).
    top : int
        Best shapes kept in ``ShapePlan.top``.

    Returns
    -------
    ShapePlan

    Examples
    --------
    >>> from scalinglaws.engine.result import Fit
    >>> from scalinglaws.laws.shape import GEMSTONES_CONSTANTS
    >>> gem = Fit.from_params("shape", dict(GEMSTONES_CONSTANTS))
    >>> plan = plan_shape(gem, 1e21, head_dim=128, vocab_size=50304, gated=True, tied_embeddings=False)
    >>> plan.d_model % 128, plan.n_head == plan.d_model // 128
    (0, True)
    """
    if not isinstance(fit, Fit):
        raise DataError(f"plan_shape needs a Fit (of the 'shape' law), got {type(fit).__name__}")
    missing = [v for v in ("d_model", "n_layer") if v not in fit.law.variables]
    unknown = [v for v in fit.law.variables if v not in ("d_model", "n_layer", "n_params", "n_tokens")]
    if missing or unknown:
        raise DataError(f"plan_shape needs a law in d_model, n_layer, n_params and n_tokens (catalog 'shape'); "
                        f"the fit's law {fit.law.name!r} has variables {list(fit.law.variables)}")
    if isinstance(flops, bool) or not isinstance(flops, (int, float)) or not math.isfinite(flops) or flops <= 0:
        raise DataError(f"flops must be a positive number, got {flops!r}")
    if convention not in CONVENTIONS:
        raise DataError(f"unknown FLOP convention {convention!r}; known: {', '.join(CONVENTIONS)}")
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim <= 0:
        raise DataError(f"head_dim must be a positive whole number, got {head_dim!r}")
    level = check_level(level)
    default_w = head_dim * np.unique(np.round(np.geomspace(1, max(2.0, 131072 / head_dim), 240)))
    w = _grid(widths, default_w, "widths", head_dim)
    d = _grid(depths, np.unique(np.round(np.geomspace(1, 512, 200))), "depths", 1)
    W, L = (a.ravel() for a in np.meshgrid(w, d))
    arch = Architecture(n_layer=L, d_model=W, n_head=W / head_dim, d_head=float(head_dim), gated=gated,
                        vocab_size=vocab_size, seq_len=seq_len, tied_embeddings=tied_embeddings)
    N = np.asarray(arch.n_params("total"), dtype=float)
    D = float(flops) / np.asarray(flops_per_token(arch, convention), dtype=float)
    keep = D >= 1.0
    if not keep.any():
        raise DataError(f"a budget of {flops:g} FLOPs does not buy one token for any shape of the grid")
    W, L, N, D = W[keep], L[keep], N[keep], D[keep]
    design = {"d_model": W, "n_layer": L, "n_params": N, "n_tokens": D}
    design = {k: v for k, v in design.items() if k in fit.law.variables}
    with np.errstate(all="ignore"):
        loss = np.asarray(fit.law(dict(fit.params), **design), dtype=float)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    best = int(np.argmin(loss))
    intervals: dict[str, tuple[float, float]] = {}
    n_draws = 0
    if fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2:
        draws = fit._valid_draws()
        n_draws = len(draws)
        picks = np.empty(n_draws, dtype=int)
        mins = np.empty(n_draws)
        for i, row in enumerate(draws):
            params = dict(fit.params, **dict(zip(fit.free_params, row)))
            with np.errstate(all="ignore"):
                li = np.asarray(fit.law(params, **design), dtype=float)
            li = np.where(np.isfinite(li), li, np.inf)
            picks[i] = int(np.argmin(li))
            mins[i] = li[picks[i]]
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        for key, arr in (("n_layer", L), ("d_model", W), ("aspect_ratio", W / L), ("n_params", N), ("n_tokens", D)):
            lo, hi = np.percentile(arr[picks], q, method="nearest")
            intervals[key] = (float(lo), float(hi))
        lo, hi = np.percentile(mins[np.isfinite(mins)], q)
        intervals["loss"] = (float(lo), float(hi))
    edge = tuple(label for label, hit in (
        ("narrowest", W[best] == w.min()), ("widest", W[best] == w.max()),
        ("shallowest", L[best] == d.min() and d.min() > 1), ("deepest", L[best] == d.max()),
    ) if hit)
    order = np.argsort(loss)[: max(int(top), 1)]
    table = pd.DataFrame({"n_layer": L[order].astype(int), "d_model": W[order].astype(int),
                          "n_head": (W[order] // head_dim).astype(int), "aspect_ratio": W[order] / L[order],
                          "n_params": N[order], "n_tokens": D[order], "loss": loss[order]})
    return ShapePlan(
        flops=float(flops), n_layer=int(L[best]), d_model=int(W[best]), n_head=int(W[best] // head_dim),
        aspect_ratio=float(W[best] / L[best]), n_params=float(N[best]), n_tokens=float(D[best]),
        loss=float(loss[best]), intervals=intervals, level=level, convention=convention, edge=edge,
        top=table, n_draws=n_draws,
    )
