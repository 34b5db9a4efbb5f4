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
- ``runner``: curves trained by the package's own sweep runner (benchmarks/data/
  runner_schedules.csv, see its SOURCE.md): two sizes (35k and 119k parameters) x two
  peak LRs x six schedules (constant, cosine, WSD with 10/20/30 % cooldowns, step
  decay), 800 steps, held-out loss every 20 steps. Per size and peak, constant and
  cosine are fitted (from step ``RUNNER_MIN_STEP``) and the four others predicted. The
  schedules are rebuilt exactly with the runner's own ``lr_at`` (checked against the
  logged LRs). A ``(constant run)`` row scores no law at all: the constant-LR curve
  taken as the prediction of every other schedule.

Scores per held-out run: ``final`` = |predicted - observed| / observed at the last
step, ``curve`` = root mean square of the relative error over its logged steps (after
``min_step``). The table gives the mean over held-out runs (and the worst final).

Usage::

    PYTHONPATH=src python benchmarks/schedules.py [--quick] [--source runner]
    PYTHONPATH=src python benchmarks/schedules.py --make-runner-data /tmp/runner.db  # retrain

``--quick`` runs one model size and one synthetic truth (about a minute); the full run
takes a few minutes on two busy cores.
"""

from __future__ import annotations

import argparse
import itertools
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


def score(cf: sl.CurveFit, table: pd.DataFrame, lrs: np.ndarray,
          min_step: int = MIN_STEP) -> tuple[float, float]:
    kept = table[table.step >= min_step]
    pred = cf.predict_curve(lrs, steps=kept.step.to_numpy())
    rel = (pred - kept.loss.to_numpy()) / kept.loss.to_numpy()
    return float(abs(rel[-1])), float(np.sqrt(np.mean(rel**2)))


def evaluate(name: str, runs: dict, train: tuple, longer_only: bool = False,
             min_step: int = MIN_STEP) -> list[dict]:
    rows = []
    fit_table = pd.concat([runs[k][0].assign(run=str(k)) for k in train])
    scheds = {str(k): runs[k][1] for k in train}
    for law in LAWS:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cf = sl.fit_curves(fit_table, law, schedules=scheds, min_step=min_step)
            seconds = time.perf_counter() - t0
            held = [k for k in runs if k not in train and (not longer_only or k[0] > max(t[0] for t in train))]
            scores = [score(cf, *runs[k], min_step=min_step) for k in held]
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


RUNNER_CSV = Path(__file__).resolve().parent / "data" / "runner_schedules.csv"
#: name -> (schedule, cooldown_frac) of the runner's curves
RUNNER_SCHEDULES = {"constant": ("constant", 0.2), "cosine": ("cosine", 0.2), "wsd10": ("wsd", 0.1),
                    "wsd20": ("wsd", 0.2), "wsd30": ("wsd", 0.3), "step": ("step", 0.2)}
#: (n_layer, d_model, n_head) of the two sizes
RUNNER_SHAPES = ((2, 32, 2), (2, 64, 4))
RUNNER_PEAKS = (3e-3, 1e-2)


def runner_specs() -> dict[tuple[int, float, str], object]:
    """The 24 runs of ``runner_schedules.csv``: two sizes x two peak LRs x six schedules,
    800 steps each."""
    from scalinglaws.sweep.design import DataSpec, RunSpec

    out = {}
    for (n_layer, d_model, n_head), peak in itertools.product(RUNNER_SHAPES, RUNNER_PEAKS):
        for name, (schedule, cooldown) in RUNNER_SCHEDULES.items():
            out[(d_model, peak, name)] = RunSpec(
                budget=1.0, n_layer=n_layer, d_model=d_model, n_head=n_head, n_tokens=800 * 16 * 64,
                batch_size=16, lr=peak, seq_len=64, schedule=schedule, cooldown_frac=cooldown,
                warmup_frac=0.05, min_lr_ratio=0.1, n_evals=40, eval_tokens=8192,
                data=DataSpec(corpus="devils-dictionary"))
    return out


def make_runner_data(store: Path, workers: int = 2) -> None:
    """Train the runner's curves (CPU, one thread per worker) and write ``RUNNER_CSV``."""
    from scalinglaws.sweep import SweepDesign, read_curves, read_runs, run_sweep

    specs = runner_specs()
    report = run_sweep(SweepDesign(runs=tuple(specs.values())), store, workers=workers,
                       device="cpu", threads=1, progress=False, checkpoint_every=0)
    print(f"trained {len(report.done)} runs in {report.seconds:.0f} s")
    runs = read_runs(store).set_index("run_id")
    curves = read_curves(store)
    rows = []
    for (d_model, _, name), spec in specs.items():
        c = curves[curves.run_id == spec.run_id]
        rows.append(pd.DataFrame({
            "size": f"d{d_model}", "n_params": int(runs.loc[spec.run_id, "n_params"]), "schedule": name,
            "kind": spec.schedule, "cooldown_frac": spec.cooldown_frac, "n_steps": spec.n_steps,
            "peak_lr": spec.lr, "warmup_frac": spec.warmup_frac, "min_lr_ratio": spec.min_lr_ratio,
            "step": c.step.to_numpy(), "tokens": c.tokens.to_numpy(), "loss": c.loss.round(6).to_numpy(),
            "lr": c.lr.to_numpy()}))
    pd.concat(rows).to_csv(RUNNER_CSV, index=False)
    print(f"wrote {RUNNER_CSV}")


