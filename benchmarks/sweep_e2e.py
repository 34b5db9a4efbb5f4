"""The full-size sweep scenario (not run in CI): 3 budgets x 5 sizes on 2 CPU cores.

Designs an IsoFLOP grid at budgets 1e11, 3e11 and 1e12 FLOPs, trains it with two local
workers into a store, and prints the wall time and each budget's runs and loss minimum.
Resumable: run it again with the same ``--store`` and finished runs are skipped.

Usage::

    PYTHONPATH=src python benchmarks/sweep_e2e.py [--store /tmp/sweep_e2e.db]
        [--budgets 1e11,3e11,1e12] [--sizes-per-budget 5] [--tokens-per-param 80]
        [--spread 3] [--workers 2] [--data stdlib|devils-dictionary|PATH]
        [--backend local|ray] [--address HOST:PORT] [--device cpu|cuda]

The centre of each IsoFLOP curve defaults to 80 tokens per parameter, not Chinchilla's
20: for these byte-level models of 3k-200k parameters the loss minimum sits at far more
tokens per parameter (see docs/sweep.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scalinglaws.sweep import DataSpec, design_sweep, read_runs, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path,
                        default=Path(tempfile.gettempdir()) / "sweep_e2e.db")
    parser.add_argument("--budgets", default="1e11,3e11,1e12")
    parser.add_argument("--sizes-per-budget", type=int, default=5)
    parser.add_argument("--tokens-per-param", type=float, default=80.0)
    parser.add_argument("--spread", type=float, default=3.0)
    parser.add_argument("--flop-convention", default="6nd")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", default="stdlib", help="as `sweep design --data`")
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument("--address", help="a Ray cluster's head (with --backend ray)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()

    budgets = [float(b) for b in args.budgets.split(",")]
    design = design_sweep(budgets, args.sizes_per_budget, tokens_per_param=args.tokens_per_param,
                          spread=args.spread, flop_convention=args.flop_convention,
                          data=DataSpec(corpus=args.data))
    print(f"{len(design.runs)} runs over budgets {budgets}; store {args.store}")
    start = time.perf_counter()
    report = run_sweep(design, args.store, workers=args.workers, device=args.device,
                       backend=args.backend, ray_address=args.address)
    wall = time.perf_counter() - start
    print(f"wall time {wall:.0f} s: {len(report.done)} trained ({len(report.resumed)} resumed "
          f"from a checkpoint), {len(report.skipped)} already in the store, "
          f"{len(report.failed)} failed")

    runs = read_runs(args.store)
    runs = runs[runs["run_id"].isin({r.run_id for r in design.runs})]
    for budget, group in runs.groupby("budget"):
        best = group.loc[group["loss"].idxmin()]
        inside = group["n_params"].min() < best["n_params"] < group["n_params"].max()
        print(f"\nbudget {budget:.0e} FLOPs: minimum loss {best['loss']:.4f} at "
              f"n_params={best['n_params']:.0f}, n_tokens={best['n_tokens']:.0f} "
              f"({best['n_tokens'] / best['n_params']:.0f} tokens/param; "
              f"{'inside' if inside else 'at the edge of'} the size range)")
        for row in group.itertuples():
            print(f"  n_layer={row.n_layer} d_model={row.d_model:3d} n_params={row.n_params:7d} "
                  f"n_tokens={row.n_tokens:9d} loss={row.loss:.4f} "
                  f"({row.train_seconds:.0f} s, {row.tokens_per_second:,.0f} tok/s)")


if __name__ == "__main__":
    main()
