"""muP on CPU: a coordinate check and a two-width LR sweep, standard against muP.

Regenerates ``benchmarks/results/mup_lr_sweep.csv``, ``benchmarks/results/mup_coord_check.csv``,
``docs/img/mup_lr_sweep.png`` and ``docs/img/mup_coord_check.png``::

    PYTHONPATH=src python benchmarks/mup_lr_sweep.py            # 10-15 min on a busy machine
    PYTHONPATH=src python benchmarks/mup_lr_sweep.py --steps 20 --out /tmp/x   # a smoke run

Every run of the sweep is trained by the sweep runner (``run_sweep``, one worker, one
thread, a temporary store), so each row is an ordinary stored run, ``b_simple`` included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalinglaws.sweep import DataSpec, RunSpec, SweepDesign, read_runs, run_sweep
from scalinglaws.sweep.mup import coord_check, coord_slopes

ROOT = Path(__file__).resolve().parents[1]


def lr_sweep(widths: list[int], lrs: list[float], steps: int, base: int) -> pd.DataFrame:
    """Train every (parametrization, width, lr) and return their final losses."""
    seq_len, batch = 64, 8
    template = RunSpec(budget=1.0, n_layer=2, d_model=widths[0], n_head=4,
                       n_tokens=steps * batch * seq_len, batch_size=batch, lr=lrs[0],
                       seq_len=seq_len, n_evals=3, eval_tokens=4096, weight_decay=0.0,
                       data=DataSpec(corpus="devils-dictionary"), mup_base_width=base)
    specs = [replace(template, d_model=w, lr=lr, parametrization=p)
             for p in ("standard", "mup") for w in widths for lr in lrs]
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "runs.db"
        report = run_sweep(SweepDesign(runs=tuple(specs)), store, workers=1, threads=1,
                           device="cpu", progress=False)
        runs = read_runs(store).set_index("run_id")
    rows = []
    for spec in specs:
        done = spec.run_id in runs.index
        rows.append({"parametrization": spec.parametrization, "width": spec.d_model,
                     "lr": spec.lr, "steps": steps,
                     "loss": runs.loc[spec.run_id, "loss"] if done else np.nan,
                     "b_simple": runs.loc[spec.run_id, "b_simple"] if done else np.nan,
                     "diverged": spec.run_id in report.failed})
    return pd.DataFrame(rows)


def plot_sweep(table: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, name in zip(axes, ("standard", "mup")):
        for width, group in table[table["parametrization"] == name].groupby("width"):
            ax.plot(group["lr"], group["loss"], "o-", label=f"d_model {width}")
            best = group.loc[group["loss"].idxmin()]
            ax.plot(best["lr"], best["loss"], "k*", ms=12)
        ax.set(xscale="log", xlabel="peak learning rate", title=name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("final held-out loss (nats/byte)")
    axes[0].legend()
    fig.suptitle("LR sweep at two widths (stars: each width's best LR)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_coords(table: pd.DataFrame, path: Path) -> None:
    layers = ["attn", "mlp", "logits"]
    fig, axes = plt.subplots(2, len(layers), figsize=(10, 5.5), sharex=True)
    for row, name in enumerate(("standard", "mup")):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            sub = table[(table["parametrization"] == name) & (table["layer"] == layer)]
            for step, group in sub.groupby("step"):
                ax.plot(group["width"], group["rms"], "o-", label=f"step {step}")
            ax.set(xscale="log", yscale="log", title=f"{name}: {layer}")
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("d_model")
    axes[0, 0].set_ylabel("activation RMS")
    axes[1, 0].set_ylabel("activation RMS")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="64,256")
    parser.add_argument("--lrs", default="0.001,0.003,0.01,0.03,0.1")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for all outputs (default: the repository's)")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    lrs = [float(x) for x in args.lrs.split(",")]
    results = args.out or ROOT / "benchmarks" / "results"
    images = args.out or ROOT / "docs" / "img"
    results.mkdir(parents=True, exist_ok=True)
    images.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    coords = coord_check((64, 128, 256, 512), n_steps=5, lr=1e-2, threads=1)
    coords.to_csv(results / "mup_coord_check.csv", index=False, float_format="%.6g")
    plot_coords(coords, images / "mup_coord_check.png")
    print(f"coordinate check ({time.perf_counter() - start:.0f} s); slopes of log RMS "
          "against log width after 5 steps:")
    print(coord_slopes(coords).round(2).to_string())

    start = time.perf_counter()
    table = lr_sweep(widths, lrs, args.steps, base=widths[0])
    table.to_csv(results / "mup_lr_sweep.csv", index=False, float_format="%.6g")
    plot_sweep(table, images / "mup_lr_sweep.png")
    print(f"\nLR sweep ({time.perf_counter() - start:.0f} s):")
    print(table.pivot_table(index="lr", columns=["parametrization", "width"],
                            values="loss").round(4).to_string())
    best = table.loc[table.groupby(["parametrization", "width"])["loss"].idxmin()]
    print("\nbest LR per width:")
    print(best[["parametrization", "width", "lr", "loss", "b_simple"]].to_string(index=False))


if __name__ == "__main__":
    main()
