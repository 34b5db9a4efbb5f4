"""Scale: time and peak memory to load and fit 10^3 .. 10^6 runs.

Run: ``python benchmarks/scale.py [--sizes 1e3,1e4,1e5,1e6] [--laws power,chinchilla]
[--format csv] [--repeat 1] [--check]``

For every size the runs are drawn once from a known law (1 % log-normal noise) and
written to a file; then, for every law, a *fresh* Python process loads the file with
:func:`scalinglaws.load_runs` and fits it with :func:`scalinglaws.engine.fit`. The child
reports wall time (load, fit) and its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which counts numpy's buffers, unlike
tracemalloc), and its memory just after the imports, so the table shows what the data
and the fit themselves cost. Above ``fit.RACE_THRESHOLD`` runs the engine races its
starts on a subsample and refines the finalists on all runs, so time and memory should
grow linearly in the number of runs beyond a constant (the race); the table prints
the marginal cost of the added runs (``+us/run``, ``+B/run`` against the previous size),
which stays flat when growth is linear.

``--check`` exits with status 1 if, at the largest size, loading and fitting take longer
than ``--max-seconds`` (default 60) or more than ``--max-gib`` (default 24) of memory,
or a fit is off the law it was drawn from by more than 2 % in any parameter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

TRUTH = {
    "power": {"E": 1.5, "A": 300.0, "alpha": 0.3},
    "chinchilla": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
}


def make_runs(law: str, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` runs drawn from the law ``TRUTH[law]`` with 1 % multiplicative noise."""
    rng = np.random.default_rng(seed)
    t = TRUTH[law]
    noise = np.exp(rng.normal(0.0, 0.01, n))
    if law == "power":
        x = 10.0 ** rng.uniform(6, 10, n)
        return pd.DataFrame({"x": x, "loss": (t["E"] + t["A"] * x ** -t["alpha"]) * noise})
    N = 10.0 ** rng.uniform(7, 11, n)
    D = 10.0 ** rng.uniform(9, 13, n)
    loss = t["E"] + t["A"] * N ** -t["alpha"] + t["B"] * D ** -t["beta"]
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss * noise})


def write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def child(law: str, path: str) -> None:
    """Load and fit in this (fresh) process; print one JSON line."""
    import warnings

    import scalinglaws as sl

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    runs = sl.load_runs(path)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        result = sl.fit(runs, law)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    truth = TRUTH[law]
    error = max(abs(result.params[k] / v - 1.0) for k, v in truth.items())
    print(json.dumps({
        "law": law, "n": len(runs), "load_s": t1 - t0, "fit_s": t2 - t1,
        "peak_mib": peak / 1024, "base_mib": base / 1024, "max_rel_error": error,
        "converged": result.diagnostics.converged,
    }))  # fmt: skip


def measure(law: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", law, str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"child failed for {law} on {path}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="comma-separated run counts")
    p.add_argument("--laws", default="power,chinchilla", help="comma-separated laws")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--repeat", type=int, default=1, help="fresh processes per point; the fastest is shown")
    p.add_argument("--check", action="store_true", help="fail if the largest size is over budget")
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--max-gib", type=float, default=24.0)
    p.add_argument("--child", nargs=2, metavar=("LAW", "FILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    laws = [s.strip() for s in args.laws.split(",")]
    threads = os.environ.get("SCALINGLAWS_THREADS", "default")
    print(f"# {os.cpu_count()} CPUs, SCALINGLAWS_THREADS={threads}, format {args.format}; "
          "max err: largest relative error of a fitted parameter against the truth")
    header = (
        f"{'law':<11} {'runs':>9} {'load s':>7} {'fit s':>7} {'total s':>8} {'peak MiB':>9} "
        f"{'+us/run':>8} {'+B/run':>7} {'max err':>8}"
    )
    print(header)
    ok = True
    previous: dict[str, tuple[int, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sl_scale_") as tmp:
        for n in sizes:
            for law in laws:
                path = Path(tmp) / f"{law}_{n}.{args.format}"
                write(make_runs(law, n), path)
                tries = [measure(law, path) for _ in range(max(1, args.repeat))]
                r = min(tries, key=lambda t: t["load_s"] + t["fit_s"])
                path.unlink()
                total = r["load_s"] + r["fit_s"]
                # marginal cost of the runs added since the previous size: flat in n
                # means linear growth (the race on a fixed subsample is a constant)
                m_time = m_mem = ""
                if law in previous:
                    n0, t0, p0 = previous[law]
                    m_time = f"{(total - t0) / (n - n0) * 1e6:.2f}"
                    m_mem = f"{(r['peak_mib'] - p0) * 2**20 / (n - n0):.0f}"
                previous[law] = (n, total, r["peak_mib"])
                print(
                    f"{law:<11} {n:>9,} {r['load_s']:>7.2f} {r['fit_s']:>7.2f} {total:>8.2f} "
                    f"{r['peak_mib']:>9.0f} {m_time:>8} {m_mem:>7} {r['max_rel_error']:>8.2%}",
                    flush=True,
                )
                if args.check and n == max(sizes):
                    if total > args.max_seconds or r["peak_mib"] / 1024 > args.max_gib:
                        ok = False
                        print(f"  !! {law} at {n:,} runs is over budget")
                    if r["max_rel_error"] > 0.02 or not r["converged"]:
                        ok = False
                        print(f"  !! {law} at {n:,} runs is off the truth by {r['max_rel_error']:.2%}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
