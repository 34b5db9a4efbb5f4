"""Extrapolation benchmark: how well does each law, and ``auto``, predict the largest part
of a learning curve from its small-scale part?

For every curve the largest ``--frac`` of the points (by x) is held out; each candidate
law is fitted on the rest with the library defaults (Huber, delta 1e-3, on log loss) and
scored by the root mean square of ``log(predicted) - log(actual)`` on the held-out
points. ``auto`` is :func:`scalinglaws.judge.auto.choose_law` run on the training points only
(nested extrapolation tests), then the chosen law's fit.

Curves
------
- ``bnsl_4digit``: the 4-digit addition curve of Caballero et al. (17 points; the
  authors' split: the last 3 held out).
- ``misfitting``: loss against step of every run of Li et al. (2025) with at least 12
  evaluated checkpoints (thinned to at most 20 log-spaced checkpoints).
- ``chinchilla``: for each model size of the Epoch extraction of Hoffmann et al.
  (sizes equal to 0.01 decade) with at least 5 runs, final loss against tokens.
- ``synthetic``: seeded curves drawn from power law + floor, pure power law, M4-shaped
  and broken power laws, 15 log-spaced points with 1 % log-normal noise.

Usage::

    PYTHONPATH=src python benchmarks/extrapolation.py [--quick] [--limit 40] [--groups a,b]
        [--cache results.jsonl] [--variants]

Prints one table per group and one overall: mean and median log RMSE of each method,
and how often it is the best (or within 10 % of the best) on a curve. ``--cache`` keeps
every curve's raw numbers (held-out and nested log errors of every candidate), so other
selection rules (``--variants``) are scored without refitting. The full run
(``--limit 40``: 89 curves) takes about an hour on two busy cores; ``--quick`` a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.judge.auto import CURVE_CANDIDATES, nested_errors
from scalinglaws.judge.validate import holdout_mask

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Curve:
    group: str
    name: str
    x: np.ndarray
    y: np.ndarray
    test: np.ndarray  # boolean mask of held-out points


# ----------------------------------------------------------------------------- curves


def bnsl_curves(frac: float) -> list[Curve]:
    path = DATA / "bnsl_4digit_addition" / "bnsl_4digit_addition.csv"
    if not path.exists():
        return []
    d = pd.read_csv(path)
    x, y = d.train_dataset_size.to_numpy(float), d.test_cross_entropy.to_numpy(float)
    return [Curve("bnsl_4digit", "4digit_addition", x, y, (d.split == "extrapolate").to_numpy())]


def misfitting_curves(frac: float, min_points: int = 12, max_points: int = 20) -> list[Curve]:
    path = DATA / "misfitting_li2025" / "misfitting_checkpoints.csv"
    if not path.exists():
        return []
    d = pd.read_csv(path)
    out = []
    for key, g in d.groupby(["sweep", "model", "peak_lr", "total_steps"]):
        g = g.sort_values("current_steps").drop_duplicates("current_steps")
        if len(g) < min_points:
            continue
        x, y = g.current_steps.to_numpy(float), g.loss.to_numpy(float)
        if len(x) > max_points:  # log-spaced thinning, always keeping both ends
            want = np.geomspace(x[0], x[-1], max_points)
            idx = np.unique([int(np.argmin(np.abs(np.log(x) - np.log(w)))) for w in want])
            x, y = x[idx], y[idx]
        name = f"{key[1]}_lr{key[2]:g}_T{key[3]}_{key[0][:10]}"
        out.append(Curve("misfitting", name, x, y, holdout_mask(x, frac)))
    return out


def chinchilla_curves(frac: float, min_points: int = 5) -> list[Curve]:
    path = DATA / "chinchilla_epoch" / "chinchilla_runs.csv"
    if not path.exists():
        return []
    d = pd.read_csv(path)
    d = d[d.excluded_by_epoch == 0]
    out = []
    for size, g in d.groupby(np.log10(d.N_params).round(2)):
        g = g.sort_values("D_tokens")
        if len(g) < min_points:
            continue
        x, y = g.D_tokens.to_numpy(float), g.loss.to_numpy(float)
        out.append(Curve("chinchilla", f"N=1e{size:.2f}", x, y, holdout_mask(x, frac)))
    return out


def synthetic_curves(frac: float, per_family: int = 6, seed: int = 0) -> list[Curve]:
    from scalinglaws.laws.curves import m4_error

    rng = np.random.default_rng(seed)
    out = []
    x = np.geomspace(1e2, 1e6, 15)
    for i in range(per_family):
        families = {
            "power": lambda: rng.uniform(0.5, 2) + rng.uniform(5, 50) * x ** -rng.uniform(0.2, 0.6),
            "m1": lambda: rng.uniform(2, 20) * x ** -rng.uniform(0.05, 0.3),
            "m4": lambda: m4_error(x, rng.uniform(0.02, 0.2), 1.0, rng.uniform(0.5, 2.0), 10 ** rng.uniform(2, 4),
                                   -rng.uniform(0.4, 1.0)),
            "bnsl": lambda: 0.2 + 20 * x ** -0.1 * (1 + (x / 10 ** rng.uniform(3, 4)) ** (1 / 0.3)) ** (-0.4 * 0.3),
        }
        for fam, make in families.items():
            clean = np.asarray(make(), dtype=float)
            y = clean * np.exp(rng.normal(0, 0.01, x.size))
            out.append(Curve("synthetic", f"{fam}_{i}", x, y, holdout_mask(x, frac)))
    return out


# ----------------------------------------------------------------------------- methods


def run_curve(curve: Curve, candidates: tuple[str, ...]) -> dict:
    """Fit every candidate on the training part; record held-out log errors, the nested
    log errors inside the training part, and predictions beyond the data."""
    train = pd.DataFrame({"x": curve.x[~curve.test], "loss": curve.y[~curve.test]})
    xt, yt = curve.x[curve.test], curve.y[curve.test]
    x_far = float(train.x.max()) * np.array([2.0, 10.0, 100.0])
    runs = sl.load_runs(train)
    held: dict[str, list[float]] = {}
    far: dict[str, list[float]] = {}
    for c in candidates:
        try:
            f = sl.fit(runs, c)
            p = np.asarray(f.predict(x=xt), dtype=float)
            q = np.asarray(f.predict(x=x_far), dtype=float)
        except sl.ScalingLawsError:
            p, q = np.full(xt.shape, np.nan), np.full(x_far.shape, np.nan)
        with np.errstate(all="ignore"):
            held[c] = [float(v) if np.isfinite(v) else math.inf for v in np.log(p) - np.log(yt)]
        far[c] = [float(v) for v in q]
    nest = nested_errors(runs, list(candidates))
    nested = {n: {str(k): [float(v) for v in e] for k, e in nest.errors[n].items()} for n in nest.names}
    return {
        "group": curve.group, "curve": curve.name, "n": int(len(curve.x)), "n_test": int(curve.test.sum()),
        "y_last": float(train.loss.iloc[-1]), "held": held, "far": far, "nested": nested,
        "n_params": dict(nest.n_params),
    }


# ----------------------------------------------------------------------------- rules


def _rms(e: list[float] | np.ndarray) -> float:
    a = np.asarray(e, dtype=float)
    if a.size == 0:
        return math.nan
    return float(np.sqrt(np.mean(a**2))) if np.all(np.isfinite(a)) else math.inf


def _cut_rmse(rec: dict, name: str) -> dict[str, float]:
    return {k: _rms(e) for k, e in rec["nested"].get(name, {}).items()}


def _score(rec: dict, name: str, how: str = "mean") -> float:
    per = _cut_rmse(rec, name)
    if not per:
        return math.nan
    v = np.array([per[k] for k in sorted(per, key=int)])
    if how == "mean":
        return float(np.mean(v))
    if how == "last":
        return float(v[-1])
    if how == "weighted":
        w = np.arange(1, v.size + 1)
        return float(np.sum(w * v) / w.sum()) if np.all(np.isfinite(v)) else math.inf
    if how == "median":
        return float(np.median(v))
    if how == "pooled":
        allv = np.concatenate([np.asarray(e, float) for e in rec["nested"][name].values()])
        return _rms(allv)
    raise ValueError(how)


def _ranked(rec: dict, cands: list[str], how: str = "mean") -> list[str]:
    scores = {c: _score(rec, c, how) for c in cands}
    ok = [c for c in cands if np.isfinite(scores[c])]
    return sorted(ok, key=lambda c: (scores[c], rec["n_params"][c])) or [min(cands, key=lambda c: rec["n_params"][c])]


def _ens(rec: dict, members: list[str], weights: list[float] | None = None) -> float:
    e = np.array([rec["held"][m] for m in members], dtype=float)
    w = np.ones(len(members)) if weights is None else np.asarray(weights, float)
    return _rms((w[:, None] * e).sum(0) / w.sum())


def rules(rec: dict, cands: list[str], variants: bool = False) -> dict[str, float]:
    """Held-out log RMSE of each candidate and of ``auto`` (the mean nested error rule of
    :func:`~scalinglaws.judge.auto.choose_law`); with ``variants``, of other rules computed
    from the same nested errors: the last cut only, cuts weighted by position, the
    median over cuts, all cut errors pooled, and the log-mean of the top 2 or 3."""
    out = {c: _rms(rec["held"][c]) for c in cands}
    out["auto"] = out[_ranked(rec, cands, "mean")[0]]  # the rule of choose_law
    if variants:
        for how in ("last", "weighted", "median", "pooled"):
            out[f"auto_{how}"] = out[_ranked(rec, cands, how)[0]]
        r = _ranked(rec, cands, "mean")
        out["auto_top2_mean"] = _ens(rec, r[:2])
        out["auto_top3_mean"] = _ens(rec, r[:3])
    return out


# ----------------------------------------------------------------------------- report


def summarize(rows: list[dict], methods: list[str]) -> pd.DataFrame:
    """Mean (finite only) and median log RMSE per method; how often it failed, was the
    best single law's error (or better), or within 10 % of it."""
    errs = pd.DataFrame(rows)[methods].astype(float)
    best = errs[[m for m in methods if not m.startswith("auto")]].min(axis=1)
    out = pd.DataFrame(
        {
            "mean": errs.replace(np.inf, np.nan).mean(),
            "median": errs.median(),
            "failed": (~np.isfinite(errs)).sum(),
            "best": errs.le(best + 1e-12, axis=0).sum(),
            "within_10pct": errs.le(best * 1.1 + 1e-12, axis=0).sum(),
        }
    )
    out.index.name = f"method (n={len(errs)})"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frac", type=float, default=0.25, help="share of points held out (default 0.25)")
    parser.add_argument("--groups", default="bnsl_4digit,misfitting,chinchilla,synthetic")
    parser.add_argument("--quick", action="store_true", help="3 curves per group, no m4")
    parser.add_argument("--limit", type=int, default=0, help="at most this many curves per group")
    parser.add_argument("--cache", help="JSON-lines file of per-curve results: read if present, appended to")
    parser.add_argument("--variants", action="store_true", help="also score other selection rules")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    makers = {
        "bnsl_4digit": bnsl_curves,
        "misfitting": misfitting_curves,
        "chinchilla": chinchilla_curves,
        "synthetic": synthetic_curves,
    }
    candidates = tuple(c for c in CURVE_CANDIDATES if not (args.quick and c == "m4"))
    if args.variants and not args.quick:
        print("(rules scored from the same nested errors; see rules())", file=sys.stderr)
    limit = 3 if args.quick and not args.limit else args.limit
    done: dict[tuple[str, str], dict] = {}
    if args.cache and Path(args.cache).exists():
        for line in Path(args.cache).read_text().splitlines():
            rec = json.loads(line)
            done[(rec["group"], rec["curve"])] = rec
    rows: list[dict] = []
    for group in args.groups.split(","):
        curves = makers[group](args.frac)
        if limit:
            curves = curves[:: max(1, len(curves) // limit)][:limit]
        for c in curves:
            rec = done.get((c.group, c.name))
            if rec is None or any(k not in rec["held"] for k in candidates):
                t = time.time()
                rec = run_curve(c, candidates)
                print(f"{c.group:>12} {c.name:<45} ({time.time() - t:.1f}s)", file=sys.stderr)
                if args.cache:
                    with open(args.cache, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
            rows.append({"group": rec["group"], "curve": rec["curve"], "choice": _ranked(rec, list(candidates))[0],
                         **rules(rec, list(candidates), args.variants)})
    methods = [m for m in rows[0] if m not in ("group", "curve", "choice")]
    pd.set_option("display.width", 160)
    fmt = {"float_format": lambda v: f"{v:.4f}"}
    for group in dict.fromkeys(r["group"] for r in rows):
        print(f"\n## {group}: held-out log RMSE")
        print(summarize([r for r in rows if r["group"] == group], methods).to_string(**fmt))
    print("\n## all curves: held-out log RMSE")
    print(summarize(rows, methods).to_string(**fmt))
    choices = pd.Series([r["choice"] for r in rows]).value_counts()
    print("\nauto chose: " + ", ".join(f"{k} {v}" for k, v in choices.items()))
    print("(mean: over the curves where the method gave finite predictions; failed: fits that failed or "
          "predicted non-positive values, e.g. a law with more parameters than training points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
