"""Extrapolation benchmark: how well do ``auto`` and single laws predict the largest-x
tail of real learning curves, and how often do their 90 % intervals cover it?

Data
----
``benchmarks/data/curves.csv.gz`` (built by ``benchmarks/make_curves.py``; sources,
licences, selection rules and counts in ``benchmarks/data/SOURCE.md``): 261 real curves
from 5 sources (LCDB error rates against training-set size, Pythia downstream error and
log perplexity against tokens and against model size, (Mis)Fitting eval loss against
step, Chinchilla final loss against tokens per model size, the BNSL 4-digit addition
curve). Columns ``source, domain, curve_id, x, y, x_name, y_name``.

Protocol (one rule for every curve and every source)
----------------------------------------------------
1. Sort the curve by x. Hold out its ``n_test = max(2, ceil(0.25 n))`` largest-x points
   (``--frac``); fit on the other ``n - n_test``. Every curve has 8 to 20 points
   (longer ones were thinned to log-spaced points when the file was built), so the tail
   is about the largest quarter of the curve in log x and at least 6 points remain to
   fit. A share of points rather than a cut in log x: Pythia's checkpoints are evenly
   spaced in steps, and a cut in log x would leave 4 or 5 training points there.
   (The 4-digit addition curve is scored by this rule too: 5 of 17 held out, where its
   authors held out 3.)
2. Each method is ``sl.fit(train, METHOD, bootstrap=B, seed=0)`` with the library
   defaults otherwise (Huber, delta 1e-3, on log y); ``auto`` chooses by nested
   extrapolation tests inside the training points only, and stacks the candidates by
   their nested errors (a weighted geometric mean; ``auto-single`` in ``--methods`` is
   ``sl.fit(..., "auto", stack=False)``, the single winner).
3. Score: ``RMSE = sqrt(mean((log predicted - log actual)^2))`` over the held-out points
   (``Fit.predict``). Coverage: share of held-out points inside the 90 % interval
   ``Fit.predict_interval(0.9, x=...)``, the default predictive interval (calibrated
   from nested extrapolation errors inside the training points, see
   ``scalinglaws.judge.calibrate``; for ``auto``, the errors of its choice
   cross-validated over the nested cuts, not those of the law it chose; the bootstrap
   band is ``kind="parameters"``), pooled over the points of a source. Coverage needs
   no bootstrap (``--bootstrap 0``): with enough nested errors the default interval
   does not use the draws.
4. Failure: the fit raises, or a prediction is not finite or not positive. A failure is
   counted per method and scored with the **last-value fallback**: every held-out point is
   predicted by the y of the largest training x (the naive forecast, always finite), so
   means and medians are over the same curves for every method. Its held-out points count
   as outside the interval. A fit that predicts but whose ``predict_interval`` raises (e.g.
   fewer than 2 bootstrap refits converged) keeps its RMSE; its points count as outside
   the interval too (``no_intv`` in the table; ``cov_ok`` is the coverage over the fits
   that gave an interval). The table also prints that naive forecast as its own row
   (``last``), as a floor any law should beat.

Only the public API is used (``sl.fit``, ``Fit.predict``, ``Fit.predict_interval``,
``Fit.law.name``), so this keeps working when internals move.

The published numbers printed beside are from other data (the benchmark of Alabdulmohsin
et al. 2022 and NSL-PFN), shown for scale only: they are not comparable curve for curve.

Usage::

    PYTHONPATH=src python benchmarks/extrapolation.py [--methods auto,m4,bnsl,power]
        [--sources lcdb,pythia] [--limit 10] [--match SUBSTRING] [--jobs 2]
        [--bootstrap 100] [--json results.json] [--compare old.json]

``--json`` writes every curve's numbers (predictions, intervals, RMSE, failure, seconds,
the law ``auto`` chose); ``--compare`` prints the per-source change of median RMSE and
coverage against such a file. The full run (261 curves, four methods, 100 bootstrap
refits) took about 25 minutes on one idle core before ``auto`` was sped up (56 minutes
on two cores shared at load 8-11); ``auto`` alone on 49 curves took 12 minutes on two
cores shared at load 10 (about 1 CPU second per curve). The baseline of the code it was
written against is in ``benchmarks/results/`` (``extrapolation-baseline.txt`` and the
``--json`` file, for ``--compare``).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core per worker
    os.environ.setdefault(_v, "1")

import argparse
import gzip
import json
import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

DATA = Path(__file__).resolve().parent / "data" / "curves.csv.gz"
METHODS = ("auto", "m4", "bnsl", "power")
LEVEL = 0.9

# Published medians of held-out RMSE of log loss (Alabdulmohsin et al. 2022 benchmark;
# NSL-PFN: mean), on other curves: for scale only.
PUBLISHED = {
    "IC": {"m4": 0.030, "bnsl": 0.023, "NSL-PFN (mean)": 0.028},
    "NMT": {"m4": 0.018, "bnsl": 0.011},
    "LM": {"m4": 0.0009},
    "BB": {"m4": 0.008, "m3": 0.006},
}
CLOSEST = {  # the published domain nearest to each source, for the side-by-side line
    "lcdb": ["IC"],
    "pythia": ["BB", "LM"],
    "misfitting": ["LM"],
    "chinchilla": ["LM"],
    "bnsl_4digit": [],
}
AUTHORS = {"bnsl_4digit": "Caballero et al. (their split, last 3 of 17 held out): BNSL 0.0109"}


# ----------------------------------------------------------------------------- data


def load_curves(path: Path | str = DATA) -> dict[str, pd.DataFrame]:
    """The shipped curves, ``{curve_id: frame sorted by x}`` in file order."""
    d = pd.read_csv(path)
    groups = d.groupby("curve_id", sort=False)
    return {cid: g.sort_values("x", kind="stable").reset_index(drop=True) for cid, g in groups}


def n_heldout(n: int, frac: float = 0.25) -> int:
    """How many largest-x points of an ``n``-point curve are held out."""
    return max(2, math.ceil(frac * n))


def split(curve: pd.DataFrame, frac: float = 0.25) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(training runs with columns x and loss, held-out x, held-out y)."""
    c = curve.sort_values("x", kind="stable")
    k = n_heldout(len(c), frac)
    train = pd.DataFrame({"x": c.x.to_numpy(float)[:-k], "loss": c.y.to_numpy(float)[:-k]})
    return train, c.x.to_numpy(float)[-k:], c.y.to_numpy(float)[-k:]


