"""Speed of the Chinchilla fit: scalinglaws against a plain scipy L-BFGS-B loop.

Run: ``python benchmarks/fit_speed.py [--reference-starts N]``

Times, in one run on the same data (Epoch AI's 240 Chinchilla runs, the paper's
4,500-point start grid, Huber delta 1e-3 on log loss, summed):
  * scalinglaws point fit (all starts, batched);
  * scalinglaws point fit + 1,000-draw bootstrap;
  * the reference: scipy.optimize.minimize(method="L-BFGS-B") from every start in a
    Python loop, with the analytic gradient (the Epoch notebook uses a numerical one,
    which is slower still). By default the reference is timed on a random 10 % of the
    starts and scaled up; ``--reference-starts 4500`` times all of them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

import scalinglaws as sl
from scalinglaws import datasets


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
    ])
    return value, grad


def reference_fit(runs: sl.Runs, n_starts: int | None, seed: int = 0) -> tuple[float, float, int]:
    logN, logD, logL = (np.log(runs.column(c)) for c in ("n_params", "n_tokens", "loss"))
    grid = np.array(
        [
            (a, b, e, al, be)
            for al in np.arange(0, 2.5, 0.5)
            for be in np.arange(0, 2.5, 0.5)
            for e in np.arange(-1, 1.5, 0.5)
            for a in np.arange(0, 30, 5)
            for b in np.arange(0, 30, 5)
        ]
    )
    if n_starts is not None and n_starts < len(grid):
        grid = grid[np.random.default_rng(seed).choice(len(grid), n_starts, replace=False)]
    best = np.inf
    t = time.perf_counter()
    for x0 in grid:
        res = minimize(reference_objective, x0, args=(logN, logD, logL), jac=True, method="L-BFGS-B")
        if res.fun < best:
            best = float(res.fun)
    return time.perf_counter() - t, best, len(grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-starts", type=int, default=450, help="starts timed for the reference (scaled to 4,500)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of our timings (best is reported)")
    args = parser.parse_args()
    runs = datasets.load("chinchilla_epoch")

    sl.fit(runs, "chinchilla")  # warm-up: imports, formula compilation
    point = min(_time(lambda: sl.fit(runs, "chinchilla")) for _ in range(args.repeat))
    fit = sl.fit(runs, "chinchilla")
    boot = min(_time(lambda: sl.fit(runs, "chinchilla", bootstrap=1000, seed=0)) for _ in range(args.repeat))

    ref_time, ref_best, ref_n = reference_fit(runs, args.reference_starts)
    ref_full = ref_time * 4500 / ref_n

    print(f"data: {len(runs)} Chinchilla runs (Epoch AI), 4,500 starts, Huber(1e-3) on log loss")
    print(f"scalinglaws point fit:                 {point:8.3f} s   objective {fit.objective:.10f}")
    print(f"scalinglaws fit + 1,000-draw bootstrap: {boot:8.3f} s")
    print(
        f"reference scipy L-BFGS-B loop:         {ref_full:8.3f} s   ({ref_n} starts timed: {ref_time:.2f} s; "
        f"best objective {ref_best:.10f})"
    )
    print(f"speed-up, point fit:                   {ref_full / point:8.1f}x")
    print(f"speed-up, point fit + bootstrap vs reference point fit: {ref_full / boot:8.1f}x")


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
