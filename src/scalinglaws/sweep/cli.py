"""The ``scalinglaws sweep`` command: ``design``, ``run`` and ``status``.

The main command line calls :func:`register` with its subparsers; each handler returns
an exit code, and raises :class:`~scalinglaws.errors.ScalingLawsError` for anything the
user can fix (printed as one line, exit status 2, by the main command).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scalinglaws.sweep.errors import SweepError

_EXAMPLES = """\
examples:
  scalinglaws sweep design --budgets 1e11,3e11,1e12 --sizes-per-budget 5 -o sweep.toml
  scalinglaws sweep design --budgets 1e9,2e9 --data devils-dictionary -o small.toml
  scalinglaws sweep design --budgets 5e9,1e10,2e10 --branch-sizes 2e4,5e4 -o branches.toml
  scalinglaws sweep design --budgets 1e15 --data data/openwebtext -o owt.toml  # train.bin, val.bin
  scalinglaws sweep run sweep.toml --store runs.db --workers 2
  scalinglaws sweep run owt.toml --store runs.db --backend ray --address HEAD:6379 --workers 8 --device cuda
  scalinglaws sweep status runs.db
  scalinglaws fit runs.db --law chinchilla
"""


def register(subparsers: Any) -> None:
    """Add the ``sweep`` command and its subcommands to an argparse subparsers object."""
    sweep = subparsers.add_parser(
        "sweep", help="design, train and track IsoFLOP sweeps of small transformer LMs",
        description="Design an IsoFLOP grid, train small transformer LMs on it (PyTorch: "
        "pip install 'scalinglaws[sweep]'), on text or nanoGPT token files, locally or on a "
        "Ray cluster, with checkpoints, and record every finished run in an SQLite store "
        "that `scalinglaws fit` reads.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = sweep.add_subparsers(dest="sweep_command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "design", help="write an IsoFLOP grid to an editable TOML file",
        description="Budgets x model sizes: sizes log-spaced around N* = sqrt(C / (6 r)) "
        "with r tokens per parameter, shapes from a fixed d_model / n_layer ratio, tokens "
        "from the budget under the FLOP convention, LR and batch from the DeepSeek LLM "
        "rule (lr = 0.3118 C^-0.125, batch = 0.2920 C^0.3271 tokens) unless given.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", required=True, type=_floats, metavar="C1,C2,...",
                   help="training FLOP budgets, comma-separated, e.g. 1e11,3e11,1e12")
    p.add_argument("--sizes-per-budget", type=int, default=5, metavar="K",
                   help="model sizes per budget (default 5)")
    p.add_argument("-o", "--output", default="sweep.toml", metavar="FILE",
                   help="design file to write (default sweep.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing design file")
    p.add_argument("--flop-convention", choices=("6nd", "exact"), default="6nd",
                   help="6nd: 6 x total params x tokens; exact: Chinchilla App. F count "
                   "with attention and embeddings (default 6nd)")
    p.add_argument("--tokens-per-param", type=float, default=20.0, metavar="R",
                   help="tokens per parameter at each curve's centre (default 20)")
    p.add_argument("--spread", type=float, default=4.0,
                   help="sizes span N*/spread .. N*·spread (default 4)")
    p.add_argument("--aspect-ratio", type=float, default=32.0,
                   help="d_model / n_layer of the shape rule (default 32)")
    p.add_argument("--aspect-ratios", metavar="R[,R...]", help="several aspect ratios: each size built at each "
                   "(a sweep over shapes; replaces --aspect-ratio)")
    p.add_argument("--head-dim", type=int, default=8, help="attention head width (default 8)")
    p.add_argument("--seq-len", type=int, default=128, help="context length (default 128)")
    p.add_argument("--lr", type=float, help="fixed peak LR for every run (default: rule)")
    p.add_argument("--batch-size", type=int, metavar="SEQS",
                   help="fixed sequences per step for every run (default: rule)")
    p.add_argument("--schedule", choices=("cosine", "wsd", "constant", "step"),
                   default="cosine", help="LR schedule after warmup (default cosine; step: "
                   "x sqrt(min_lr_ratio) at 50%% and 75%% of the steps)")
    p.add_argument("--cooldown-frac", type=float, default=0.2, metavar="F",
                   help="wsd: share of the steps in the 1-sqrt cooldown (default 0.2)")
    p.add_argument("--branch-sizes", type=_floats, metavar="N1,N2,...",
                   help="cooldown branches (Hägele et al. 2024) instead of an IsoFLOP grid: "
                   "one constant-LR trunk per model size (parameters) and one branch per "
                   "budget from its checkpoint, cooling down over --cooldown-frac of its steps")
    p.add_argument("--parametrization", choices=("standard", "mup"), default="standard",
                   help="standard (default) or mup: the maximal update parametrization, so "
                   "the best LR stays put across widths")
    p.add_argument("--mup-base-width", type=int, default=64, metavar="D",
                   help="with --parametrization mup: the width at which muP matches the "
                   "standard parametrization (default 64)")
    p.add_argument("--n-evals", type=int, default=10,
                   help="held-out evaluations per run, the last at the end (default 10)")
    p.add_argument("--eval-tokens", type=int, default=16384,
                   help="held-out tokens per evaluation (default 16384)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument("--data", "--corpus", dest="corpus", default="stdlib", metavar="DATA",
                   help="'stdlib' (Python's own sources, default), 'devils-dictionary' (a "
                   "shipped public-domain English text), a text file or folder, a folder "
                   "of nanoGPT token files (train.bin, optional val.bin and meta.pkl), a "
                   ".bin token file, or hf:NAME[:CONFIG] (needs the datasets package)")
    p.add_argument("--tokenizer", default="bytes", metavar="NAME",
                   help="for text: bytes (default, vocabulary 256), tiktoken:ENCODING (e.g. "
                   "tiktoken:gpt2; needs tiktoken) or tokenizers:PATH/tokenizer.json")
    p.add_argument("--dtype", choices=("auto", "uint16", "uint32"), default="auto",
                   help="element type of token files (default auto: meta.pkl's, else uint16)")
    p.add_argument("--val-fraction", type=float, default=0.05, metavar="F",
                   help="share held out when there is no val.bin (default 0.05): every "
                   "1/F-th chunk of text, or the last F of a token file")
    p.add_argument("--max-bytes", type=int, default=16_000_000,
                   help="text bytes read at most (default 16000000; token files are used whole)")
    p.set_defaults(handler=cmd_design)

    p = sub.add_parser(
        "run", help="train the design's runs not yet in the store",
        description="Train every run of DESIGN that STORE lacks, and append each finished "
        "run (with its loss curve) to STORE in one transaction. Safe to interrupt (Ctrl-C, "
        "kill): run the same command again to resume; no run is lost or duplicated.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("design", metavar="DESIGN", help="design file from `sweep design`")
    p.add_argument("--store", required=True, metavar="PATH",
                   help="SQLite store to append to (created if missing), e.g. runs.db")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local worker processes (default) or Ray (pip install 'scalinglaws[ray]')")
    p.add_argument("--workers", type=int, default=1,
                   help="runs trained at once (default 1); each gets cores/workers threads")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch threads per worker (default: cores / workers)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: a GPU when present (bf16 autocast), else CPU (default auto)")
    p.add_argument("--compile", nargs="?", const=True, default=False, metavar="BACKEND",
                   help="run the model under torch.compile (optionally naming a backend, "
                   "e.g. aot_eager; default inductor)")
    p.add_argument("--peak-flops", type=float, metavar="FLOP/S",
                   help="peak FLOP/s of one device, for MFU (default: NVIDIA's dense bf16 "
                   "figure for A100, H100, H200, L4, L40S, A10; none on a CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    c = p.add_argument_group("checkpoints")
    c.add_argument("--checkpoint-dir", metavar="PATH",
                   help="root of the runs' checkpoint folders (default STORE.ckpt; with Ray, "
                   "storage that every node sees)")
    c.add_argument("--checkpoint-every", type=int, metavar="K",
                   help="steps between checkpoints (default: at every evaluation; 0: none)")
    c.add_argument("--keep-checkpoints", action="store_true",
                   help="keep each finished run's last checkpoint (default: delete the "
                   "run's folder once it is in the store)")
    r = p.add_argument_group("ray backend")
    r.add_argument("--address", "--ray-address", dest="address", metavar="HOST:PORT",
                   help="head of a running Ray cluster (default: start a local Ray instance)")
    r.add_argument("--cpus-per-run", type=float, metavar="N",
                   help="CPUs each run reserves (default: --threads)")
    r.add_argument("--gpus-per-run", type=float, metavar="N",
                   help="GPUs each run reserves (default 1 with --device cuda, else 0; "
                   "fractions share a GPU)")
    r.add_argument("--memory-per-run", type=_bytes, metavar="SIZE",
                   help="memory each run reserves, e.g. 4G (default: none reserved)")
    r.add_argument("--retries", type=int, default=3,
                   help="times a run is retried when its worker or node dies, resuming "
                   "from its checkpoint (default 3)")
    r.add_argument("--placement", choices=("spread", "pack"), default="spread",
                   help="spread runs across nodes (default) or let Ray pack them")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "status", help="runs designed, done and remaining per budget",
        description="Print, per budget, how many runs the design has, how many are in the "
        "store, how many remain, and the best loss so far.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", metavar="STORE", help="the store given to `sweep run --store`")
    p.set_defaults(handler=cmd_status)


def _ratios(text: str | None) -> list[float] | None:
    """``--aspect-ratios 16,32,64`` as numbers (None when not given)."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SweepError(f"--aspect-ratios takes numbers separated by commas, got {text!r}") from None