# ----------------------------------------------------------------------------- one curve


def _rmse(pred: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log(pred) - np.log(actual)) ** 2)))


def run_method(
    train: pd.DataFrame, xt: np.ndarray, yt: np.ndarray, method: str, bootstrap: int, level: float = LEVEL
) -> dict:
    """Fit one method on the training points; score its held-out predictions. A fit that
    raises or predicts a non-finite or non-positive value is a failure (scored with the
    last-value forecast); a prediction whose interval cannot be computed keeps its score,
    with ``interval_error`` said and its points outside the interval."""
    fallback = np.full(xt.shape, float(train.loss.iloc[-1]))
    rec: dict = {"method": method, "failed": False, "error": None, "law": None, "interval_error": None}
    nan = np.full(xt.shape, np.nan)
    pred = lo = hi = nan
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if method == "auto-single":
                f = sl.fit(train, "auto", bootstrap=bootstrap, seed=0, stack=False)
            else:
                f = sl.fit(train, method, bootstrap=bootstrap, seed=0)
            pred = np.asarray(f.predict(x=xt), dtype=float)
            rec["law"] = f.law.name
            if not (np.all(np.isfinite(pred)) and np.all(pred > 0)):
                rec.update(failed=True, error=f"non-finite or non-positive prediction: {pred.tolist()}")
        except Exception as e:  # noqa: BLE001 - a benchmark records every failure and goes on
            rec.update(failed=True, error=f"{type(e).__name__}: {e}"[:300])
        if not rec["failed"]:
            try:
                lo, hi = (np.asarray(v, dtype=float) for v in f.predict_interval(level, x=xt))
            except Exception as e:  # noqa: BLE001
                rec["interval_error"] = f"{type(e).__name__}: {e}"[:300]
    rec["seconds"] = time.perf_counter() - t
    interval_ok = not rec["failed"] and bool(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)))
    if not rec["failed"] and not interval_ok and rec["interval_error"] is None:
        rec["interval_error"] = "non-finite interval"
    inside = (yt >= lo) & (yt <= hi) if interval_ok else np.zeros(xt.shape, bool)
    rec.update(
        rmse=_rmse(fallback if rec["failed"] else pred, yt),
        pred=[float(v) for v in pred],
        lower=[float(v) for v in lo],
        upper=[float(v) for v in hi],
        inside=int(inside.sum()),
        interval_ok=interval_ok,
    )
    return rec


