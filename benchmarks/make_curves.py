"""Build the shipped extrapolation benchmark, ``benchmarks/data/curves.csv.gz``.

Every curve is a loss or error ``y`` (positive, decreasing in trend) against a scale ``x``
(training-set size, tokens, steps or parameters), taken from real experiments:

=============  =====================================================================
source         curves
=============  =====================================================================
lcdb           LCDB 0.1.0 (Mohr et al.): test error rate of a scikit-learn learner
               against training-set size on an OpenML data set
pythia         Pythia (Biderman et al. 2023): 1 - accuracy, or the log perplexity, of a
               downstream task against training tokens (one model) or against model size
               (final checkpoint)
misfitting     Li et al. 2025: C4 eval loss against step of one training run
chinchilla     Epoch AI's extraction of Hoffmann et al. 2022: final loss against tokens
               for one model size
bnsl_4digit    Caballero et al. 2023: 4-digit addition, cross-entropy against data size
=============  =====================================================================

Rules, the same for every source (see ``benchmarks/data/SOURCE.md``):

* ``y > 0`` everywhere, at least 8 points (the 4-digit curve, 17 points, is kept whole);
  curves of more than 20 points are thinned to at most 20 log-spaced points, both
  ends kept, so that the largest 25 % of points is about the largest quarter in log x;
* a clear decreasing trend: Spearman rank correlation of x and y at most -0.7, and the
  last point at most 0.9 times the first;
* where a source has more eligible curves than its quota, a fixed-seed random sample
  (``numpy.random.default_rng(SEED)``), never a choice by extrapolation result.

Usage::

    python benchmarks/make_curves.py --lcdb /path/to/lcdb-0.1.0.tar.gz [--data /work/shared/data]
        [-o benchmarks/data/curves.csv.gz]

``pip download lcdb==0.1.0 --no-deps -d DIR`` fetches the LCDB sdist (68 MB, MIT licence);
its ``lcdb/database-accuracy.csv`` is read straight from the archive.
"""

from __future__ import annotations

import argparse
import gzip
import io
import math
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

SEED = 0
MIN_POINTS, MAX_POINTS = 8, 20
MAX_RHO, MAX_RATIO = -0.7, 0.9
QUOTA = {"lcdb": 110, "pythia_tokens": 54, "misfitting": 60}  # others: every eligible curve
LCDB_MIN_ERROR, LCDB_MIN_DECADES, LCDB_MIN_EVALS = 0.01, 1.5, 5
PYTHIA_ABOVE_CHANCE = 0.10
# chance accuracy of the harness tasks used (lambada: open vocabulary, ~0)
PYTHIA_TASKS = {"arc_easy": 0.25, "piqa": 0.5, "sciq": 0.25, "winogrande": 0.5, "lambada_openai": 0.0}
MISFITTING_MIN_DECADES = 1.0

COLUMNS = ["source", "domain", "curve_id", "x", "y", "x_name", "y_name"]


