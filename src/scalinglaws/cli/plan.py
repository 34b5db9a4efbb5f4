"""Commands ``plan``, ``isoflop`` and ``hparams``: planning from the command line.

Registered by :mod:`scalinglaws.cli.app` through :func:`register`; each handler parses its
arguments, calls the library and prints a table (or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


from scalinglaws.cli.app import add_data_arguments, load_fit, read_runs
from scalinglaws.engine.result import jsonable
from scalinglaws.cli.app import parse_number as _number
from scalinglaws.cli.app import parse_pairs as _pairs
from scalinglaws.errors import DataError
from scalinglaws.plan.flops import CONVENTIONS, PARAM_COUNTS, FlopCounter, ShapeFamily


def _print_json(obj: Any) -> None:
    print(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def _numbers(text: str, name: str) -> list[float]:
    return [_number(v.strip(), name) for v in text.split(",") if v.strip()]


def _optional(text: str | None, name: str) -> float | None:
    return None if text is None else _number(text, name)


# --------------------------------------------------------------------------- plan


def _counter(args: argparse.Namespace) -> FlopCounter:
    if args.convention == "6nd" and args.aspect_ratio is None:
        return FlopCounter("6nd")
    shape = ShapeFamily(
        aspect_ratio=args.aspect_ratio or 128.0,
        head_dim=args.head_dim,
        vocab_size=args.vocab_size,
        seq_len=args.seq_len,
        count=args.param_count,
    )
    return FlopCounter(args.convention, shape)


def cmd_plan(args: argparse.Namespace) -> int:
    from scalinglaws.plan.optimal import compute_optimal, frontier
    from scalinglaws.plan.suggest import suggest_runs

    if args.shape:
        from scalinglaws.cli.plan_shape import cmd_plan_shape

        return cmd_plan_shape(args)
    if args.mixture:  # data laws: the CPT ratio, the domain mixture, the filter (cli/plan_data.py)
        from scalinglaws.cli.plan_data import cmd_plan_data
        return cmd_plan_data(args)
    fit = load_fit(args.fit)
    budgets = _numbers(args.flops or "", "--flops")
    if not budgets:
        raise DataError("give the budget with --flops, e.g. --flops 5.88e23 (or a list: 1e21,1e22,1e23)")
    if args.precision or args.critical_data is not None:
        from scalinglaws.cli.plan_precision import cmd_plan_precision
        return cmd_plan_precision(args, fit, budgets)
    options: dict[str, Any] = {
        "inference_tokens": _optional(args.inference_tokens, "--inference-tokens"),
        "unique_tokens": _optional(args.unique_tokens, "--unique-tokens"),
        "flops_per_token": _counter(args),
        "level": args.level,
    }
    at = _pairs(args.at, "--at")
    if at:
        options["at"] = {k: (v if k in fit.law.categorical else _number(v, f"--at {k}")) for k, v in at.items()}
    if len(budgets) > 1:
        table = frontier(fit, budgets, **options)
        if args.json:
            _print_json(table.to_dict(orient="records"))
        else:
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return 0
    plan = compute_optimal(fit, budgets[0], **options)
    suggestion = None
    if args.suggest is not None:
        suggestion = suggest_runs(
            fit, budget=_number(args.suggest, "--suggest"), target={"n_params": plan.n_params, "n_tokens": plan.n_tokens},
            n=args.suggest_n, flops_per_token=options["flops_per_token"], at=options.get("at"),
            unique_tokens=options["unique_tokens"],
        )
    if args.json:
        out = plan.to_dict()
        if suggestion is not None:
            out["suggestion"] = suggestion.to_dict()
        _print_json(out)
    else:
        print(plan.report())
        if suggestion is not None:
            print(suggestion.report())
    return 0


# --------------------------------------------------------------------------- isoflop


def cmd_isoflop(args: argparse.Namespace) -> int:
    from scalinglaws.plan.isoflop import envelope, isoflop

    runs = read_runs(args)
    if args.envelope:
        result = envelope(runs, run_column=args.run_column, n_points=args.points, bootstrap=args.bootstrap,
                          seed=args.seed, level=args.level)
    else:
        noise: Any = "auto"
        if args.noise is not None:
            noise = None if args.noise == "resample" else _number(args.noise, "--noise")
        result = isoflop(runs, method=args.method, window=args.window, bins="auto" if args.bins is None else args.bins,
                         budget=args.budget_column, bootstrap=args.bootstrap, noise=noise, seed=args.seed,
                         level=args.level, weighted=args.weighted)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.report())
    return 0


# --------------------------------------------------------------------------- hparams


def cmd_hparams(args: argparse.Namespace) -> int:
    from scalinglaws.plan.hparams import critical_batch_size, fit_hparams, recommend_hparams

    target = {"n_params": _optional(args.n_params, "--n-params"), "n_tokens": _optional(args.n_tokens, "--n-tokens"),
              "flops": _optional(args.target_flops, "--target-flops")}
    has_target = any(v is not None for v in target.values())
    if args.data is None:
        if args.preset is None:
            raise DataError("give a sweep (DATA) to fit, or --preset NAME to use published laws")
        if not has_target:
            raise DataError("with --preset, give the target run: --n-params, --n-tokens and/or --target-flops")
        advice = recommend_hparams(args.preset, level=args.level, **target)
        if args.json:
            _print_json(advice.to_dict())
        else:
            print(advice.report())
        return 0
    if args.preset is not None:
        raise DataError("give either a sweep (DATA) or --preset, not both")
    runs = read_runs(args)
    if args.critical_batch:
        cb = critical_batch_size(runs, steps=args.steps_column, examples=None if args.batch_from_column else args.examples_column,
                                 batch_size=args.batch_column if args.batch_from_column else None,
                                 bootstrap=args.bootstrap, seed=args.seed, level=args.level)
        if args.json:
            _print_json(cb.to_dict())
        else:
            print(repr(cb))
        return 0
    scale = [s.strip() for s in args.scale.split(",") if s.strip()]
    result = fit_hparams(runs, scale=scale, lr=args.lr_column, batch_size=args.batch_column, loss=args.loss_column,
                         points=args.points, bootstrap=args.bootstrap, seed=args.seed, level=args.level)
    fitted_advice = recommend_hparams(result, level=args.level, **target) if has_target else None
    if args.json:
        out = result.to_dict()
        if fitted_advice is not None:
            out["recommendation"] = fitted_advice.to_dict()
        _print_json(out)
    else:
        print(result.report())
        if fitted_advice is not None:
            print(fitted_advice.report())
    return 0


# --------------------------------------------------------------------------- registration


def register(subparsers: Any) -> None:
    """Add the ``plan``, ``isoflop`` and ``hparams`` commands to the main parser."""
    p = subparsers.add_parser(
        "plan",
        help="compute-optimal model size and data for a FLOP budget, from a saved fit",
        description="The loss-minimising (n_params, n_tokens) for a budget, with bootstrap intervals; "
        "optionally inference-aware (Sardana et al.) or data-constrained (Muennighoff et al.).",
    )
    p.add_argument("fit", metavar="FIT_JSON", help="a fit saved with `scalinglaws fit ... -o FILE`")
    p.add_argument("--flops", metavar="C[,C...]", help="training budget; several give a frontier table")
    p.add_argument("--inference-tokens", metavar="TOKENS", help="lifetime inference tokens (minimise training + inference FLOPs)")
    p.add_argument("--unique-tokens", metavar="TOKENS", help="unique tokens available (more are repeated epochs)")
    p.add_argument("--convention", choices=CONVENTIONS, default="6nd", help="FLOPs per token (default 6nd)")
    p.add_argument("--aspect-ratio", type=float, help="d_model / n_layer of the shape family (conventions other than 6nd)")
    p.add_argument("--head-dim", type=float, default=64.0, help="attention head size (default 64)")
    p.add_argument("--vocab-size", type=int, default=50257, help="vocabulary (default 50257)")
    p.add_argument("--seq-len", type=int, default=2048, help="context length (default 2048)")
    p.add_argument("--param-count", choices=PARAM_COUNTS, default="total", help="what the fit's n_params counts")
    p.add_argument("--at", action="append", metavar="VARIABLE=VALUE", help="value of another variable of the law")
    p.add_argument("--shape", action="store_true", help="recommend a shape (n_layer, d_model, n_head) from a fit of the 'shape' law; --gated/--untied describe the MLP and head")
    p.add_argument("--gated", action="store_true", help="with --shape: gated MLP (SwiGLU/GEGLU)")
    p.add_argument("--untied", action="store_true", help="with --shape: output head not tied to the embeddings")
    p.add_argument("--precision", action="store_true", help="best training precision (bits), N and D for C = (6/16) N D P, from a fitted precision law (kumar_precision, fp_quant)")
    p.add_argument("--precisions", metavar="BITS[,BITS...]", help="with --precision: candidate bits (default 3-16)")
    p.add_argument("--critical-data", metavar="N", help="data size past which more tokens hurt, at N parameters and the --at precision (fp_quant, kumar_ptq)")
    p.add_argument("--suggest", metavar="BUDGET", help="also propose runs within BUDGET FLOPs that narrow the prediction")
    p.add_argument("--suggest-n", type=int, default=4, help="most runs to propose (default 4)")
    p.add_argument("--mixture", action="store_true", help="data laws (dcpt, data_mixing, data_filtering): best CPT ratio, mixture or filter")
    p.add_argument("--mixture-fit", action="append", metavar="FIT_JSON", help="--mixture: the general-loss fit (dcpt) or more validation domains")
    p.add_argument("--tolerance", default="0.03", help="--mixture, dcpt: allowed rise of the general loss (default %(default)s)")
    p.add_argument("--weights", metavar="W[,W...]", help="--mixture, data_mixing: weight of each validation-domain fit")
    p.add_argument("--samples", metavar="N", help="--mixture, data_filtering: samples (or tokens) the run will see")
    p.add_argument("--pool-size", action="append", metavar="[POOL=]SIZE", help="--mixture, data_filtering: unique samples per pool")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_plan)

    p = subparsers.add_parser(
        "isoflop",
        help="IsoFLOP analysis: per-budget optimal sizes and n_opt(C), d_opt(C) power laws",
        description="Hoffmann et al. Approach 2 as published (per budget a parabola of loss in log N, its vertex "
        "with a bootstrap interval, unweighted power laws of the vertices); --envelope for Approach 1 on training curves.",
    )
    add_data_arguments(p)
    p.add_argument("--method", choices=("parabola", "cubic", "akima"), default="parabola", help="curve per budget")
    p.add_argument("--window", type=int, help="fit the parabola/cubic to this many sizes around the best one")
    p.add_argument("--bins", type=int, help="group budgets into bins of 1/BINS decade (default: exact budgets for an "
                   "IsoFLOP design, else nearby budgets grouped automatically)")
    p.add_argument("--budget-column", default="auto", help="column of each run's budget (default: budget if present, else flops)")
    p.add_argument("--bootstrap", "-b", type=int, default=200, help="draws per budget (default %(default)s)")
    p.add_argument("--noise", metavar="SD|resample", help="bootstrap by noise of this sd on log loss, or 'resample' sizes")
    p.add_argument("--weighted", action="store_true", help="weight the power-law fits by 1/sd^2 of the optima (Porian et al.)")
    p.add_argument("--unweighted", action="store_true", help="unweighted power-law fits (the default; kept for old scripts)")
    p.add_argument("--envelope", action="store_true", help="Approach 1: envelope of training curves (needs --run-column)")
    p.add_argument("--run-column", default="run_id", help="column naming each curve's run (default run_id)")
    p.add_argument("--points", type=int, default=100, help="FLOP values of the envelope (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_isoflop)

    p = subparsers.add_parser(
        "hparams",
        help="optimal learning-rate and batch-size laws (fit a sweep, or published presets)",
        description="Fit lr_opt and batch_opt as power laws of scale from a sweep (each scale's optimum by a "
        "local parabola in log lr), or use a published preset; recommend values for a target run.",
    )
    p.add_argument("data", metavar="DATA", nargs="?", help="the sweep: loss per learning rate / batch size per scale")
    p.add_argument("--column", "-c", action="append", metavar="CANONICAL=SOURCE", help="map a canonical column to the file's name")
    p.add_argument("--where", metavar="EXPR", help="keep only rows matching EXPR")
    p.add_argument("--derive-tokens", action="store_true", help="derive n_tokens as flops / (6 n_params)")
    p.add_argument("--preset", help="published laws instead of a sweep: deepseek, step_law, porian")
    p.add_argument("--scale", default="n_params,n_tokens", help="variables of the laws (default n_params,n_tokens)")
    p.add_argument("--lr-column", default="lr", help="learning-rate column (default lr)")
    p.add_argument("--batch-column", default="batch_size", help="batch-size column (default batch_size)")
    p.add_argument("--loss-column", default="loss", help="loss column (default loss)")
    p.add_argument("--points", type=int, default=5, help="sampled values in each local parabola (default 5)")
    p.add_argument("--n-params", metavar="N", help="target run: parameters")
    p.add_argument("--n-tokens", metavar="D", help="target run: tokens")
    p.add_argument("--target-flops", metavar="C", help="target run: FLOPs (default 6 N D)")
    p.add_argument("--critical-batch", action="store_true", help="fit the critical batch size from steps and examples")
    p.add_argument("--steps-column", default="steps", help="steps column (default steps)")
    p.add_argument("--examples-column", default="examples", help="examples/tokens column (default examples)")
    p.add_argument("--batch-from-column", action="store_true", help="with --critical-batch: read --batch-column, not examples")
    p.add_argument("--bootstrap", "-b", type=int, default=200, help="resamples for intervals (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_hparams)


__all__ = ["cmd_hparams", "cmd_isoflop", "cmd_plan", "register"]