def run_curve(cid: str, curve: pd.DataFrame, methods: tuple[str, ...], bootstrap: int, frac: float = 0.25) -> dict:
    train, xt, yt = split(curve, frac)
    first = curve.iloc[0]
    out = {
        "curve_id": cid,
        "source": first.source,
        "domain": first.domain,
        "n": len(curve),
        "n_test": len(xt),
        "x_test": xt.tolist(),
        "y_test": yt.tolist(),
        "decades_fit": float(np.log10(train.x.iloc[-1] / train.x.iloc[0])),
        "decades_ahead": float(np.log10(xt[-1] / train.x.iloc[-1])),
        "methods": {},
    }
    last = np.full(xt.shape, float(train.loss.iloc[-1]))
    out["methods"]["last"] = {
        "method": "last",
        "failed": False,
        "error": None,
        "law": None,
        "seconds": 0.0,
        "rmse": _rmse(last, yt),
        "pred": last.tolist(),
        "inside": 0,
        "interval_ok": False,
    }
    for m in methods:
        out["methods"][m] = run_method(train, xt, yt, m, bootstrap)
    return out


def _run_curve_star(args: tuple) -> dict:
    return run_curve(*args)


# ----------------------------------------------------------------------------- report


def _cov_ok(records: list[dict], m: str) -> float:
    """Coverage over the held-out points of the fits that gave an interval."""
    ok = [r for r in records if r["methods"][m]["interval_ok"]]
    n = sum(r["n_test"] for r in ok)
    return sum(r["methods"][m]["inside"] for r in ok) / n if n else math.nan


def table(records: list[dict], methods: list[str]) -> pd.DataFrame:
    """Per method: median and mean log RMSE, failures, curves where it is the best of the
    laws, pooled coverage of the 90 % intervals, seconds per curve."""
    rmse = pd.DataFrame([{m: r["methods"][m]["rmse"] for m in methods} for r in records])
    laws = [m for m in methods if m != "last"]
    best = rmse[laws].min(axis=1)
    n_test = sum(r["n_test"] for r in records)
    rows = {}
    for m in methods:
        recs = [r["methods"][m] for r in records]
        rows[m] = {
            "median": rmse[m].median(),
            "mean": rmse[m].mean(),
            "failed": sum(x["failed"] for x in recs),
            "best": int((rmse[m] <= best + 1e-12).sum()) if m in laws else None,
            "no_intv": sum(not x["failed"] and not x["interval_ok"] for x in recs) if m in laws else None,
            "cover90": (sum(x["inside"] for x in recs) / n_test) if m != "last" else None,
            "cov_ok": _cov_ok(records, m) if m != "last" else None,
            "s/curve": float(np.mean([x["seconds"] for x in recs])) if m != "last" else None,
        }
    out = pd.DataFrame(rows).T
    out.index.name = f"n={len(records)}"
    return out


