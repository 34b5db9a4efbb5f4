"""Held-out schedules: fit a curve law on two schedules, predict the loss curves of the others.

Compares Tissue et al.'s ``lr_annealing`` with Luo et al.'s ``multi_power`` (both fitted
by :func:`scalinglaws.fit_curves` with the library defaults) on

- ``misfitting``: real runs of Li et al. (2025, tests/data/misfitting_li2025): per model
  size, cosine runs of several lengths and peak LRs. A run is (sweep, total steps, peak
  LR); its schedule is taken as open_lm's cosine to zero with a 100-step warmup (the
  warmup is not recorded: an assumption, as in tests/test_curves.py). Per model size,
  at one peak LR, the two shortest runs are fitted and every longer one predicted
  (across peak LRs neither law holds on these runs: both fits then drop the annealing
  term, as the loss does not follow the LR area when the peak changes).
- ``synthetic``: curves drawn from each law (the multi-power law with the 400M constants
  of the authors' repository README; ``lr_annealing`` with its contract-test constants
  for the same 3e-4 peak), 0.3 % log-normal noise, under constant, cosine (the two
  fitted), WSD (20 % 1-sqrt), step decay, cosine to 10 % and linear decay to zero.

Scores per held-out run: ``final`` = |predicted - observed| / observed at the last
step, ``curve`` = root mean square of the relative error over its logged steps (after
``min_step``). The table gives the mean over held-out runs (and the worst final).

Usage::

    PYTHONPATH=src python benchmarks/schedules.py [--quick]

``--quick`` runs one model size and one synthetic truth (about a minute); the full run
takes a few minutes on two busy cores.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws import schedules as S
from scalinglaws.dynamics.curves import curve_variables
from scalinglaws.laws import get_law

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "misfitting_li2025" / "misfitting_checkpoints.csv.gz"
LAWS = ("lr_annealing", "multi_power")
MIN_STEP = 250

# model -> the peak LR whose runs are used: the two shortest runs (with >= 8 logged
# evaluations) are fitted and every longer run predicted
SPLITS = {"misfitting_70m": 0.002, "misfitting_50m": 0.002, "misfitting_100m": 0.002, "misfitting_400m": 0.001}


def misfitting_runs(model: str, peak_lr: float) -> dict[tuple[int, float], tuple[pd.DataFrame, np.ndarray]]:
    d = pd.read_csv(DATA)
    d = d[(d.model == model) & np.isclose(d.peak_lr, peak_lr)]
    out = {}
    for (_, total, peak), g in d.groupby(["sweep", "total_steps", "peak_lr"]):
        key = (int(total), float(peak))
        g = g.drop_duplicates("current_steps").sort_values("current_steps")
        if key in out or len(g) < 8:
            continue  # keep one run per (length, peak): the first sweep that has it
        table = pd.DataFrame({"step": g.current_steps.to_numpy(), "loss": g.loss.to_numpy()})
        out[key] = (table, S.cosine(peak, int(total), warmup=100))
    return out


def score(cf: sl.CurveFit, table: pd.DataFrame, lrs: np.ndarray) -> tuple[float, float]:
    kept = table[table.step >= MIN_STEP]
    pred = cf.predict_curve(lrs, steps=kept.step.to_numpy())
    rel = (pred - kept.loss.to_numpy()) / kept.loss.to_numpy()
    return float(abs(rel[-1])), float(np.sqrt(np.mean(rel**2)))


def evaluate(name: str, runs: dict, train: tuple, longer_only: bool = False) -> list[dict]:
    rows = []
    fit_table = pd.concat([runs[k][0].assign(run=str(k)) for k in train])
    scheds = {str(k): runs[k][1] for k in train}
    for law in LAWS:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf = sl.fit_curves(fit_table, law, schedules=scheds, min_step=MIN_STEP)
            seconds = time.perf_counter() - t0
            held = [k for k in runs if k not in train and (not longer_only or k[0] > max(t[0] for t in train))]
            scores = [score(cf, *runs[k]) for k in held]
        finals = [s[0] for s in scores]
        rows.append({"set": name, "law": law, "held_out": len(scores), "final_mean_%": 100 * np.mean(finals),
                     "final_worst_%": 100 * np.max(finals), "curve_rmse_%": 100 * np.mean([s[1] for s in scores]),
                     "fit_s": seconds})
    return rows


def synthetic_runs(truth_law: str, seed: int = 0) -> dict:
    peak, T = 3e-4, 3000
    schedules = {
        "constant": S.constant(peak, T, warmup=100),
        "cosine": S.cosine(peak, T, warmup=100),
        "wsd": S.wsd(peak, T, warmup=100, cooldown=0.2, shape="sqrt"),
        "step": S.step(peak, T, warmup=100, milestones=(0.5, 0.75), gamma=0.316),
        "cosine10": S.cosine(peak, T, warmup=100, final=0.1),
        "linear_d2z": S.wsd(peak, T, warmup=100, cooldown=(T - 100) / T, shape="linear"),
    }
    law = get_law(truth_law)
    truth = ({"L0": 2.375, "A": 0.654, "alpha": 0.429, "B": 523.425, "C": 2.025, "beta": 0.594, "gamma": 0.635}
             if truth_law == "multi_power" else {"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2})
    rng = np.random.default_rng(seed)
    out = {}
    steps = np.arange(MIN_STEP, T + 1, 50)
    for name, lrs in schedules.items():
        v = curve_variables(lrs)
        X = {k: v[k][steps - 1] for k in law.variables}
        y = law(truth, **X) * np.exp(rng.normal(0, 0.003, steps.size))
        out[name] = (pd.DataFrame({"step": steps, "loss": y}), lrs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows = []
    for model, peak in list(SPLITS.items())[: 1 if args.quick else None]:
        runs = misfitting_runs(model, peak)
        train = tuple(sorted(runs)[:2])
        label = f"{model.replace('misfitting_', 'misfitting ')} @{peak:g}, fit {train[0][0]}+{train[1][0]} steps"
        rows += evaluate(label, runs, train, longer_only=True)
    for truth in ("multi_power",) if args.quick else ("multi_power", "lr_annealing"):
        rows += evaluate(f"synthetic ({truth} truth)", synthetic_runs(truth), ("constant", "cosine"))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
