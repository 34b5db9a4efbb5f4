"""Which pre-trained model to fine-tune: extrapolate each candidate from small subsets.

Lin et al. (2024, "Selecting Large Language Model to Fine-tune via Rectified Scaling
Law", ICML) fine-tune every candidate on a few small subsets of the fine-tuning set
(sizes ``B, B/2, B/4, ...`` under a data budget ``B``), predict each one's loss after
fine-tuning on the full set, and rank. :func:`select_finetune` does this two ways:

- ``method="ats"`` (the default) is their "Accept then Stop" procedure: starting from
  the ``k`` largest subsets, fit a line to ``(log D, log L)``, and walk towards smaller
  subsets, accepting each one while its residual, over the standard deviation of the
  current fit's residuals, stays within ``delta``; the first one beyond is in the
  pre-power phase and stops the walk. The line through the accepted points is
  extrapolated, with a t interval for the mean in log space.
- ``method="rectified"`` fits the rectified law ``B / (D_l + D^beta) + E`` (catalog
  ``rectified``) to each model's points with :func:`scalinglaws.fit_each`, and predicts
  at ``target_examples`` with a percentile interval over bootstrap refits. On the
  authors' FLAN curves (``sl.datasets.load("lin_finetune_flan")``) this ranks worse
  than AtS when the budget is small (fits of four parameters to a few points of the
  pre-power phase extrapolate poorly 500x out); see docs/finetune-density.md.

The cost is counted as fine-tuning FLOPs, ``6 * n_params * examples`` per subset (times
``tokens_per_example`` when given), against fine-tuning every candidate on
``target_examples``.
"""

from __future__ import annotations

import contextlib
import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.batch import fit_each
from scalinglaws.engine.result import check_level
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning

__all__ = ["FinetuneSelection", "select_finetune"]

METHODS = ("ats", "rectified")


@dataclass(frozen=True)
class FinetuneSelection:
    """Candidates ranked by their predicted loss after fine-tuning on ``target_examples``.

    Attributes
    ----------
    best : str
        The candidate with the lowest predicted loss.
    ranking : DataFrame
        One row per candidate, best first: ``model, predicted_loss, lower, upper,
        points_used, n_params`` (``n_params`` NaN when the runs lack it).
    method : str
        ``"ats"`` or ``"rectified"``.
    target_examples : float
        The full fine-tuning size predicted at.
    budget_examples : float
        The largest subset used.
    spent_flops, full_flops : float
        FLOPs of the subsets fitted (all candidates) and of fine-tuning every candidate on
        ``target_examples``; in units of ``6 * n_params * examples`` times
        ``tokens_per_example`` (1 when not given); without ``n_params``, examples.
    level : float
        Interval level.
    """

    best: str
    ranking: pd.DataFrame = field(repr=False)
    method: str
    target_examples: float
    budget_examples: float
    spent_flops: float
    full_flops: float
    level: float = 0.9

    @property
    def cost_ratio(self) -> float:
        """Spent over full: the share of the cost of fine-tuning every candidate fully."""
        return self.spent_flops / self.full_flops

    def __repr__(self) -> str:
        top = self.ranking.iloc[0]
        return (
            f"FinetuneSelection({self.method}: best {self.best!r}, predicted loss {top.predicted_loss:.4g} "
            f"({self.level:.0%}: {top.lower:.4g} to {top.upper:.4g}) at {self.target_examples:.4g} examples; "
            f"{len(self.ranking)} candidates from subsets up to {self.budget_examples:.4g}; "
            f"cost {self.cost_ratio:.3g} of fine-tuning all fully)"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>" + self.ranking.to_html(index=False, float_format="{:.4g}".format)

    def to_dict(self) -> dict[str, Any]:
        def j(v: Any) -> Any:
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else None
            return v.item() if isinstance(v, np.generic) else v

        return {
            "best": self.best,
            "method": self.method,
            "target_examples": self.target_examples,
            "budget_examples": self.budget_examples,
            "spent_flops": self.spent_flops,
            "full_flops": self.full_flops,
            "cost_ratio": self.cost_ratio,
            "level": self.level,
            "ranking": [{k: j(v) for k, v in row.items()} for row in self.ranking.to_dict(orient="records")],
        }


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
        math.isfinite(float(value)) and float(value) > 0
    ):
        raise DataError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _table(runs: Any, by: str, examples: str, target: str) -> pd.DataFrame:
    if not isinstance(runs, pd.DataFrame):
        raise DataError(f"runs must be a DataFrame (or Runs) with columns {by!r}, {examples!r}, {target!r}; got {type(runs).__name__}")
    missing = [c for c in (by, examples, target) if c not in runs.columns]
    if missing:
        raise DataError(f"runs lack the column(s) {missing}; select_finetune needs {by!r}, {examples!r} and {target!r}")
    t = pd.DataFrame(runs).copy()
    for c in (examples, target):
        t[c] = pd.to_numeric(t[c], errors="coerce")
    return t[np.isfinite(t[examples]) & (t[examples] > 0) & np.isfinite(t[target]) & (t[target] > 0)]


