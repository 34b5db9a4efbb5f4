"""Command ``select-finetune``: which pre-trained model to fine-tune, from small subsets.

Registered by :mod:`scalinglaws.cli.app` through :func:`register`. DATA holds one row per
(candidate, fine-tuning subset) with the loss after fine-tuning on it (columns ``model``,
``finetune_examples``, ``loss``, optionally ``n_params``; other names with ``--by``,
``--examples-column``, ``--loss-column``); :func:`scalinglaws.select_finetune` extrapolates
each candidate to ``--target-examples`` (Lin et al. 2024) and the command prints the
ranking, best first, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from scalinglaws.cli.app import parse_number
from scalinglaws.data import datasets
from scalinglaws.errors import DataError

__all__ = ["cmd_select_finetune", "register"]


def _read(args: argparse.Namespace) -> Any:
    from scalinglaws.data.readers import read_table
    from scalinglaws.data.where import evaluate_where

    source = args.data
    if not Path(source).exists() and source in datasets.BUNDLED:
        frame = read_table(datasets.path(source))  # the file as it is, bundled or not
    else:
        frame = read_table(source)
    if args.where:
        mask = evaluate_where(args.where, frame)
        if not mask.any():
            raise DataError(f"--where {args.where!r} selects none of the {len(frame)} rows")
        frame = frame.loc[mask.to_numpy()]
    return frame


def cmd_select_finetune(args: argparse.Namespace) -> int:
    """Rank the candidates by predicted fine-tuned loss at ``--target-examples``."""
    from scalinglaws.dynamics.finetune_select import select_finetune

    frame = _read(args)
    sel = select_finetune(
        frame,
        parse_number(args.target_examples, "--target-examples"),
        budget_examples=None if args.budget_examples is None else parse_number(args.budget_examples, "--budget-examples"),
        method=args.method,
        by=args.by,
        examples=args.examples_column,
        target=args.loss_column,
        tokens_per_example=None if args.tokens_per_example is None
        else parse_number(args.tokens_per_example, "--tokens-per-example"),
        level=args.level,
        bootstrap=args.bootstrap,
        seed=args.seed,
        drop_smallest=args.drop_smallest,
    )
    if args.json:
        print(json.dumps(sel.to_dict(), indent=2, allow_nan=False))
        return 0
    print(repr(sel))
    table = sel.ranking.head(args.top) if args.top else sel.ranking
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.top and len(sel.ranking) > args.top:
        print(f"({len(sel.ranking) - args.top} more; --top 0 lists all)")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``select-finetune`` command to the main parser."""
    p = subparsers.add_parser(
        "select-finetune",
        help="which pre-trained model to fine-tune, from fine-tuning runs on small subsets (Lin et al. 2024)",
        description="Extrapolate each candidate's fine-tuning loss from small subsets to the full set and rank "
        "the candidates: Accept then Stop (a line in log-log through the power-phase points) or the rectified "
        "law per model (with bootstrap intervals).",
    )
    p.add_argument("data", metavar="DATA", help="one row per (model, subset): a CSV, TSV, JSONL, JSON or Parquet "
                   "file, or a bundled table such as lin_finetune_flan")
    p.add_argument("--target-examples", required=True, metavar="N", help="full fine-tuning size to predict at")
    p.add_argument("--budget-examples", metavar="B", help="use only subsets up to B examples (default: all)")
    p.add_argument("--method", choices=("ats", "rectified"), default="ats", help="extrapolation (default %(default)s)")
    p.add_argument("--where", metavar="EXPR", help="keep only rows matching EXPR, e.g. \"family == 'gpt2'\"")
    p.add_argument("--by", default="model", help="column naming the candidate (default %(default)s)")
    p.add_argument("--examples-column", default="finetune_examples", help="subset size column (default %(default)s)")
    p.add_argument("--loss-column", default="loss", help="fine-tuned loss column (default %(default)s)")
    p.add_argument("--tokens-per-example", metavar="T", help="tokens per example, to count the cost in FLOPs")
    p.add_argument("--drop-smallest", action="store_true", help="ats: leave the smallest subset out of the line "
                   "even when accepted, as the authors' code does (reproduces their Table 1)")
    p.add_argument("--bootstrap", "-b", type=int, default=100, help="rectified: refits per model (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    p.add_argument("--top", type=int, default=10, help="candidates to print (default %(default)s; 0: all)")
    p.add_argument("--json", action="store_true", help="print JSON (every candidate)")
    p.set_defaults(handler=cmd_select_finetune)
