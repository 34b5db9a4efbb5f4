"""Two-step downstream prediction on Pythia: fit on the models up to 1.4B, predict 2.8B-12B.

Data: ``tests/data/pythia_evals/pythia_evals_0shot.csv`` (the main Pythia suite, standard
and deduped, 0-shot, 9 checkpoints from step 1000 to 143000; see its SOURCE.md).

- Step 1: the intermediate loss is LAMBADA's log-perplexity, ``log(ppl)``. A loss law
  in ``n_params`` and ``n_tokens`` is fitted to the checkpoints at step >= 3000 (after
  warmup) of the models up to 1.4B. The law is chosen among ``chinchilla`` and
  ``kaplan`` by the toolkit's nested extrapolation tests on those runs only
  (``sl.choose_law``), never by the held-out models.
- Step 2: for each task, ``accuracy_sigmoid`` (floor fitted, library defaults) from that
  loss to accuracy, on the same checkpoints.
- Prediction: ``sl.predict_downstream`` at the final checkpoints (step 143000) of the
  2.8B, 6.9B and 12B models, standard and deduped (6 per task), with a two-stage 90 %
  interval from both fits' bootstraps.
- One-step baseline: error ``1 - acc`` as a power law plus floor in training compute
  ``6 N D`` (catalog ``power``), fitted on the same checkpoints.

Usage::

    PYTHONPATH=src python benchmarks/downstream.py [--bootstrap 100] [--emergence]

Prints, per task, the mean and largest absolute error (accuracy points) of each method,
the two-step interval's coverage of the six held-out accuracies, and the overall median
absolute errors. ``--emergence`` also runs :func:`scalinglaws.emergence` on each task's
final accuracy against model size and prints which tasks are flagged.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pythia_evals" / "pythia_evals_0shot.csv"
TASKS = ("arc_easy", "arc_challenge", "piqa", "sciq", "winogrande", "lambada_openai")
FIT_MAX_PARAMS = 2e9  # fit on 70M ... 1.4B
MIN_STEP = 3000
FINAL_STEP = 143000


def load(path: Path = DATA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The LAMBADA loss per (model, step), and per-task accuracies joined to it."""
    d = pd.read_csv(path)
    d["n_params"] = d.n_params.astype(float)
    d["n_tokens"] = d.n_tokens.astype(float)
    lam = d[(d.task == "lambada_openai") & (d.metric == "ppl")].copy()
    lam["loss"] = np.log(lam.value)
    acc = d[d.metric == "acc"].merge(lam[["model", "step", "loss"]], on=["model", "step"])
    acc = acc.rename(columns={"value": "accuracy"})
    return lam, acc


def run(bootstrap: int = 100, level: float = 0.9, seed: int = 0) -> tuple[pd.DataFrame, str]:
    lam, acc = load()
    train = lam[(lam.n_params < FIT_MAX_PARAMS) & (lam.step >= MIN_STEP)][["n_params", "n_tokens", "loss"]]
    choice = sl.choose_law(train, ["chinchilla", "kaplan"])
    law = choice.ranked()[0]
    loss_fit = sl.fit(train, law, bootstrap=bootstrap, seed=seed, calibrate_intervals=False)
    rows = []
    for task in TASKS:
        a = acc[acc.task == task]
        tr = a[(a.n_params < FIT_MAX_PARAMS) & (a.step >= MIN_STEP)]
        te = a[(a.n_params >= FIT_MAX_PARAMS) & (a.step == FINAL_STEP)].sort_values(["n_params", "deduped"])
        sig = sl.fit(tr[["loss", "accuracy"]], "accuracy_sigmoid", bootstrap=bootstrap, seed=seed, calibrate_intervals=False)
        pred = sl.predict_downstream(loss_fit, sig, level=level, n_params=te.n_params.to_numpy(), n_tokens=te.n_tokens.to_numpy())
        base_runs = pd.DataFrame({"x": 6 * tr.n_params * tr.n_tokens, "error": 1 - tr.accuracy})
        base = sl.fit(base_runs, "power", target="error", calibrate_intervals=False)
        one = 1 - base.predict(x=(6 * te.n_params * te.n_tokens).to_numpy())
        truth = te.accuracy.to_numpy()
        lo, hi = pred.error_interval if pred.error_interval is not None else (np.nan, np.nan)
        for i, model in enumerate(te.model):
            rows.append({
                "task": task, "model": model, "actual": truth[i],
                "two_step": float(pred.error[i]), "lower": float(lo[i]), "upper": float(hi[i]),
                "one_step": float(one[i]), "loss_actual": float(te.loss.iloc[i]), "loss_pred": float(pred.loss[i]),
            })
    return pd.DataFrame(rows), law


def emergence_table() -> pd.DataFrame:
    """:func:`scalinglaws.emergence` on each task's final accuracy against model size (all 8 sizes)."""
    _, acc = load()
    out = []
    for task in TASKS:
        a = acc[(acc.task == task) & (acc.step == FINAL_STEP)]
        e = sl.emergence(a, x="n_params", y="accuracy")
        out.append({"task": task, "flagged": e.emergent, "delta_aic": e.delta_aic, "break_at": e.break_at, "sharpness": e.sharpness})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--emergence", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore", sl.ScalingLawsWarning)
    t0 = time.perf_counter()
    table, law = run(args.bootstrap)
    table["err_two"] = (table.two_step - table.actual).abs()
    table["err_one"] = (table.one_step - table.actual).abs()
    table["inside"] = (table.lower <= table.actual) & (table.actual <= table.upper)
    first = table[table.task == TASKS[0]]
    loss_err = float(np.mean(np.abs(first.loss_pred - first.loss_actual)))
    print(f"step 1: {law} on log(LAMBADA ppl), models <= 1.4B, steps >= {MIN_STEP}; "
          f"loss error at 2.8B-12B: mean {loss_err:.3f} nats")
    summary = table.groupby("task", sort=False).agg(
        two_mean=("err_two", "mean"), two_max=("err_two", "max"),
        one_mean=("err_one", "mean"), one_max=("err_one", "max"), covered=("inside", "sum"), n=("inside", "size"))
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(summary)
    print(f"median absolute error over {len(table)} predictions: two-step {table.err_two.median():.4f}, "
          f"one-step {table.err_one.median():.4f}; two-step 90% interval covers {int(table.inside.sum())}/{len(table)}")
    if args.emergence:
        with pd.option_context("display.width", 200, "display.precision", 3):
            print(emergence_table())
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
