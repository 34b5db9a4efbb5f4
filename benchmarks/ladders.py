"""Ladder benchmark: do two-variable laws L(N, D) fitted on the smaller runs of a real
ladder predict its largest-compute runs, and do their 90 % intervals cover them?

Data (every real ladder of final runs over model size N and tokens D we have)
-----------------------------------------------------------------------------
- ``chinchilla_epoch``: Epoch AI's reconstruction of Hoffmann et al.'s runs, all 240
  (``sl.datasets.load``); one ladder.
- ``gadre_overtraining``: Gadre et al. (2024), final losses, one ladder per
  ``train_dataset`` (C4, RedPajama, RefinedWeb; 34-35 runs each).
- ``porian``: Porian et al. (2024), IsoFLOP points of 12 budgets, one ladder per
  experiment (``source_file`` x ``label``: 15 ladders, 88-132 points), the paper's own
  convention; N, D and the budget in each experiment's counting convention
  (``benchmarks/data/ladders_porian.csv.gz``, see its ``.md``).
- ``misfitting``: Li et al. (2025), the bundled ``misfitting_lr_sweep`` at the best of its
  peak learning rates per (N, D) (81 runs, 11 sizes, 2-11 token budgets each).
- ``gemstones``: McLeish et al. (2025), 22 width x depth shapes at 20, 50, 100 and 350 B
  tokens (``gemstones_shapes``, 88 runs). Those are checkpoints of constant-learning-rate
  runs (no cooldown), which is what the authors fit their laws on.

Not used: Pythia (``pythia_evals``): every model saw the same 300 B tokens, so its final
runs vary in N only (a one-variable curve, scored by ``benchmarks/extrapolation.py``); its
intermediate checkpoints are not final runs of a cosine schedule.

Protocol (one rule for every ladder, fixed before any result was seen)
----------------------------------------------------------------------
1. Compute is the ladder's ``flops`` column (6ND for all but Porian, whose budgets follow
   each experiment's convention). Hold out the runs of largest compute, 20 % of the runs,
   with every run tied with the smallest held-out compute held out too (an IsoFLOP budget
   is held out whole): ``sl.validate(runs, law, holdout="largest", by="flops", frac=0.2,
   bootstrap=B, seed=0)``; every law is fitted on the rest with library defaults
   (Huber on log loss, delta 1e-3, the law's start grid).
2. Laws: ``chinchilla`` (the default), ``kaplan`` (Kaplan et al.'s joint L(N, D)),
   ``overtraining`` (Gadre et al.'s chinchilla with one shared exponent) and ``auto``
   (chosen among chinchilla and kaplan by nested extrapolation tests inside the training
   runs of each ladder). A data-constrained law (``muennighoff``) does not apply: no
   ladder repeats data.
3. Scores per held-out run: log error ``log predicted - log actual`` (negative: the law
   predicts too low); per ladder the log RMSE; per source the median and mean of the
   ladders' RMSE and the mean signed error over its held-out runs. Coverage: share of
   held-out runs inside the default 90 % predictive interval (``Fit.predict_interval``,
   as ``sl.validate`` reports it), pooled over the runs of a source, and the same for the
   bootstrap band of the curve alone (``kind="parameters"``, B refits), to show why the
   predictive interval is needed; ``width`` is the median half-width of the predictive
   interval in log units (a sharpness check: coverage alone rewards wide intervals). "all runs" pools every held-out run (Porian's 15
   ladders weigh most); "mean of sources" weighs the five sources equally.
4. A ladder whose fit raises is counted as failed (``fail``) and left out of the scores
   of that law (never silently: the count is printed).

The whole run (84 validations, 50 bootstrap refits each) takes about a minute on one
core; its output, with the command and the load, is in
``benchmarks/results/ladders-2026-11-30.txt`` and is discussed in ``docs/judging.md``
("Ladders"). Results are deterministic (seed 0 everywhere).

Only the public API is used: ``sl.datasets.load``, ``sl.load_runs``, ``sl.validate`` (its
``table`` and ``fit``), ``Fit.predict_interval``, ``Fit.law.variables``.

Usage::

    PYTHONPATH=src python benchmarks/ladders.py [--laws chinchilla,kaplan,overtraining,auto]
        [--sources chinchilla_epoch,gadre,porian,misfitting,gemstones] [--bootstrap 50]
        [--jobs 1] [--json out.json]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core per worker
    os.environ.setdefault(_v, "1")

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import scalinglaws as sl

PORIAN = Path(__file__).resolve().parent / "data" / "ladders_porian.csv.gz"
SOURCES = ("chinchilla_epoch", "gadre", "porian", "misfitting", "gemstones")
LAWS = ("chinchilla", "kaplan", "overtraining", "auto")
LEVEL = 0.9
FRAC = 0.2
COLUMNS = ["n_params", "n_tokens", "flops", "loss"]


# ----------------------------------------------------------------------------- data


def _frame(runs: Any) -> pd.DataFrame:
    return runs.data if hasattr(runs, "data") else pd.DataFrame(runs)


def ladders(sources: tuple[str, ...] = SOURCES) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """Every ladder as ``(source, name, frame with n_params, n_tokens, flops, loss)``."""
    if "chinchilla_epoch" in sources:
        d = _frame(sl.datasets.load("chinchilla_epoch"))
        yield "chinchilla_epoch", "all 240 runs", d[COLUMNS].reset_index(drop=True)
    if "gadre" in sources:
        d = _frame(sl.datasets.load("gadre_overtraining"))
        for name, g in d.groupby("train_dataset", sort=True):
            yield "gadre", str(name), g[COLUMNS].reset_index(drop=True)
    if "porian" in sources:
        d = pd.read_csv(PORIAN)
        d = d.rename(columns={"N": "n_params", "D_tokens": "n_tokens"})
        files = {"summary_df.pickle.xz": "rw", "summary_df_owt2.pickle.xz": "owt2",
                 "summary_df_att.pickle.xz": "rw-att", "summary_df_kaplan_tuned_hparams.pickle.xz": "rw-tuned"}
        for (src, label), g in d.groupby(["source_file", "label"], sort=True):
            yield "porian", f"{files.get(src, src)}: {label}", g[COLUMNS].reset_index(drop=True)
    if "misfitting" in sources:
        d = _frame(sl.datasets.load("misfitting_lr_sweep"))
        best = d.loc[d.groupby(["n_params", "n_tokens"])["loss"].idxmin()]
        yield "misfitting", "best LR per (N, D)", best[COLUMNS].sort_values("flops").reset_index(drop=True)
    if "gemstones" in sources:
        d = _frame(sl.datasets.load("gemstones_shapes"))
        yield "gemstones", "22 shapes x 4 token counts", d[COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------- one ladder


def _inputs(fit: Any, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The fitted law's variables at the held-out runs, from n_params and n_tokens."""
    n, d = table["n_params"].to_numpy(float), table["n_tokens"].to_numpy(float)
    known = {"n_params": n, "n_tokens": d, "flops": 6 * n * d, "tokens_per_param": d / n}
    return {v: known[v] for v in fit.law.variables}


