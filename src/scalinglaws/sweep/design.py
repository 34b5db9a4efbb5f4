"""IsoFLOP sweep designs: which models to train, on how many tokens, with which LR and batch.

A design is a grid of FLOP budgets times model sizes. For each budget ``C`` the sizes are
log-spaced around ``N* = sqrt(C / (6 r))``, the size that trains on ``r`` tokens per
parameter under ``C = 6 N D`` (``r = 20``, Chinchilla's ratio, unless
``tokens_per_param`` says otherwise), from ``N* / spread`` to ``N* * spread``. Each size is
turned into a shape by :func:`shape_for_params` (fixed aspect ratio ``d_model / n_layer``
and head dimension), and its token count is the budget divided by the shape's training
FLOPs per token under the chosen convention (:mod:`scalinglaws.sweep.accounting`).

Learning rate and batch size follow the DeepSeek LLM hyperparameter laws (Bi et al.
2024, arXiv 2401.02954, §3.1), evaluated at the run's budget ``C``:

- peak LR ``= 0.3118 * C ** -0.125``
- batch (tokens) ``= 0.2920 * C ** 0.3271``, rounded to whole sequences (at least one).

Both can be given explicitly instead. Designs are written to and read from an editable
TOML file by :mod:`scalinglaws.sweep.designfile`. The types a design is made of
(:class:`DataSpec`, :class:`RunSpec`, :class:`SweepDesign`) live in
:mod:`scalinglaws.sweep.specs` and are importable from here too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import fields, replace

from scalinglaws.errors import ScalingLawsWarning
from scalinglaws.sweep.accounting import FLOP_CONVENTIONS
from scalinglaws.sweep.checks import check_choice, check_float, check_int
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import (
    PARAMETRIZATIONS,
    TOKEN_DTYPES,
    TOKENIZER_KINDS,
    DataSpec,
    RunSpec,
    SweepDesign,
)

__all__ = [
    "PARAMETRIZATIONS",
    "TOKENIZER_KINDS",
    "TOKEN_DTYPES",
    "DataSpec",
    "RunSpec",
    "SweepDesign",
    "default_batch_size",
    "default_lr",
    "design_sweep",
    "shape_for_params",
]


def default_lr(budget: float) -> float:
    """Peak LR from the DeepSeek LLM law, ``0.3118 * C ** -0.125``.

    Examples
    --------
    >>> round(default_lr(1e12), 5)
    0.00986
    """
    return 0.3118 * budget ** -0.125


def default_batch_size(budget: float, seq_len: int) -> int:
    """Sequences per step from the DeepSeek LLM law, ``0.2920 * C ** 0.3271`` tokens.

    Examples
    --------
    >>> default_batch_size(1e12, 128)
    19
    """
    return max(1, round(0.2920 * budget ** 0.3271 / seq_len))


def shape_for_params(
    n_params: float,
    *,
    aspect_ratio: float = 32.0,
    head_dim: int = 8,
    vocab_size: int = 256,
    seq_len: int = 128,
    ffw_mult: int = 4,
) -> tuple[int, int, int]:
    """The ``(n_layer, d_model, n_head)`` whose total parameter count is near ``n_params``.

    Depth is the integer nearest to the continuous solution of
    ``count_params(L, aspect_ratio * L) = n_params``; width is then re-solved for that
    depth and rounded to a multiple of ``head_dim`` (at least one head).

    Examples
    --------
    >>> shape_for_params(100_000, aspect_ratio=32, head_dim=16)
    (2, 64, 4)
    """
    def total(n_layer: float, d_model: float) -> float:
        f = ffw_mult * d_model
        return (n_layer * (4 * d_model**2 + 2 * d_model * f + 2 * d_model) + d_model
                + (vocab_size + seq_len) * d_model)

    low, high = 1e-3, 1e4
    for _ in range(200):  # bisection on the depth at the fixed aspect ratio
        mid = math.sqrt(low * high)
        low, high = (mid, high) if total(mid, aspect_ratio * mid) < n_params else (low, mid)
    n_layer = max(1, round(low))
    a = n_layer * (4 + 2 * ffw_mult)  # total(L, d) = a d^2 + b d
    b = 2 * n_layer + 1 + vocab_size + seq_len
    d_exact = (-b + math.sqrt(b * b + 4 * a * n_params)) / (2 * a)
    d_model = max(head_dim, head_dim * round(d_exact / head_dim))
    return n_layer, d_model, d_model // head_dim


def design_sweep(
    budgets: Sequence[float],
    sizes_per_budget: int = 5,
    *,
    flop_convention: str = "6nd",
    spread: float = 4.0,
    tokens_per_param: float = 20.0,
    aspect_ratio: float = 32.0,
    head_dim: int = 8,
    lr: float | None = None,
    batch_size: int | None = None,
    aspect_ratios: Sequence[float] | None = None,
    **run_options: object,
) -> SweepDesign:
    """Design an IsoFLOP grid.

    Parameters
    ----------
    budgets : sequence of float
        Training FLOP budgets, one IsoFLOP curve each.
    sizes_per_budget : int
        Model sizes per budget, log-spaced from ``N* / spread`` to ``N* * spread``.
    flop_convention : {"6nd", "exact"}
        How a run's FLOPs (and so its token count) are computed.
    spread : float
        Half-width of the size range, as a factor around ``N* = sqrt(C / (6 r))``.
    tokens_per_param : float
        ``r``, the tokens per parameter at the centre of each IsoFLOP curve.
    aspect_ratio, head_dim : float, int
        The shape rule (see :func:`shape_for_params`).
    aspect_ratios : sequence of float, optional
        Several aspect ratios: every size of every budget is built at each of them, so
        the sweep covers shapes (for a width-depth law, catalog ``shape``); replaces
        ``aspect_ratio``.
    lr, batch_size : float or int, optional
        Fixed peak LR and batch (sequences); default: the DeepSeek rule per budget.
    **run_options
        Any other :class:`RunSpec` field (``seq_len``, ``schedule``, ``seed``,
        ``data``...), the same for every run. Without ``vocab_size``, it is the data's
        (256 for byte-level text, else the tokenizer's or the token files').

    Returns
    -------
    SweepDesign
        ``len(budgets) * sizes_per_budget`` runs, fewer if two sizes round to one shape
        (a :class:`~scalinglaws.errors.ScalingLawsWarning` says so).

    Examples
    --------
    >>> design = design_sweep([1e11, 1e12], 3)
    >>> len(design.runs), design.budgets
    (6, (100000000000.0, 1000000000000.0))
    """
    if not budgets:
        raise SweepError("give at least one FLOP budget, e.g. --budgets 1e11,3e11,1e12")
    for budget in budgets:
        check_float("budget", budget, low=0.0)
    check_int("sizes_per_budget", sizes_per_budget, minimum=1)
    check_float("spread", spread, low=1.0, open_low=False)
    check_float("tokens_per_param", tokens_per_param, low=0.0)
    check_float("aspect_ratio", aspect_ratio, low=0.0)
    ratios = [aspect_ratio] if aspect_ratios is None else list(aspect_ratios)
    if not ratios:
        raise SweepError("aspect_ratios is empty: give one ratio or more, e.g. --aspect-ratios 16,32,64")
    for ratio in ratios:
        check_float("aspect_ratio", ratio, low=0.0)
    check_int("head_dim", head_dim, minimum=1)
    check_choice("flop_convention", flop_convention, FLOP_CONVENTIONS)
    unknown = set(run_options) - {f.name for f in fields(RunSpec)}
    if unknown:
        raise SweepError(f"unknown run option(s) {sorted(unknown)}; see RunSpec's fields")
    if "vocab_size" not in run_options:  # 256 for byte text; token files say their own
        from scalinglaws.sweep.data import vocab_size_of

        run_options["vocab_size"] = vocab_size_of(run_options.get("data", DataSpec()))  # type: ignore[arg-type]
    seq_len = int(run_options.get("seq_len", 128))  # type: ignore[call-overload]
    vocab_size = int(run_options["vocab_size"])  # type: ignore[call-overload]
    ffw_mult = int(run_options.get("ffw_mult", 4))  # type: ignore[call-overload]
    runs: list[RunSpec] = []
    for budget in sorted(float(b) for b in budgets):
        n_star = math.sqrt(budget / (6.0 * tokens_per_param))
        shapes: list[tuple[int, int, int]] = []
        for k in range(sizes_per_budget):
            t = 0.0 if sizes_per_budget == 1 else 2.0 * k / (sizes_per_budget - 1) - 1.0
            for ratio in ratios:
                shape = shape_for_params(n_star * spread**t, aspect_ratio=ratio,
                                         head_dim=head_dim, vocab_size=vocab_size,
                                         seq_len=seq_len, ffw_mult=ffw_mult)
                if shape not in shapes:
                    shapes.append(shape)
        if len(shapes) < sizes_per_budget * len(ratios):
            warnings.warn(
                f"budget {budget:g}: only {len(shapes)} distinct shapes of "
                f"{sizes_per_budget * len(ratios)} asked (sizes too close to round apart); widen "
                "--spread, lower --head-dim, or raise the budget",
                ScalingLawsWarning, stacklevel=2,
            )
        run_lr = float(f"{default_lr(budget):.3g}") if lr is None else lr
        run_batch = default_batch_size(budget, seq_len) if batch_size is None else batch_size
        for n_layer, d_model, n_head in shapes:
            probe = RunSpec(budget=budget, n_layer=n_layer, d_model=d_model, n_head=n_head,
                            n_tokens=1, batch_size=run_batch, lr=run_lr,
                            flop_convention=flop_convention, **run_options)  # type: ignore[arg-type]
            steps = max(1, round(budget / probe.flops_per_token() / probe.tokens_per_step))
            runs.append(replace(probe, n_tokens=steps * probe.tokens_per_step))
    rule: dict[str, object] = {
        "budgets": [float(b) for b in sorted(budgets)], "sizes_per_budget": sizes_per_budget,
        "flop_convention": flop_convention, "spread": float(spread),
        "tokens_per_param": float(tokens_per_param),
        "aspect_ratio": float(aspect_ratio), "head_dim": head_dim,
        "lr_rule": "deepseek" if lr is None else "fixed",
        "batch_rule": "deepseek" if batch_size is None else "fixed",
    }
    if aspect_ratios is not None:
        rule["aspect_ratios"] = [float(r) for r in ratios]
    return SweepDesign(runs=tuple(runs), rule=rule)
