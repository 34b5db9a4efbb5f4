"""Speed of the Chinchilla fit: scalinglaws, a scipy loop and simple-scaling-laws, in one run.

Run: ``python benchmarks/fit_speed.py [--repeat 3] [--threads 2] [--peer-python PATH]``

Data: Epoch AI's 240 Chinchilla runs (bundled), Huber delta 1e-3 on log loss, summed.
Rows of the table, each timed the same way: one warm-up call (imports, formula
compilation, caches), then the best of ``--repeat`` timed calls, wall clock
(``time.perf_counter``), every side limited to ``--threads`` threads (the BLAS/OpenMP
variables and ``SCALINGLAWS_THREADS`` are set before numpy is imported, here and in
the peer's process):

* scalinglaws, raced: ``sl.fit(runs, "chinchilla", calibrate_intervals=False)``, the
  point fit (the peer's job). A second row times the default ``sl.fit``, which also
  calibrates the predictive intervals by nested refits. The 4,500-start
  paper grid is reduced by variable projection to one start per (alpha, beta) pair
  (25), which race by successive halving to 8 run to convergence.
* scalinglaws, ``prune=False``: all 4,500 grid starts run to convergence.
* the scipy loop: ``scipy.optimize.minimize(method="L-BFGS-B")`` with the analytic
  gradient from every one of the same 4,500 starts, in a Python loop (the Epoch
  notebook's recipe; it uses a numerical gradient, slower still).
* simple-scaling-laws 0.2.0, the fastest open peer (``fit(frame, law="separable-power",
  n_draws=1)`` for the point fit: it refuses 0 draws; ``n_draws=1000`` with the
  bootstrap), in its own interpreter: it needs Python >= 3.12. Give one with
  ``--peer-python`` (or ``SL_PEER_PYTHON``); ``python3.12`` on the PATH is tried. If no
  interpreter can import it, the row is skipped with a message. The peer minimises
  another objective (least squares with its own weights), so its optimum differs.

Each side's point fit and its fit with a 1,000-draw bootstrap are timed; ratios are
to the peer and to the loop.

``--curves N`` also times ``sl.fit_each(runs, "power", by="curve")`` on N synthetic
20-point curves (power law plus 1 % log-normal noise, seeded), one call after a
warm-up on 200 of them, and prints the throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def _threads_from_argv() -> str:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "2"


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS", "SCALINGLAWS_THREADS")
for _v in THREAD_VARS:  # before numpy is imported: BLAS reads these once
    os.environ[_v] = _threads_from_argv()

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

import scalinglaws as sl
from scalinglaws import datasets

PEER_SCRIPT = r"""
import json, sys, time, warnings
import polars as pl
from simple_scaling_laws import fit
warnings.simplefilter("ignore")
path, repeat = sys.argv[1], int(sys.argv[2])
frame = pl.read_csv(path)
def best(fn):
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return min(out)
point = best(lambda: fit(frame, law="separable-power", n_draws=1, seed=0))
boot = best(lambda: fit(frame, law="separable-power", n_draws=1000, seed=0))
model = fit(frame, law="separable-power", n_draws=1, seed=0)
print(json.dumps({"point": point, "boot": boot, "params": {k: float(v) for k, v in model.params(model.targets[0]).items()}}))
"""


def reference_objective(theta: np.ndarray, logN: np.ndarray, logD: np.ndarray, logL: np.ndarray) -> tuple[float, np.ndarray]:
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * logN, b - beta * logD, np.full_like(logN, e)])
    pred = logsumexp(terms, axis=0)
    r = pred - logL
    delta = 1e-3
    value = float(np.sum(huber(delta, r)))
    psi = np.clip(r, -delta, delta)
    soft = np.exp(terms - pred)
    grad = np.array([
        np.sum(psi * soft[0]),
        np.sum(psi * soft[1]),
        np.sum(psi * soft[2]),
        np.sum(psi * soft[0] * -logN),
        np.sum(psi * soft[1] * -logD),
    ])  # fmt: skip
    return value, grad


def reference_fit(runs: sl.Runs) -> float:
    """The loop over the law's own 4,500 starts (log A, log B, log E, alpha, beta)."""
    law = sl.get_law("chinchilla")
    grid = law.start_grid()
    idx = {p: i for i, p in enumerate(law.param_names)}
    starts = np.column_stack([np.log(grid[:, idx["A"]]), np.log(grid[:, idx["B"]]), np.log(grid[:, idx["E"]]),
                              grid[:, idx["alpha"]], grid[:, idx["beta"]]])  # fmt: skip
    logN, logD, logL = (np.log(runs.column(c)) for c in ("n_params", "n_tokens", "loss"))
    best = np.inf
    for x0 in starts:
        res = minimize(reference_objective, x0, args=(logN, logD, logL), jac=True, method="L-BFGS-B")
        best = min(best, float(res.fun))
    return best


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def find_peer(given: str | None) -> str | None:
    candidates = [given, os.environ.get("SL_PEER_PYTHON"), shutil.which("python3.12"), shutil.which("python3.13")]
    for exe in candidates:
        if exe and subprocess.run([exe, "-c", "import simple_scaling_laws"], capture_output=True, check=False).returncode == 0:
            return exe
    return None