def cmd_design(args: argparse.Namespace) -> int:
    """``sweep design``: write the grid, print it."""
    from scalinglaws.sweep.design import DataSpec, design_sweep
    from scalinglaws.sweep.designfile import write_design

    output = Path(args.output)
    if output.exists() and not args.force:
        raise SweepError(f"{str(output)!r} exists; pass --force to overwrite it, or -o NEW_FILE")
    from scalinglaws.sweep.data import BUILTIN_CORPORA

    corpus = args.corpus
    if corpus not in BUILTIN_CORPORA and not corpus.startswith("hf:"):
        corpus = str(Path(corpus).expanduser().resolve())
    data = DataSpec(corpus=corpus, max_bytes=args.max_bytes, val_fraction=args.val_fraction,
                    tokenizer=args.tokenizer, dtype=args.dtype)
    if args.branch_sizes:
        from scalinglaws.sweep.branches import design_branches

        design = design_branches(
            args.budgets, args.branch_sizes, cooldown_frac=args.cooldown_frac,
            flop_convention=args.flop_convention, aspect_ratio=args.aspect_ratio,
            head_dim=args.head_dim, lr=args.lr, batch_size=args.batch_size,
            seq_len=args.seq_len, n_evals=args.n_evals, eval_tokens=args.eval_tokens,
            seed=args.seed, data=data)
    else:
        design = design_sweep(
            args.budgets, args.sizes_per_budget, flop_convention=args.flop_convention,
            spread=args.spread, tokens_per_param=args.tokens_per_param,
            aspect_ratio=args.aspect_ratio, head_dim=args.head_dim, lr=args.lr,
            aspect_ratios=_ratios(args.aspect_ratios),
            batch_size=args.batch_size, seq_len=args.seq_len, schedule=args.schedule,
            cooldown_frac=args.cooldown_frac,
            n_evals=args.n_evals, eval_tokens=args.eval_tokens, seed=args.seed,
            parametrization=args.parametrization, mup_base_width=args.mup_base_width,
            data=data)
    rows = [[f"{r.budget:g}", r.n_layer, r.d_model, r.params[0], r.n_tokens,
             f"{r.n_tokens / r.params[0]:.3g}", r.n_steps, r.batch_size, f"{r.lr:.3g}"]
            for r in design.runs]
    print(_table(["budget", "n_layer", "d_model", "n_params", "n_tokens", "tok/param",
                  "steps", "batch", "lr"], rows))
    write_design(design, output)
    from scalinglaws.sweep.data import is_token_files

    tokens = ("token files" if is_token_files(design.runs[0].data)
              else f"text, tokenizer {args.tokenizer}")
    print(f"data: {corpus} ({tokens}, vocabulary {design.runs[0].vocab_size})")
    print(f"wrote {output} ({len(design.runs)} runs); edit it freely, then: "
          f"scalinglaws sweep run {output} --store runs.db")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``sweep run``: train what the store lacks; exit 1 if a run failed."""
    from scalinglaws.sweep.backends import run_sweep
    from scalinglaws.sweep.designfile import read_design

    design = read_design(args.design)
    report = run_sweep(design, args.store, backend=args.backend, workers=args.workers,
                       device=args.device, threads=args.threads,
                       progress=False if args.quiet else None,
                       ray_address=args.address, checkpoint_dir=args.checkpoint_dir,
                       checkpoint_every=args.checkpoint_every,
                       keep_checkpoints=args.keep_checkpoints, compile=args.compile,
                       peak_flops=args.peak_flops, cpus_per_run=args.cpus_per_run,
                       gpus_per_run=args.gpus_per_run, memory_per_run=args.memory_per_run,
                       retries=args.retries, placement=args.placement)
    resumed = f" ({len(report.resumed)} resumed from a checkpoint)" if report.resumed else ""
    print(f"trained {len(report.done)} run(s){resumed}, {len(report.skipped)} already in the "
          f"store, {len(report.failed)} failed, in {report.seconds:.1f} s; store: {args.store}")
    for run_id, step in report.resumed.items():
        print(f"resumed: {run_id} from its checkpoint at step {step}")
    for run_id, message in report.failed.items():
        print(f"failed: {run_id}: {message}")
    _print_status(args.store)
    return 1 if report.failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    """``sweep status``: the per-budget table."""
    _print_status(args.store)
    return 0


def _print_status(store: str) -> None:
    from scalinglaws.sweep.store import status

    table = status(store)
    rows = [[label, int(r.designed), int(r.done), int(r.remaining),
             "-" if math.isnan(r.best_loss) else f"{r.best_loss:.4f}"]
            for label, r in zip(table.index, table.itertuples())]
    print(_table(["budget", "designed", "done", "remaining", "best_loss"], rows))
    from scalinglaws.sweep.branches import branch_cost

    cost = branch_cost(store)
    if cost.n_trunks:
        print(f"branches: {cost.n_points} points from {cost.n_trunks} trunk(s) cost "
              f"{cost.flops_spent:.3g} FLOPs, {cost.ratio:.2f} x the "
              f"{cost.flops_from_scratch:.3g} of training them from scratch")


def _bytes(text: str) -> int:
    """Parse ``4G``, ``512M``, ``1.5GiB`` or a plain byte count (argparse type; binary units)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    body = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = body[-1:] if body[-1:] in units and body[-1:] else ""
    try:
        value = float(body[: len(body) - len(unit)]) * units[unit]
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a size like 4G, 512M or 1073741824, "
                                         f"got {text!r}")
    return int(value)


def _floats(text: str) -> list[float]:
    """Parse ``1e11,3e11`` (argparse type)."""
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 1e11,3e11, got {text!r}") from None


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain right-aligned text table."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)
