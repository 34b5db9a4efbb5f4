"""Validate speed: ``validate(holdout="loso")`` on the bundled Chinchilla runs, timed.

Run: ``PYTHONPATH=src python benchmarks/validate_speed.py [--repeat 3] [--law chinchilla]
[--bootstrap 200] [--src DIR ...]``

Times ``sl.validate(sl.datasets.load("chinchilla_epoch"), law, holdout="loso")`` with
the default options (``by`` the runs' ``flops``, 200 bootstrap refits per fold): every
distinct compute budget is held out in turn and predicted from a fit on all the other
runs, so the call makes one fit (and its bootstrap) per distinct budget.

Each ``--src`` is a source tree (a ``src`` folder, e.g. of an older commit checked out
with ``git worktree add /tmp/old <commit>``); each is timed in its own fresh Python
process, one after the other on the same machine, so the numbers compare code, not
conditions. Without ``--src`` the ``scalinglaws`` on the path is timed. A process runs
the call ``--repeat`` times (wall clock, ``time.perf_counter``); the first includes
compiling the law, and the best of the repeats is the number to compare. The held-out
log RMSE is printed too, so a faster version can be seen to give the same answer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def child(law: str, repeat: int, bootstrap: int) -> None:
    """Time the validation in this process; print one JSON line."""
    import warnings

    import scalinglaws as sl

    runs = sl.datasets.load("chinchilla_epoch")
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sl.validate(runs, law, holdout="loso", bootstrap=bootstrap)
        times.append(time.perf_counter() - t0)
    assert result is not None
    print(json.dumps({
        "module": os.path.dirname(sl.__file__), "runs": len(runs), "folds": len(result.fits),
        "times": times, "rmse_log": result.rmse_log, "coverage": result.coverage,
    }))  # fmt: skip


def measure(src: str | None, law: str, repeat: int, bootstrap: int) -> dict:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.path.abspath(src)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", law, str(repeat), str(bootstrap)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"child failed for {src or 'the installed package'}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--law", default="chinchilla")
    p.add_argument("--repeat", type=int, default=3, help="timed calls per process; the best is shown")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap refits per fold (validate's default)")
    p.add_argument("--src", action="append", help="a source tree to time (repeatable); default: the path's")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    threads = os.environ.get("SCALINGLAWS_THREADS", "default")
    print(f"# {os.cpu_count()} CPUs, SCALINGLAWS_THREADS={threads}; validate(chinchilla_epoch, "
          f"{args.law!r}, holdout='loso', bootstrap={args.bootstrap}); best of {args.repeat} calls")
    print(f"{'source':<40} {'runs':>5} {'folds':>6} {'best s':>8} {'all s':>24} {'log RMSE':>9} {'coverage':>9}")
    for src in args.src or [None]:
        r = measure(src, args.law, args.repeat, args.bootstrap)
        shown = ", ".join(f"{t:.1f}" for t in r["times"])
        print(f"{(src or r['module'])[-40:]:<40} {r['runs']:>5} {r['folds']:>6} {min(r['times']):>8.2f} "
              f"{shown:>24} {r['rmse_log']:>9.4f} {r['coverage']:>9.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