def run_peer(exe: str, runs: sl.Runs, repeat: int) -> dict:
    frame = runs.to_frame()
    peer = frame.assign(training_run_id=[f"run_{i}" for i in range(len(frame))])[["training_run_id"]]
    peer["model_size__n_params"] = frame["n_params"]
    peer["dataset_size__n_tokens"] = frame["n_tokens"]
    peer["test_loss__cross_entropy"] = frame["loss"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "runs.csv")
        peer.to_csv(path, index=False)
        proc = subprocess.run([exe, "-c", PEER_SCRIPT, path, str(repeat)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "peer failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def curves(n: int, seed: int = 0) -> sl.Runs:
    """``n`` synthetic 20-point power-law curves, 1 % multiplicative noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e9, 20)
    E, A, alpha = rng.uniform(1, 2, n), 10 ** rng.uniform(1, 3, n), rng.uniform(0.1, 0.5, n)
    loss = (E[:, None] + A[:, None] * x ** -alpha[:, None]) * np.exp(rng.normal(0, 0.01, (n, 20)))
    names = np.repeat([f"c{i:05d}" for i in range(n)], 20)
    return sl.load_runs(pd.DataFrame({"curve": names, "x": np.tile(x, n), "loss": loss.ravel()}))


def time_fit_each(n: int) -> None:
    import warnings

    runs = curves(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        sl.fit_each(runs.subset(np.arange(200 * 20)), "power", by="curve")  # warm-up
        t = time.perf_counter()
        table = sl.fit_each(runs, "power", by="curve")
        dt = time.perf_counter() - t
    bad = sum(not f.diagnostics.converged for f in table)
    print(f"fit_each: {n:,} curves of 20 points, 'power': {dt:.2f} s ({n / dt:,.0f} curves/s); {bad} not converged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per row after one warm-up (best is shown)")
    parser.add_argument("--threads", type=int, default=2, help="threads every side may use")
    parser.add_argument("--peer-python", help="a Python >= 3.12 with simple-scaling-laws installed")
    parser.add_argument("--no-loop", action="store_true", help="skip the scipy loop (it takes seconds per call)")
    parser.add_argument("--curves", type=int, default=0, help="also time fit_each on this many 20-point curves")
    parser.add_argument("--only-curves", action="store_true", help="time fit_each only")
    args = parser.parse_args()
    if args.curves:
        time_fit_each(args.curves)
        if args.only_curves:
            return
    runs = datasets.load("chinchilla_epoch")
    r = args.repeat

    rows: list[tuple[str, float | None, float | None, str]] = []
    point = {"calibrate_intervals": False}  # the fit itself; calibration is timed on its own row
    fast = sl.fit(runs, "chinchilla", **point)
    rows.append(("scalinglaws, raced (point fit)", best_of(lambda: sl.fit(runs, "chinchilla", **point), r),
                 best_of(lambda: sl.fit(runs, "chinchilla", bootstrap=1000, seed=0, **point), r), f"objective {fast.objective:.10f}"))  # fmt: skip
    rows.append(("scalinglaws, + interval calibration", best_of(lambda: sl.fit(runs, "chinchilla"), r), None,
                 "the default sl.fit: nested extrapolation refits for predictive intervals"))
    full = sl.fit(runs, "chinchilla", prune=False, **point)
    rows.append(("scalinglaws, prune=False", best_of(lambda: sl.fit(runs, "chinchilla", prune=False, **point), r),
                 best_of(lambda: sl.fit(runs, "chinchilla", prune=False, bootstrap=1000, seed=0, **point), r),
                 f"objective {full.objective:.10f}"))  # fmt: skip
    if not args.no_loop:
        loop_best = reference_fit(runs)
        rows.append(("scipy L-BFGS-B loop, 4,500 starts", best_of(lambda: reference_fit(runs), r), None,
                     f"objective {loop_best:.10f}"))  # fmt: skip
    exe = find_peer(args.peer_python)
    peer = None
    if exe is None:
        print("peer skipped: no Python >= 3.12 with simple-scaling-laws found (pip install simple-scaling-laws "
              "into one and pass --peer-python)")  # fmt: skip
    else:
        try:
            peer = run_peer(exe, runs, r)
            p = peer["params"]
            rows.append(("simple-scaling-laws 0.2.0", peer["point"], peer["boot"],
                         "own objective; " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(p.items()))))  # fmt: skip
        except RuntimeError as err:
            print(f"peer skipped: it failed on these runs: {err}")

    print(f"data: {len(runs)} Chinchilla runs (Epoch AI), Huber(1e-3) on log loss; {os.cpu_count()} CPUs, "
          f"{args.threads} threads per side; best of {r} after a warm-up")  # fmt: skip
    loop = next((x for x in rows if x[0].startswith("scipy")), None)
    print(f"{'':36} {'point fit s':>11} {'+1000 boot s':>12} {'vs peer':>8} {'boot vs peer':>12} {'vs loop':>8}")
    for name, point, boot, note in rows:
        def ratio(a: float | None, b: float | None) -> str:
            return f"{b / a:7.1f}x" if a and b else f"{'':8}"

        print(
            f"{name:36} {point:11.3f} {boot if boot is not None else float('nan'):12.3f} "
            f"{ratio(point, peer['point'] if peer else None)} {ratio(boot, peer['boot'] if peer else None):>12} "
            f"{ratio(point, loop[1] if loop else None)}   {note}"
        )
    print("ratios: how many times faster than the peer (or the loop) this row is; > 1 is faster")


if __name__ == "__main__":
    main()