def thin(x: np.ndarray, y: np.ndarray, k: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``k`` points, nearest to a log-spaced grid, both ends kept."""
    if len(x) <= k:
        return x, y
    want = np.geomspace(x[0], x[-1], k)
    idx = np.unique([int(np.argmin(np.abs(np.log(x) - np.log(w)))) for w in want])
    return x[idx], y[idx]


def decreasing(x: np.ndarray, y: np.ndarray) -> bool:
    if len(x) < 3 or np.ptp(y) == 0:
        return False
    rho = spearmanr(x, y).statistic
    return bool(rho <= MAX_RHO and y[-1] <= MAX_RATIO * y[0])


def curve_rows(source, domain, cid, x, y, x_name, y_name) -> pd.DataFrame:
    return pd.DataFrame(
        {"source": source, "domain": domain, "curve_id": cid, "x": x, "y": y, "x_name": x_name, "y_name": y_name}
    )


def accept(x, y, min_points: int = MIN_POINTS) -> tuple[np.ndarray, np.ndarray] | None:
    """Sort, drop repeated x, thin; None when the curve breaks a rule."""
    o = np.argsort(x, kind="stable")
    x, y = np.asarray(x, float)[o], np.asarray(y, float)[o]
    keep = np.r_[True, np.diff(x) > 0]
    x, y = x[keep], y[keep]
    if not (np.all(np.isfinite(y)) and np.all(y > 0) and np.all(x > 0)):
        return None
    x, y = thin(x, y)
    if len(x) < min_points or not decreasing(x, y):
        return None
    return x, y


def sample(cands: list, quota: int | None, rng: np.random.Generator) -> list:
    if quota is None or len(cands) <= quota:
        return cands
    idx = np.sort(rng.choice(len(cands), size=quota, replace=False))
    return [cands[i] for i in idx]


# ----------------------------------------------------------------------------- sources


def lcdb_curves(archive: Path, rng: np.random.Generator) -> list[pd.DataFrame]:
    """1 - mean test accuracy over LCDB's outer and inner seeds at each anchor (anchors
    with at least LCDB_MIN_EVALS evaluations). Eligible: error >= 1 % everywhere, x
    spanning >= 1.5 decades, the trend rule; then one curve per data set (a random
    eligible learner), and a random sample of data sets."""
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("lcdb/database-accuracy.csv"))
        d = pd.read_csv(tar.extractfile(member), usecols=["openmlid", "learner", "size_train", "score_test"])
        member = next(m for m in tar.getmembers() if m.name.endswith("lcdb/datasets.csv"))
        names = pd.read_csv(tar.extractfile(member), usecols=["openmlid", "Name"]).set_index("openmlid").Name
    g = d.groupby(["openmlid", "learner", "size_train"]).score_test.agg(["mean", "size"]).reset_index()
    g = g[g["size"] >= LCDB_MIN_EVALS]
    by_dataset: dict[int, list] = {}
    for (oid, learner), c in g.groupby(["openmlid", "learner"], sort=True):
        x, err = c.size_train.to_numpy(float), 1.0 - c["mean"].to_numpy(float)
        if len(x) == 0 or np.min(err) < LCDB_MIN_ERROR or math.log10(x.max() / x.min()) < LCDB_MIN_DECADES:
            continue
        ok = accept(x, err)
        if ok is None:
            continue
        short = learner.split(".")[-1]
        by_dataset.setdefault(int(oid), []).append((short, *ok))
    picked = []
    for oid in sorted(by_dataset):
        opts = by_dataset[oid]
        short, x, y = opts[int(rng.integers(len(opts)))]
        picked.append((oid, short, x, y))
    print(
        f"lcdb: {sum(len(v) for v in by_dataset.values())} eligible curves on {len(by_dataset)} data sets",
        file=sys.stderr,
    )
    out = []
    for oid, short, x, y in sample(picked, QUOTA["lcdb"], rng):
        tag = f"{oid}-{names[oid]}".replace("/", "_") if oid in names.index else str(oid)
        out.append(
            curve_rows(
                "lcdb", "tabular_classification", f"lcdb/{tag}/{short}", x, y, "training examples", "test error rate"
            )
        )
    return out


def pythia_curves(data: Path, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Main suite only (batch 2M tokens). Tasks in PYTHIA_TASKS, metric ``acc`` as the
    error 1 - acc, and lambada_openai ``ppl`` as log perplexity (nats). Against tokens:
    checkpoints from step 1000 on (earlier ones are at chance), one curve per (model,
    task, shots), a random sample of PYTHIA quota. Against model size: the final
    checkpoint of the 8 sizes, standard and deduplicated suites separately. An accuracy
    curve is eligible only if its best accuracy is at least 0.10 above chance."""
    d = pd.read_csv(data / "pythia_evals" / "pythia_evals.csv.gz")
    d = d[(d.batch_tokens == 2097152) & d.task.isin(list(PYTHIA_TASKS)) & d.metric.isin(["acc", "ppl"])]
    with np.errstate(divide="ignore"):
        d = d.assign(y=np.where(d.metric == "ppl", np.log(d.value), 1.0 - d.value))

    def ok_task(task, metric, y):
        return metric == "ppl" or (1.0 - np.min(y)) >= PYTHIA_TASKS[task] + PYTHIA_ABOVE_CHANCE

    def names(metric):
        return ("log perplexity (nats)", "lm_loss") if metric == "ppl" else ("1 - accuracy", "lm_downstream")

    tok = []
    t = d[d.step >= 1000]
    for (model, task, metric, shots), c in t.groupby(["model", "task", "metric", "shots"], sort=True):
        ok = accept(c.n_tokens.to_numpy(float), c.y.to_numpy(float))
        if ok is None or not ok_task(task, metric, ok[1]):
            continue
        tok.append((model, task, metric, shots, *ok))
    print(f"pythia: {len(tok)} eligible curves against tokens", file=sys.stderr)
    out = []
    for model, task, metric, shots, x, y in sample(tok, QUOTA["pythia_tokens"], rng):
        y_name, dom = names(metric)
        out.append(
            curve_rows(
                "pythia",
                f"{dom}_vs_tokens",
                f"pythia/tokens/{model}/{task}-{metric}/{shots}shot",
                x,
                y,
                "training tokens",
                y_name,
            )
        )
    f = d[d.step == 143000]
    n_size = 0
    for (dedup, task, metric, shots), c in f.groupby(["deduped", "task", "metric", "shots"], sort=True):
        ok = accept(c.n_params.to_numpy(float), c.y.to_numpy(float))
        if ok is None or not ok_task(task, metric, ok[1]):
            continue
        y_name, dom = names(metric)
        suite = "deduped" if dedup else "standard"
        out.append(
            curve_rows(
                "pythia",
                f"{dom}_vs_params",
                f"pythia/params/{suite}/{task}-{metric}/{shots}shot",
                *ok,
                "parameters",
                y_name,
            )
        )
        n_size += 1
    print(f"pythia: {n_size} curves against model size", file=sys.stderr)
    return out