def score_ladder(job: tuple[str, str, pd.DataFrame, str, int]) -> dict[str, Any]:
    """Validate one law on one ladder; the held-out runs with both intervals."""
    source, name, frame, law, bootstrap = job
    t0 = time.perf_counter()
    out: dict[str, Any] = {"source": source, "ladder": name, "law": law, "n_runs": len(frame)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs = sl.load_runs(frame)
            v = sl.validate(runs, law, holdout="largest", by="flops", frac=FRAC, level=LEVEL,
                            bootstrap=bootstrap, seed=0)
            t = v.table
            held = frame.iloc[t["row"].to_numpy()].reset_index(drop=True)
            lo_p = hi_p = np.full(len(t), np.nan)
            if bootstrap > 0:
                try:
                    lo_p, hi_p = v.fit.predict_interval(LEVEL, kind="parameters", check_range=False,
                                                        **_inputs(v.fit, held))
                except sl.ScalingLawsError:
                    pass
    except sl.ScalingLawsError as err:
        out.update(failed=f"{type(err).__name__}: {err}", seconds=time.perf_counter() - t0)
        return out
    actual = t["actual"].to_numpy(float)
    lo_p, hi_p = np.broadcast_to(lo_p, actual.shape), np.broadcast_to(hi_p, actual.shape)
    out.update(
        failed=None,
        n_train=int(v.n_train[0]),
        n_test=int(v.n_test),
        train_flops=(float(frame["flops"].min()), float(frame.loc[~frame.index.isin(t["row"]), "flops"].max())),
        test_flops=(float(held["flops"].min()), float(held["flops"].max())),
        chosen=sorted({s.name for s in v.selections}) if v.selections else [v.fit.law.name],
        note=v.fit.predictive_note,
        actual=actual.tolist(),
        predicted=t["predicted"].to_numpy(float).tolist(),
        lower=t["lower"].to_numpy(float).tolist(),
        upper=t["upper"].to_numpy(float).tolist(),
        log_error=t["log_error"].to_numpy(float).tolist(),
        inside=t["inside"].to_numpy(bool).tolist(),
        inside_param=((actual >= lo_p) & (actual <= hi_p)).tolist(),
        param_ok=bool(np.isfinite(lo_p).all() and np.isfinite(hi_p).all()),
        seconds=time.perf_counter() - t0,
    )
    return out


# ----------------------------------------------------------------------------- tables


def _fmt(x: float, spec: str = ".4f", unit: str = "") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, spec) + unit


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if not r["failed"]]
    if not ok:
        return {"ladders": len(rows), "fail": len(rows)}
    e = np.concatenate([r["log_error"] for r in ok])
    rmse = np.array([math.sqrt(np.mean(np.square(r["log_error"]))) for r in ok])
    cov = np.concatenate([r["inside"] for r in ok]).astype(float)
    half = np.concatenate([np.log(np.divide(r["upper"], r["lower"])) / 2 for r in ok])
    pok = [r for r in ok if r["param_ok"]]
    pcov = np.concatenate([r["inside_param"] for r in pok]).astype(float) if pok else np.array([np.nan])
    return {"ladders": len(rows), "fail": len(rows) - len(ok), "runs": int(e.size),
            "rmse_median": float(np.median(rmse)), "rmse_mean": float(np.mean(rmse)),
            "bias": float(np.mean(e)), "too_low": float(np.mean(e < 0)),
            "coverage": float(np.mean(cov)), "coverage_param": float(np.mean(pcov)),
            "half_width": float(np.median(half)),
            "ladders_under_80": int(sum(np.mean(r["inside"]) < 0.8 for r in ok))}