def _fmt(v, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if col in ("failed", "best", "no_intv"):
        return str(int(v))
    if col in ("cover90", "cov_ok"):
        return f"{100 * v:.1f}%"
    if col == "s/curve":
        return f"{v:.2f}"
    return f"{v:.4f}"


def print_table(df: pd.DataFrame, title: str, file=sys.stdout) -> None:
    print(f"\n## {title}", file=file)
    cols = list(df.columns)
    print(f"{df.index.name:<8}" + "".join(f"{c:>10}" for c in cols), file=file)
    for m, row in df.iterrows():
        print(f"{m:<8}" + "".join(f"{_fmt(row[c], c):>10}" for c in cols), file=file)


def published_line(source: str) -> str:
    parts = []
    for dom in CLOSEST.get(source, []):
        parts.append(f"{dom}: " + ", ".join(f"{k} {v:g}" for k, v in PUBLISHED[dom].items()))
    if source in AUTHORS:
        parts.append(AUTHORS[source])
    return "published, other curves (median log RMSE): " + "; ".join(parts) if parts else ""


def report(records: list[dict], methods: list[str], file=sys.stdout) -> None:
    cols = ["last", *methods]
    sources = list(dict.fromkeys(r["source"] for r in records))
    for s in sources:
        recs = [r for r in records if r["source"] == s]
        print_table(table(recs, cols), f"{s}: held-out log RMSE ({len(recs)} curves)", file)
        line = published_line(s)
        if line:
            print(line, file=file)
        doms = list(dict.fromkeys(r["domain"] for r in recs))
        if len(doms) > 1:
            for d in doms:
                dr = [r for r in recs if r["domain"] == d]
                med = table(dr, cols)["median"]
                print(f"  {d} ({len(dr)}): median " + ", ".join(f"{m} {med[m]:.4f}" for m in cols), file=file)
    print_table(table(records, cols), f"all sources: held-out log RMSE ({len(records)} curves)", file)
    print(
        "\npublished medians of held-out log RMSE on the Alabdulmohsin et al. (2022) benchmark (other curves):",
        file=file,
    )
    for dom, vals in PUBLISHED.items():
        print(f"  {dom:<4} " + ", ".join(f"{k} {v:g}" for k, v in vals.items()), file=file)
    if "auto" in methods:
        chosen = pd.Series([r["methods"]["auto"]["law"] or "failed" for r in records]).value_counts()
        print("\nauto chose: " + ", ".join(f"{k} {v}" for k, v in chosen.items()), file=file)
    fails = [
        (r["curve_id"], m, r["methods"][m]["error"]) for r in records for m in methods if r["methods"][m]["failed"]
    ]
    kinds = pd.Series([f"{m}: {err.split(':')[0]}" for _, m, err in fails]).value_counts() if fails else {}
    if fails:
        print("\nfailures by method and kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()), file=file)
    if fails:
        print(f"\nfailures ({len(fails)}; scored with the last-value fallback):", file=file)
        for cid, m, err in fails:
            print(f"  {m:<6} {cid}: {err}", file=file)
    print(
        "\nlast: the naive forecast (y of the largest training x), also the fallback of a failed fit. "
        "best: curves where the method has the lowest RMSE among the laws. cover90: held-out points inside "
        "Fit.predict_interval(0.9), pooled; a failure or a missing interval counts as outside. no_intv: fits "
        "that predicted but gave no interval (e.g. fewer than 2 bootstrap refits converged); cov_ok: coverage "
        "over the fits that gave one.",
        file=file,
    )


def read_results(path: str) -> dict:
    """A ``--json`` file (gzipped if its name ends in .gz)."""
    raw = Path(path).read_bytes()
    return json.loads(gzip.decompress(raw) if path.endswith(".gz") else raw)


def write_results(path: str, obj: dict) -> None:
    data = json.dumps(obj).encode()
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)


def compare(records: list[dict], old_path: str, methods: list[str], file=sys.stdout) -> None:
    old = {r["curve_id"]: r for r in read_results(old_path)["curves"]}
    both = [r for r in records if r["curve_id"] in old]
    print(
        f"\n## change against {old_path} ({len(both)} curves in both): median RMSE new - old, "
        "coverage new - old (points)",
        file=file,
    )
    for s in dict.fromkeys(r["source"] for r in both):
        recs = [r for r in both if r["source"] == s]
        parts = []
        for m in methods:
            if not all(m in old[r["curve_id"]]["methods"] for r in recs):
                continue
            new_med = np.median([r["methods"][m]["rmse"] for r in recs])
            old_med = np.median([old[r["curve_id"]]["methods"][m]["rmse"] for r in recs])
            n_t = sum(r["n_test"] for r in recs)
            dc = (
                sum(r["methods"][m]["inside"] for r in recs)
                - sum(old[r["curve_id"]]["methods"][m]["inside"] for r in recs)
            ) / n_t
            parts.append(f"{m} {new_med - old_med:+.4f} / {100 * dc:+.1f}%")
        print(f"  {s:<12} " + ", ".join(parts), file=file)


# ----------------------------------------------------------------------------- main


def select(curves: dict[str, pd.DataFrame], sources: list[str] | None, limit: int, match: str | None) -> list[str]:
    """Curve ids to run: by source, substring, and at most ``limit`` per source spread
    evenly over the file's order (deterministic)."""
    by_source: dict[str, list[str]] = {}
    for cid, c in curves.items():
        by_source.setdefault(str(c.source.iloc[0]), []).append(cid)
    out = []
    for s, ids in by_source.items():
        if sources and s not in sources:
            continue
        if match:
            ids = [i for i in ids if match in i]
        if limit and len(ids) > limit:
            ids = [ids[int(j)] for j in np.linspace(0, len(ids) - 1, limit).round()]
        out += ids
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA), help="curves file (default: the shipped benchmarks/data/curves.csv.gz)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated laws or 'auto'")
    p.add_argument("--sources", help="comma-separated sources (default: all)")
    p.add_argument("--limit", type=int, default=0, help="at most N curves per source, spread evenly")
    p.add_argument("--match", help="only curve ids containing this substring")
    p.add_argument("--frac", type=float, default=0.25, help="share of largest-x points held out (default 0.25, >= 2)")
    p.add_argument("--bootstrap", type=int, default=100, help="bootstrap refits behind the 90%% intervals")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (one curve each)")
    p.add_argument("--json", help="write the per-curve results here (gzipped if it ends in .gz)")
    p.add_argument("--compare", help="a --json file of an earlier run: print the change")
    args = p.parse_args(argv)
    if args.compare and not Path(args.compare).is_file():  # checked now, not after the run
        p.error(f"--compare: no such file {args.compare!r}")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    curves = load_curves(args.data)
    ids = select(curves, args.sources.split(",") if args.sources else None, args.limit, args.match)
    if not ids:
        p.error("no curve selected")
    jobs = [(cid, curves[cid], methods, args.bootstrap, args.frac) for cid in ids]
    t0 = time.time()
    records = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as ex:
            it = ex.map(_run_curve_star, jobs)
            for rec in it:
                records.append(rec)
                _progress(rec, len(records), len(ids))
    else:
        for job in jobs:
            records.append(_run_curve_star(job))
            _progress(records[-1], len(records), len(ids))
    wall = time.time() - t0
    print(
        f"# extrapolation benchmark: {len(records)} curves, methods {', '.join(methods)}, hold out "
        f"max(2, ceil({args.frac:g} n)) largest-x points, bootstrap {args.bootstrap}, {args.jobs} job(s), "
        f"{wall:.0f} s wall, scalinglaws {sl.__version__}"
    )
    report(records, list(methods))
    if args.compare:
        compare(records, args.compare, list(methods))
    if args.json:
        meta = {k: v for k, v in vars(args).items() if k not in ("json", "compare")}
        write_results(args.json, {"settings": meta, "wall_seconds": wall, "curves": records})
    return 0


def _progress(rec: dict, i: int, n: int) -> None:
    m = rec["methods"]
    s = " ".join(f"{k}={v['rmse']:.4f}{'!' if v['failed'] else ''}" for k, v in m.items() if k != "last")
    secs = sum(v["seconds"] for v in m.values())
    print(f"[{i}/{n}] {rec['curve_id']}: {s} ({secs:.1f}s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