def misfitting_curves(data: Path, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Each run (sweep, model, peak LR, total steps): eval loss at its checkpoints against
    step; eligible with >= 8 checkpoints spanning >= 1 decade; a random sample."""
    d = pd.read_csv(data / "misfitting_li2025" / "misfitting_checkpoints.csv")
    cands = []
    for (sweep, model, lr, total), c in d.groupby(["sweep", "model", "peak_lr", "total_steps"], sort=True):
        x = c.current_steps.to_numpy(float)
        if math.log10(x.max() / x.min()) < MISFITTING_MIN_DECADES:
            continue
        ok = accept(x, c.loss.to_numpy(float))
        if ok is not None:
            cands.append((f"misfitting/{model.removeprefix('misfitting_')}/lr{lr:g}/T{total}/{sweep[:19]}", *ok))
    print(f"misfitting: {len(cands)} eligible curves", file=sys.stderr)
    return [
        curve_rows("misfitting", "lm_loss_vs_steps", cid, x, y, "optimizer steps", "C4 eval loss (nats)")
        for cid, x, y in sample(cands, QUOTA["misfitting"], rng)
    ]


def chinchilla_curves(data: Path, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Runs kept by Epoch (excluded_by_epoch == 0) grouped by model size (log10 N
    rounded to 0.01); final loss against tokens; every eligible size."""
    d = pd.read_csv(data / "chinchilla_epoch" / "chinchilla_runs.csv")
    d = d[d.excluded_by_epoch == 0]
    out = []
    for size, c in d.groupby(np.log10(d.N_params).round(2), sort=True):
        ok = accept(c.D_tokens.to_numpy(float), c.loss.to_numpy(float))
        if ok is not None:
            out.append(
                curve_rows(
                    "chinchilla",
                    "lm_loss_vs_tokens",
                    f"chinchilla/N=1e{size:.2f}",
                    *ok,
                    "training tokens",
                    "final training loss (nats)",
                )
            )
    print(f"chinchilla: {len(out)} eligible curves", file=sys.stderr)
    return out


def bnsl_curves(data: Path, rng: np.random.Generator) -> list[pd.DataFrame]:
    d = pd.read_csv(data / "bnsl_4digit_addition" / "bnsl_4digit_addition.csv")
    ok = accept(d.train_dataset_size.to_numpy(float), d.test_cross_entropy.to_numpy(float))
    assert ok is not None
    return [
        curve_rows(
            "bnsl_4digit", "arithmetic", "bnsl_4digit/addition", *ok, "training examples", "test cross-entropy (nats)"
        )
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lcdb", required=True, type=Path, help="path of lcdb-0.1.0.tar.gz (pip download lcdb==0.1.0)")
    p.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="the shared real-data folder")
    p.add_argument("-o", "--out", type=Path, default=Path(__file__).resolve().parent / "data" / "curves.csv.gz")
    args = p.parse_args(argv)
    frames = []
    for make in (lcdb_curves, pythia_curves, misfitting_curves, chinchilla_curves, bnsl_curves):
        rng = np.random.default_rng(SEED)  # one stream per source: a change in one leaves the others
        frames += make(args.lcdb if make is lcdb_curves else args.data, rng)
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    assert not out.duplicated(["curve_id", "x"]).any()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    out.to_csv(buf, index=False, float_format="%.10g")
    with open(args.out, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue().encode())
    per = out.groupby(["source", "domain"]).curve_id.nunique()
    print(per.to_string(), file=sys.stderr)
    print(
        f"{out.curve_id.nunique()} curves, {len(out)} points -> {args.out} ({args.out.stat().st_size} bytes)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
