"""Cooldown branches (Hägele et al. 2024, arXiv 2405.18392): a token sweep for one run
plus cooldowns.

Instead of training every (size, tokens) point from scratch under its own schedule, each
model size trains one constant-LR *trunk*, which keeps its checkpoints at chosen steps,
and every point is a short *branch* from one of them: it loads the trunk's state at step
``k`` (model, optimizer, RNG, data position) and cools the LR down to
``min_lr_ratio * peak`` along WSD's ``1 - sqrt`` shape over its last steps. Hägele et al.
find such branches match cosine runs of the same length, at a fraction of the compute.

:func:`design_branches` lays the points out on IsoFLOP budgets: for budget ``C`` and size
``N``, the branch trains ``C / (flops per token)`` tokens in all, of which the last
``cooldown_frac`` share is its cooldown; a size's trunk runs to the latest branch point.
The store gives branches as ordinary runs (``n_tokens`` counts the trunk's steps before
the branch too, as a run trained from scratch would), with ``parent``, ``branch_step``,
``trained_tokens`` (its own steps only) and ``role``. :func:`branch_cost` compares what a
store's runs cost (each trunk once, plus the cooldowns) with training the same points
from scratch.

This module needs no torch.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.sweep.accounting import FLOP_CONVENTIONS
from scalinglaws.sweep.checks import check_choice, check_float, check_int
from scalinglaws.sweep.design import default_batch_size, default_lr, shape_for_params
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import DataSpec, RunSpec, SweepDesign


def design_branches(
    budgets: Sequence[float],
    sizes: Sequence[float],
    *,
    cooldown_frac: float = 0.2,
    flop_convention: str = "6nd",
    aspect_ratio: float = 32.0,
    head_dim: int = 8,
    lr: float | None = None,
    batch_size: int | None = None,
    **run_options: object,
) -> SweepDesign:
    """Design one constant-LR trunk per model size and a cooldown branch per budget.

    Parameters
    ----------
    budgets : sequence of float
        Training FLOP budgets: each size gets one branch per budget, of
        ``round(C / flops_per_token / tokens_per_step)`` steps in all.
    sizes : sequence of float
        Target parameter counts (shapes from :func:`~scalinglaws.sweep.design.shape_for_params`).
    cooldown_frac : float
        Share of each branch's steps spent cooling down (Hägele et al.: about 0.2).
    flop_convention : {"6nd", "exact"}
        How the budgets are counted.
    aspect_ratio, head_dim : float, int
        The shape rule.
    lr, batch_size : float or int, optional
        Peak LR and sequences per step, shared by a trunk and its branches; default: the
        DeepSeek rule at the geometric mean of the budgets.
    **run_options
        Other :class:`~scalinglaws.sweep.design.RunSpec` fields (``seq_len``,
        ``warmup_frac``, ``data``...), the same for every run; not ``schedule``,
        ``parent`` or ``branch_step``, which this design sets.

    Returns
    -------
    SweepDesign
        Per size, its trunk (``schedule="constant"``, budget: its own FLOPs) then its
        branches (``schedule="wsd"``, ``parent`` the trunk's run_id).

    Raises
    ------
    SweepError
        For a bad argument, or a branch that would start inside its trunk's warmup.

    Examples
    --------
    >>> design = design_branches([1e10, 2e10, 4e10], [2e4, 5e4], seq_len=32, batch_size=4,
    ...                          lr=3e-3, data=DataSpec(corpus="devils-dictionary"))
    >>> [run.schedule for run in design.runs]
    ['constant', 'wsd', 'wsd', 'wsd', 'constant', 'wsd', 'wsd', 'wsd']
    >>> trunk, first = design.runs[:2]
    >>> first.parent == trunk.run_id, first.branch_step, first.n_steps
    (True, 482, 603)
    """
    if not budgets or not sizes:
        raise SweepError("give at least one FLOP budget and one model size")
    for budget in budgets:
        check_float("budget", budget, low=0.0)
    for size in sizes:
        check_float("size", size, low=0.0)
    check_float("cooldown_frac", cooldown_frac, low=0.0, high=1.0)
    check_choice("flop_convention", flop_convention, FLOP_CONVENTIONS)
    taken = {"schedule", "parent", "branch_step", "cooldown_frac", "budget", "n_tokens"}
    if taken & set(run_options):
        raise SweepError(f"design_branches sets {sorted(taken & set(run_options))} itself")
    if "vocab_size" not in run_options:
        from scalinglaws.sweep.data import vocab_size_of

        run_options["vocab_size"] = vocab_size_of(run_options.get("data", DataSpec()))  # type: ignore[arg-type]
    seq_len = int(run_options.get("seq_len", 128))  # type: ignore[call-overload]
    centre = math.exp(sum(math.log(float(b)) for b in budgets) / len(budgets))
    run_lr = float(f"{default_lr(centre):.3g}") if lr is None else lr
    run_batch = default_batch_size(centre, seq_len) if batch_size is None else batch_size
    if batch_size is not None:
        check_int("batch_size", batch_size, minimum=1)
    runs: list[RunSpec] = []
    for size in sorted(float(s) for s in sizes):
        n_layer, d_model, n_head = shape_for_params(
            size, aspect_ratio=aspect_ratio, head_dim=head_dim,
            vocab_size=int(run_options["vocab_size"]),  # type: ignore[call-overload]
            seq_len=seq_len, ffw_mult=int(run_options.get("ffw_mult", 4)))  # type: ignore[call-overload]
        probe = RunSpec(budget=1.0, n_layer=n_layer, d_model=d_model, n_head=n_head,
                        n_tokens=1, batch_size=run_batch, lr=run_lr, schedule="constant",
                        flop_convention=flop_convention, **run_options)  # type: ignore[arg-type]
        per_step = probe.flops_per_token() * probe.tokens_per_step
        points = []  # (budget, steps in all, branch step)
        for budget in sorted(float(b) for b in budgets):
            steps = max(1, round(budget / per_step))
            start = steps - max(1, round(cooldown_frac * steps))
            if start < 1:
                raise SweepError(f"budget {budget:g} gives size {size:g} only {steps} step(s), "
                                 "too few to branch; raise the budget or lower batch_size")
            points.append((budget, steps, start))
        last = max(start for _, _, start in points)
        trunk = replace(probe, budget=float(f"{per_step * last:.6g}"),
                        n_tokens=last * probe.tokens_per_step)
        warmup = math.ceil(trunk.warmup_frac * last) if trunk.warmup_frac > 0 else 0
        runs.append(trunk)
        for budget, steps, start in points:
            if start <= warmup:
                raise SweepError(f"size {size:g}, budget {budget:g}: the branch would start "
                                 f"at step {start}, inside the trunk's {warmup}-step warmup; "
                                 "raise the smallest budget or lower warmup_frac")
            runs.append(replace(probe, budget=budget, n_tokens=steps * probe.tokens_per_step,
                                schedule="wsd", cooldown_frac=(steps - start) / steps,
                                parent=trunk.run_id, branch_step=start))
    rule: dict[str, object] = {
        "mode": "cooldown_branches", "budgets": [float(b) for b in sorted(budgets)],
        "sizes": [float(s) for s in sorted(sizes)], "cooldown_frac": float(cooldown_frac),
        "flop_convention": flop_convention, "aspect_ratio": float(aspect_ratio),
        "head_dim": head_dim, "lr_rule": "deepseek" if lr is None else "fixed",
        "batch_rule": "deepseek" if batch_size is None else "fixed",
    }
    return SweepDesign(runs=tuple(runs), rule=rule)


@dataclass(frozen=True)
class BranchCost:
    """What a store's runs cost against training the same points from scratch.

    Attributes
    ----------
    n_points : int
        Runs that are data points (branches and runs trained from scratch; not trunks).
    n_trunks : int
        Runs that branches start from.
    tokens_spent, flops_spent : float
        Tokens and FLOPs actually trained: each run's own steps (a trunk once, a branch
        only its cooldown), under each run's FLOP convention.
    tokens_from_scratch, flops_from_scratch : float
        The same points each trained from scratch: the sum of their ``n_tokens`` and
        ``flops``.
    """

    n_points: int
    n_trunks: int
    tokens_spent: float
    tokens_from_scratch: float
    flops_spent: float
    flops_from_scratch: float

    @property
    def ratio(self) -> float:
        """``flops_spent / flops_from_scratch`` (below 1: branching saved compute)."""
        return self.flops_spent / self.flops_from_scratch if self.flops_from_scratch else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain values, the ratio included."""
        return {"n_points": self.n_points, "n_trunks": self.n_trunks,
                "tokens_spent": self.tokens_spent, "tokens_from_scratch": self.tokens_from_scratch,
                "flops_spent": self.flops_spent, "flops_from_scratch": self.flops_from_scratch,
                "ratio": self.ratio}

    def __repr__(self) -> str:
        return (f"BranchCost({self.n_points} points from {self.n_trunks} trunk(s): "
                f"{self.flops_spent:.4g} FLOPs spent against {self.flops_from_scratch:.4g} "
                f"from scratch, ratio {self.ratio:.3f})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def branch_cost(runs: str | Path | pd.DataFrame | SweepDesign) -> BranchCost:
    """Compute spent by a sweep's runs (trunks once) against its points from scratch.

    Parameters
    ----------
    runs : path, DataFrame or SweepDesign
        A sweep store, or :func:`~scalinglaws.sweep.store.read_runs` of one (what was
        trained), or a design (what it will cost, before training).

    Returns
    -------
    BranchCost

    Examples
    --------
    >>> table = pd.DataFrame({"n_tokens": [800, 1000, 600], "flops": [8.0, 10.0, 6.0],
    ...                       "trained_tokens": [800, 200, 100],
    ...                       "role": ["trunk", "branch", "branch"]})
    >>> cost = branch_cost(table)
    >>> cost.tokens_spent, cost.tokens_from_scratch, round(cost.ratio, 3)
    (1100.0, 1600.0, 0.688)
    """
    if isinstance(runs, SweepDesign):
        parents = {run.parent for run in runs.runs}
        runs = pd.DataFrame({
            "n_tokens": [run.n_steps * run.tokens_per_step for run in runs.runs],
            "flops": [run.flops_per_token() * run.n_steps * run.tokens_per_step
                      for run in runs.runs],
            "trained_tokens": [(run.n_steps - run.branch_step) * run.tokens_per_step
                               for run in runs.runs],
            "role": ["trunk" if run.run_id in parents else "branch" if run.parent else "run"
                     for run in runs.runs]})
    elif not isinstance(runs, pd.DataFrame):
        from scalinglaws.sweep.store import read_runs

        runs = read_runs(runs)
    missing = {"n_tokens", "flops", "trained_tokens", "role"} - set(runs.columns)
    if missing:
        raise SweepError(f"branch_cost needs the store's columns {sorted(missing)}; give a "
                         "sweep store or its read_runs table")
    n_tokens = runs["n_tokens"].astype(float)
    own = runs["trained_tokens"].astype(float).fillna(n_tokens)  # old rows: from scratch
    points = runs["role"] != "trunk"
    return BranchCost(
        n_points=int(points.sum()), n_trunks=int((~points).sum()),
        tokens_spent=float(own.sum()), tokens_from_scratch=float(n_tokens[points].sum()),
        flops_spent=float((runs["flops"].astype(float) * own / n_tokens).sum()),
        flops_from_scratch=float(runs["flops"].astype(float)[points].sum()))


# -- what the backends need: parents before branches ------------------------------------

def branch_points(design: SweepDesign, pending: Sequence[RunSpec], finished: set[str],
                  checkpoint_every: int | None) -> dict[str, frozenset[int]]:
    """Parent run_id -> the steps its branches start from; checks every branch's parent."""
    ids = {run.run_id for run in design.runs}
    points: dict[str, set[int]] = {}
    for run in design.runs:
        if not run.parent:
            continue
        if run.parent not in ids and run.parent not in finished:
            raise SweepError(f"run {run.run_id} branches from run {run.parent}, which is "
                             "neither in the design nor in the store; add the parent run")
        points.setdefault(run.parent, set()).add(run.branch_step)
    if checkpoint_every == 0 and any(run.parent for run in pending):
        raise SweepError("the design has branches, which start from their parent's "
                         "checkpoints; drop --checkpoint-every 0")
    return {parent: frozenset(steps) for parent, steps in points.items()}


def drop_trunk_checkpoints(design: SweepDesign, store: str | Path, root: str | Path,
                           points: dict[str, frozenset[int]]) -> None:
    """Delete each parent's kept checkpoints (``root/<run_id>``) once it and all its
    branches are in the store."""
    if not points:
        return
    from scalinglaws.sweep.store import done_ids

    stored = done_ids(store)
    for parent in points:
        branches = {run.run_id for run in design.runs if run.parent == parent}
        if parent in stored and branches <= stored:
            from scalinglaws.sweep import checkpoint

            checkpoint.remove(Path(root) / parent)


class BranchOrder:
    """Hands out runs whose parent is not pending; fails the branches of a failed run."""

    def __init__(self, specs: Sequence[RunSpec]) -> None:
        ids = {spec.run_id for spec in specs}
        self.children: dict[str, list[RunSpec]] = {}
        self.ready: list[RunSpec] = []
        for spec in specs:
            if spec.parent in ids:
                self.children.setdefault(spec.parent, []).append(spec)
            else:
                self.ready.append(spec)
        self.left = len(specs)  # neither handed out nor failed yet

    def take(self) -> list[RunSpec]:
        """The runs that may start now (each handed out once)."""
        out, self.ready = self.ready, []
        self.left -= len(out)
        return out

    def settle(self, run_id: str, ok: bool) -> list[str]:
        """``run_id`` finished: its branches become ready, or (``ok`` false) fail; returns
        the run_ids failed by this, branches of branches included."""
        children = self.children.pop(run_id, [])
        if ok:
            self.ready += children
            return []
        failed: list[str] = []
        for child in children:
            self.left -= 1
            failed += [child.run_id, *self.settle(child.run_id, False)]
        return failed