def report(results: list[dict[str, Any]], laws: tuple[str, ...]) -> str:
    lines: list[str] = []
    first = [r for r in results if r["law"] == laws[0]]
    lines.append("Ladders (compute: the flops column; held out: the top 20 % by compute, ties together)")
    lines.append(f"{'source':<17} {'ladder':<52} {'runs':>4} {'test':>4} {'C span (dec)':>12} {'train top':>9}"
                 f" {'test C':>17}")
    for r in first:
        if r["failed"]:
            lines.append(f"{r['source']:<17} {r['ladder'][:52]:<52} {r['n_runs']:>4}  failed: {r['failed'][:60]}")
            continue
        lo, top = r["train_flops"]
        span = math.log10(r["test_flops"][1] / lo)
        lines.append(f"{r['source']:<17} {r['ladder'][:52]:<52} {r['n_runs']:>4} {r['n_test']:>4} {span:>12.2f}"
                     f" {top:>9.2g} {r['test_flops'][0]:>8.2g}-{r['test_flops'][1]:<8.2g}")
    lines.append("")
    head = (f"{'source':<17} {'law':<13} {'lad':>3} {'fail':>4} {'runs':>4} {'RMSE med':>9} {'RMSE mean':>9}"
            f" {'bias':>8} {'%low':>5} {'cov90':>6} {'width':>6} {'boot90':>6} {'lad<80%':>7}")
    lines.append("Scores (log error = log predicted - log actual; cov90: default predictive interval; "
                 "width: median half-width of that interval in log units; boot90: bootstrap band of the curve, "
                 "kind='parameters')")
    lines.append(head)
    sources = list(dict.fromkeys(r["source"] for r in results))
    for src in sources + ["all runs", "mean of sources"]:
        for law in laws:
            if src == "mean of sources":
                per = [_summary([r for r in results if r["source"] == s and r["law"] == law]) for s in sources]
                per = [p for p in per if "runs" in p]
                if not per:
                    continue
                s = {k: float(np.mean([p[k] for p in per])) for k in
                     ("rmse_median", "rmse_mean", "bias", "too_low", "coverage", "coverage_param", "half_width")}
                s.update(ladders=sum(p["ladders"] for p in per), fail=sum(p["fail"] for p in per),
                         runs=sum(p["runs"] for p in per), ladders_under_80=sum(p["ladders_under_80"] for p in per))
            else:
                s = _summary([r for r in results if r["law"] == law and (src == "all runs" or r["source"] == src)])
            if "runs" not in s:
                lines.append(f"{src:<17} {law:<13} {s['ladders']:>3} {s['fail']:>4}  (every fit failed)")
                continue
            lines.append(
                f"{src:<17} {law:<13} {s['ladders']:>3} {s['fail']:>4} {s['runs']:>4} {_fmt(s['rmse_median']):>9}"
                f" {_fmt(s['rmse_mean']):>9} {_fmt(s['bias'], '+.4f'):>8} {_fmt(100 * s['too_low'], '.0f'):>5}"
                f" {_fmt(100 * s['coverage'], '.0f', '%'):>6} {_fmt(s['half_width'], '.3f'):>6}"
                f" {_fmt(100 * s['coverage_param'], '.0f', '%'):>6}"
                f" {s['ladders_under_80']:>7}")
        lines.append("")
    lines.append("Per ladder (RMSE / coverage of the 90 % predictive interval, held-out runs)")
    lines.append(f"{'ladder':<60} " + " ".join(f"{law:>17}" for law in laws))
    for r0 in first:
        cells = []
        for law in laws:
            r = next(x for x in results if x["law"] == law and x["ladder"] == r0["ladder"] and x["source"] == r0["source"])
            if r["failed"]:
                cells.append(f"{'failed':>17}")
            else:
                rm = math.sqrt(np.mean(np.square(r["log_error"])))
                cells.append(f"{rm:>8.4f} / {100 * np.mean(r['inside']):>4.0f}%  ")
        lines.append(f"{(r0['source'] + ': ' + r0['ladder'])[:60]:<60} " + " ".join(cells))
    lines.append("")
    lines.append(f"Per ladder, {laws[0]}: sharpness (ratio: held-out RMSE / the interval's implied standard deviation, "
                 "half-width / 1.645; about 1 when calibrated ladder by ladder, < 1: too wide, > 1: too narrow)")
    lines.append(f"{'ladder':<60} {'train':>5} {'RMSE':>7} {'bias':>8} {'width':>6} {'ratio':>6} {'cov90':>6}")
    for r in first:
        if r["failed"]:
            continue
        e = np.asarray(r["log_error"])
        rm = math.sqrt(np.mean(e**2))
        half = float(np.median(np.log(np.divide(r["upper"], r["lower"])) / 2))
        ratio = rm / (half / 1.645) if half > 0 else math.inf
        lines.append(f"{(r['source'] + ': ' + r['ladder'])[:60]:<60} {r['n_train']:>5} {rm:>7.4f} {e.mean():>+8.4f}"
                     f" {half:>6.3f} {ratio:>6.2f} {100 * np.mean(r['inside']):>5.0f}%")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Data and protocol: the docstring at the top of benchmarks/ladders.py.")
    p.add_argument("--laws", default=",".join(LAWS), help="comma-separated laws (first: the one whose ladders are listed)")
    p.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated, of {', '.join(SOURCES)}")
    p.add_argument("--bootstrap", type=int, default=50, help="bootstrap refits per fit, for the kind='parameters' band")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--json", help="write every held-out run's numbers here")
    a = p.parse_args(argv)
    laws = tuple(x.strip() for x in a.laws.split(",") if x.strip())
    sources = tuple(x.strip() for x in a.sources.split(",") if x.strip())
    bad = [s for s in sources if s not in SOURCES]
    if bad or not laws:
        print(f"error: unknown source(s) {bad}; choose from {', '.join(SOURCES)}" if bad else "error: no laws", file=sys.stderr)
        return 2
    for law in laws:
        if law != "auto":
            try:
                sl.get_law(law)
            except sl.ScalingLawsError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
    if a.bootstrap < 0 or a.jobs < 1:
        print("error: --bootstrap must be >= 0 and --jobs >= 1", file=sys.stderr)
        return 2
    jobs = [(src, name, frame, law, a.bootstrap) for src, name, frame in ladders(sources) for law in laws]
    t0 = time.perf_counter()
    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            results = list(ex.map(score_ladder, jobs))
    else:
        results = [score_ladder(j) for j in jobs]
    wall = time.perf_counter() - t0
    print(report(results, laws))
    print(f"\n{len(jobs)} validations in {wall:.0f} s wall ({sum(r['seconds'] for r in results):.0f} s summed), "
          f"bootstrap {a.bootstrap}, jobs {a.jobs}")
    if a.json:
        Path(a.json).write_text(json.dumps({"laws": laws, "bootstrap": a.bootstrap, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