def _ats_line(d: np.ndarray, y: np.ndarray, k: int, delta: float, drop_smallest: bool = False) -> np.ndarray:
    """Indices (into d sorted descending) of the points Accept-then-Stop keeps; with
    ``drop_smallest`` the smallest subset is left out even when accepted (the authors' code)."""
    x, ly = np.log(d), np.log(y)
    n = k
    while n < len(x):
        slope, icept = np.polyfit(x[:n], ly[:n], 1)
        resid = ly[:n] - (icept + slope * x[:n])
        scale = float(np.std(resid))
        if scale > 0 and abs(ly[n] - (icept + slope * x[n])) / scale > delta:
            break
        n += 1
    if drop_smallest and n == len(x) > k:
        n -= 1
    return np.arange(n)


def _ats_predict(d: np.ndarray, y: np.ndarray, at: float, level: float) -> tuple[float, float, float]:
    x, ly = np.log(d), np.log(y)
    slope, icept = np.polyfit(x, ly, 1)
    x0 = math.log(at)
    mean = icept + slope * x0
    n = len(x)
    if n <= 2:
        return math.exp(mean), math.nan, math.nan
    s = math.sqrt(float(np.sum((ly - (icept + slope * x)) ** 2)) / (n - 2))
    sxx = float(np.sum((x - x.mean()) ** 2))
    from scipy import stats  # imported on use: it is heavy to import
    half = stats.t.ppf((1 + level) / 2, n - 2) * s * math.sqrt(1 / n + (x0 - x.mean()) ** 2 / sxx)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def select_finetune(
    runs: pd.DataFrame,
    target_examples: float,
    *,
    budget_examples: float | None = None,
    method: str = "ats",
    by: str = "model",
    examples: str = "finetune_examples",
    target: str = "loss",
    tokens_per_example: float | None = None,
    level: float = 0.9,
    bootstrap: int = 100,
    seed: int = 0,
    k: int = 3,
    delta: float = 5.0,
    drop_smallest: bool = False,
) -> FinetuneSelection:
    """Rank candidate models by their fine-tuning loss extrapolated to ``target_examples``.

    Parameters
    ----------
    runs : DataFrame
        One row per (candidate, subset): columns ``by`` (the candidate), ``examples``
        (subset size, > 0; zero-shot rows with 0 are ignored), ``target`` (the loss
        after fine-tuning on it) and optionally ``n_params`` (for the FLOPs).
    target_examples : float
        The full fine-tuning size to predict at.
    budget_examples : float, optional
        Use only subsets up to this size (the data budget); all by default.
    method : {"ats", "rectified"}
        Accept then Stop (a line in log-log through the power-phase points), or the
        rectified law per model with bootstrap intervals.
    tokens_per_example : float, optional
        Tokens per example, to express the cost in FLOPs (else per token of example).
    level : float
        Interval level.
    bootstrap, seed : int
        Bootstrap refits per model (``rectified``).
    k, delta : int, float
        Accept then Stop: points in the first line, and the threshold on the
        standardised residual (Lin et al. use 3 and 5).
    drop_smallest : bool
        Accept then Stop as the authors' code does it (``src/model_select.py`` of
        linhaowei1/Fine-tuning-Scaling-Law): when the walk accepts every subset, the
        smallest is still left out of the line (their loop never fits all points).
        With it, the FLAN numbers of their Table 1 are reproduced to the printed digit;
        without it (the default) an accepted subset is used.

    Returns
    -------
    FinetuneSelection

    Examples
    --------
    ``sl.select_finetune(sl.datasets.load("lin_finetune_flan"), 1638400, budget_examples=25600)``
    """
    level = check_level(level)
    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    at = _positive(target_examples, "target_examples")
    tpe = 1.0 if tokens_per_example is None else _positive(tokens_per_example, "tokens_per_example")
    t = _table(runs, by, examples, target)
    if budget_examples is not None:
        t = t[t[examples] <= _positive(budget_examples, "budget_examples")]
    counts = t.groupby(by)[examples].nunique()
    if len(counts) < 2:
        raise DataError(f"select_finetune needs two candidates or more with subsets within the budget; got {len(counts)}")
    need = 4 if method == "rectified" else k + 1
    few = counts[counts < need]
    if len(few):
        raise DataError(
            f"candidate {few.index[0]!r} has {int(few.iloc[0])} subset size(s) within the budget; "
            f"method {method!r} needs {need} or more"
        )
    rows = _rectified(t, at, by, examples, target, level, bootstrap, seed) if method == "rectified" else \
        _ats(t, at, by, examples, target, level, k, delta, drop_smallest)
    ranking = pd.DataFrame(rows).sort_values("predicted_loss", kind="stable").reset_index(drop=True)
    sizes = t.groupby(by)["n_params"].first() if "n_params" in t.columns else None
    ranking["n_params"] = [float(sizes[m]) if sizes is not None else math.nan for m in ranking["model"]]
    weight = pd.to_numeric(t["n_params"], errors="coerce").to_numpy(float) * 6.0 if sizes is not None else 1.0
    spent = float(np.sum(weight * t[examples].to_numpy(float))) * tpe
    full = float(np.sum((6.0 * ranking["n_params"].to_numpy(float)) if sizes is not None else len(ranking))) * at * tpe
    return FinetuneSelection(
        best=str(ranking["model"].iloc[0]),
        ranking=ranking,
        method=method,
        target_examples=at,
        budget_examples=float(t[examples].max()),
        spent_flops=spent,
        full_flops=full,
        level=level,
    )