RUNNER_MIN_STEP = 100


def naive_baseline(name: str, runs: dict, held: tuple, min_step: int) -> dict:
    """No law: predict every held-out curve by the constant-LR run's loss at the same steps."""
    ref = runs["constant"][0].set_index("step")["loss"]
    finals, rmses = [], []
    for k in held:
        kept = runs[k][0][runs[k][0].step >= min_step]
        rel = (ref.loc[kept.step].to_numpy() - kept.loss.to_numpy()) / kept.loss.to_numpy()
        finals.append(abs(rel[-1]))
        rmses.append(np.sqrt(np.mean(rel**2)))
    return {"set": name, "law": "(constant run)", "held_out": len(held), "final_mean_%": 100 * np.mean(finals),
            "final_worst_%": 100 * np.max(finals), "curve_rmse_%": 100 * np.mean(rmses), "fit_s": 0.0}


def runner_runs(size: str, peak: float) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """One size's curves at one peak LR from ``RUNNER_CSV``: schedule -> (step/loss table, lrs)."""
    from scalinglaws.sweep.schedule import lr_at

    d = pd.read_csv(RUNNER_CSV)
    out = {}
    for name, g in d[(d["size"] == size) & np.isclose(d.peak_lr, peak)].groupby("schedule", sort=False):
        r = g.iloc[0]
        n = int(r.n_steps)
        lrs = np.array([lr_at(s, n, peak=r.peak_lr, schedule=r.kind, warmup_frac=r.warmup_frac,
                              min_lr_ratio=r.min_lr_ratio, cooldown_frac=r.cooldown_frac) for s in range(n)])
        steps = g.step.to_numpy()
        assert np.allclose(lrs[steps - 1], g.lr.to_numpy(), rtol=1e-9), name  # the logged LRs
        out[str(name)] = (pd.DataFrame({"step": steps, "loss": g.loss.to_numpy()}), lrs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--source", choices=("all", "misfitting", "synthetic", "runner"), default="all")
    ap.add_argument("--make-runner-data", metavar="STORE", type=Path,
                    help="retrain the runner's curves into STORE and rewrite runner_schedules.csv")
    args = ap.parse_args()
    if args.make_runner_data:
        make_runner_data(args.make_runner_data)
        return
    rows = []
    if args.source in ("all", "runner"):
        pairs = pd.read_csv(RUNNER_CSV)[["size", "peak_lr"]].drop_duplicates()
        for size, peak in sorted(pairs.itertuples(index=False)):
            label, runs = f"runner {size} @{peak:g}, fit constant+cosine", runner_runs(size, peak)
            rows += evaluate(label, runs, ("constant", "cosine"), min_step=RUNNER_MIN_STEP)
            held = tuple(k for k in runs if k not in ("constant", "cosine"))
            rows.append(naive_baseline(label, runs, held, RUNNER_MIN_STEP))
    models = list(SPLITS.items()) if args.source in ("all", "misfitting") else []
    for model, peak in models[: 1 if args.quick else None]:
        runs = misfitting_runs(model, peak)
        train = tuple(sorted(runs)[:2])
        label = f"{model.replace('misfitting_', 'misfitting ')} @{peak:g}, fit {train[0][0]}+{train[1][0]} steps"
        rows += evaluate(label, runs, train, longer_only=True)
    for truth in (() if args.source not in ("all", "synthetic") else
                  ("multi_power",) if args.quick else ("multi_power", "lr_annealing")):
        rows += evaluate(f"synthetic ({truth} truth)", synthetic_runs(truth), ("constant", "cosine"))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