def _rectified(t: pd.DataFrame, at: float, by: str, examples: str, target: str,
               level: float, bootstrap: int, seed: int) -> list[dict[str, Any]]:
    data = t[[by, examples, target]].rename(columns={examples: "finetune_examples"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLawsWarning)
        table = fit_each(data, "rectified", by=by, target=target, bootstrap=bootstrap, seed=seed)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    rows = []
    for model, f in table.items():
        point = float(f.predict(finetune_examples=at, check_range=False))
        lo = hi = math.nan
        if bootstrap:
            with contextlib.suppress(FitError):  # fewer than 2 converged refits: no interval
                lo, hi = (float(v) for v in np.nanpercentile(f.predict_draws(finetune_examples=np.array([at]))[:, 0], q))
        rows.append({"model": model, "predicted_loss": point, "lower": lo, "upper": hi,
                     "points_used": int(f.n_runs)})
    return rows


def _ats(t: pd.DataFrame, at: float, by: str, examples: str, target: str,
         level: float, k: int, delta: float, drop_smallest: bool = False) -> list[dict[str, Any]]:
    rows = []
    for model, g in t.groupby(by, sort=True):
        g = g.groupby(examples, as_index=False)[target].mean().sort_values(examples, ascending=False)
        d, y = g[examples].to_numpy(float), g[target].to_numpy(float)
        keep = _ats_line(d, y, int(k), float(delta), bool(drop_smallest))
        point, lo, hi = _ats_predict(d[keep], y[keep], at, level)
        rows.append({"model": model, "predicted_loss": point, "lower": lo, "upper": hi, "points_used": len(keep)})
    return rows
