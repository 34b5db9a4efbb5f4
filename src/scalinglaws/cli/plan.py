"""Commands ``plan``, ``isoflop`` and ``hparams``: planning from the command line.

Registered by :mod:`scalinglaws.cli.app` through :func:`register`; each handler parses its
arguments, calls the library and prints a table (or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

import numpy as np

from scalinglaws.cli.app import add_data_arguments, as_flags, load_fit, read_runs
from scalinglaws.cli.app import parse_number as _number
from scalinglaws.cli.app import parse_pairs as _pairs
from scalinglaws.engine.result import jsonable
from scalinglaws.errors import DataError
from scalinglaws.plan.flops import CONVENTIONS, PARAM_COUNTS, FlopCounter, ShapeFamily


def _print_json(obj: Any) -> None:
    print(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def _numbers(text: str, name: str) -> list[float]:
    return [_number(v.strip(), name) for v in text.split(",") if v.strip()]


def _optional(text: str | None, name: str) -> float | None:
    return None if text is None else _number(text, name)


# --------------------------------------------------------------------------- plan


#: The questions ``plan`` answers: mode -> the flag that asks it.
_MODES = {"optimal": "a compute-optimal plan", "shape": "--shape", "precision": "--precision/--critical-data",
          "mixture": "--mixture", "samples": "--samples"}

#: Options of one or a few questions: dest -> (flag, the modes it applies to).
_OPTION_MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "flops": ("--flops", ("optimal", "shape", "precision")),
    "inference_tokens": ("--inference-tokens", ("optimal",)),
    "unique_tokens": ("--unique-tokens", ("optimal",)),
    "convention": ("--convention", ("optimal", "shape")),
    "aspect_ratio": ("--aspect-ratio", ("optimal",)),
    "head_dim": ("--head-dim", ("optimal", "shape")),
    "vocab_size": ("--vocab-size", ("optimal", "shape")),
    "seq_len": ("--seq-len", ("optimal", "shape")),
    "param_count": ("--param-count", ("optimal",)),
    "at": ("--at", ("optimal", "precision", "mixture", "samples")),
    "suggest": ("--suggest", ("optimal",)),
    "suggest_n": ("--suggest-n", ("optimal",)),
    "gated": ("--gated", ("shape",)),
    "untied": ("--untied", ("shape",)),
    "precisions": ("--precisions", ("precision",)),
    "mixture_fit": ("--mixture-fit", ("mixture",)),
    "tolerance": ("--tolerance", ("mixture",)),
    "general_ratio": ("--general-ratio", ("mixture",)),
    "baseline": ("--baseline", ("mixture",)),
    "weights": ("--weights", ("mixture",)),
    "samples_seen": ("--samples-seen", ("mixture",)),
    "pool_size": ("--pool-size", ("mixture",)),
    "tokens_per_sample": ("--tokens-per-sample", ("samples",)),
    "problems": ("--problems", ("samples",)),
    "train_tokens_per_param": ("--train-tokens-per-param", ("samples",)),
    "size_fit": ("--size-fit", ("samples",)),
}
#: Defaults of the options above, filled in once the question is known (None in argparse,
#: so that an option given where it does nothing is an error, not silently ignored).
_DEFAULTS = {"convention": "6nd", "head_dim": 64.0, "vocab_size": 50257, "seq_len": 2048, "param_count": "total",
             "suggest_n": 4}
#: The question a fit's catalog law answers, to point a plain ``plan`` at the right flag.
_LAW_MODE = {"shape": "shape", "kumar_precision": "precision", "fp_quant": "precision", "kumar_ptq": "precision",
             "dcpt": "mixture", "data_mixing": "mixture", "data_filtering": "mixture", "coverage": "samples"}


def _mode(args: argparse.Namespace) -> str:
    """The one question asked, after checking that every option given belongs to it."""
    if args.mixture and args.samples is not None:  # the filtering budget's first spelling
        if args.samples_seen is not None:
            raise DataError("give the samples seen once, with --samples-seen")
        args.samples_seen, args.samples = args.samples, None
    asked = [m for m, on in (("shape", args.shape), ("precision", args.precision or args.critical_data is not None),
                             ("mixture", args.mixture), ("samples", args.samples is not None)) if on]
    if len(asked) > 1:
        raise DataError(f"{' and '.join(_MODES[m] for m in asked)} are different questions: ask one per command")
    mode = asked[0] if asked else "optimal"
    for dest, (flag, modes) in _OPTION_MODES.items():
        value = getattr(args, dest)
        if value is not None and value is not False and mode not in modes:
            where = " or ".join(_MODES[m] for m in modes)
            raise DataError(f"{flag} goes with {where}, not with {_MODES[mode]}")
    for dest in ("aspect_ratio", "head_dim", "vocab_size", "seq_len", "suggest_n"):  # sizes, whether read or not
        value = getattr(args, dest)
        if value is not None and not value > 0:
            raise DataError(f"{_OPTION_MODES[dest][0]} must be positive, got {value:g}")
    for dest, default in _DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    return mode


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

    mode = _mode(args)
    if mode == "shape":
        from scalinglaws.cli.plan_shape import cmd_plan_shape

        if args.flops is None:
            raise DataError("--shape plans for a budget: give it with --flops, e.g. --flops 1e21")
        return cmd_plan_shape(args)
    if mode == "mixture":  # data laws: the CPT ratio, the domain mixture, the filter (cli/plan_data.py)
        from scalinglaws.cli.plan_data import cmd_plan_data

        args.samples = args.samples_seen  # cli/plan_data.py reads the filtering budget as args.samples
        return cmd_plan_data(args)
    if mode == "samples":
        from scalinglaws.cli.plan_samples import cmd_plan_samples

        return cmd_plan_samples(args)
    fit = load_fit(args.fit)
    budgets = _numbers(args.flops or "", "--flops")
    if mode == "precision":
        from scalinglaws.cli.plan_precision import cmd_plan_precision

        if args.precision and not budgets:
            raise DataError("--precision plans for a budget: give it with --flops, e.g. --flops 1e22 (or a list)")
        return cmd_plan_precision(args, fit, budgets)
    other = _LAW_MODE.get(str(fit.law.spec.get("catalog")))
    if other is not None:
        raise DataError(f"this is a fit of the {fit.law.name!r} law: ask its question with {_MODES[other]} "
                        f"(scalinglaws plan --help lists the options of each)")
    if not budgets:
        raise DataError("give the budget with --flops, e.g. --flops 5.88e23 (or a list: 1e21,1e22,1e23)")
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
            print(_frontier_text(table, args.level))
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
    else:  # its warnings were printed once on stderr; the report keeps its "grouping:" line, with flags
        print(as_flags(dataclasses.replace(result, warnings=()).report()))
    return 0


# --------------------------------------------------------------------------- hparams


def cmd_hparams(args: argparse.Namespace) -> int:
    from scalinglaws.plan.hparams import (
        critical_batch_size,
        fit_hparams,
        recommend_hparams,
    )

    target = {"n_params": _optional(args.n_params, "--n-params"), "n_tokens": _optional(args.n_tokens, "--n-tokens"),
              "flops": _optional(args.target_flops, "--target-flops")}
    for name, value in target.items():  # checked before the sweep is fitted, not after
        if value is not None and not (np.isfinite(value) and value > 0):
            flag = {"flops": "--target-flops"}.get(name, "--" + name.replace("_", "-"))
            raise DataError(f"{flag} must be a positive number, got {value:g}")
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
        # fit_hparams raised its warnings (an optimum at the edge of the sweep), printed once on stderr
        # as `warning: ...` like every command's; the report would repeat them on stdout
        print(dataclasses.replace(result, warnings=()).report())
        if fitted_advice is not None:
            print(fitted_advice.report())
    return 0


# --------------------------------------------------------------------------- registration


def _frontier_text(table: Any, level: float) -> str:
    """The frontier as people read it: a row per budget, each quantity with its ``level``
    interval in brackets (``2.79e+09 (2.46e+09 to 3.23e+09)``), not in _lo/_hi columns."""
    out = table[["flops"]].map(lambda v: f"{v:.3g}")
    for col, digits in (("n_params", 3), ("n_tokens", 3), ("tokens_per_param", 3), ("loss", 4)):
        lo, hi = table.get(f"{col}_lo"), table.get(f"{col}_hi")
        has = lo is not None and hi is not None and bool(np.isfinite(lo).all() and np.isfinite(hi).all())
        out[f"{col} ({level:.0%})" if has else col] = [
            f"{v:.{digits}g}" + (f" ({a:.{digits}g} to {b:.{digits}g})" if has else "")
            for v, a, b in zip(table[col], lo if has else table[col], hi if has else table[col], strict=True)]
    if "at_search_bound" in table and table["at_search_bound"].any():
        out["note"] = np.where(table["at_search_bound"], "optimum at the search bound", "")
    return str(out.to_string(index=False))


def register(subparsers: Any) -> None:
    """Add the ``plan``, ``isoflop`` and ``hparams`` commands to the main parser."""
    p = subparsers.add_parser(
        "plan",
        help="plan from a saved fit: size and data for a budget, or the shape, precision, data mixture or samples",
        description="Answer one planning question from a saved fit. By default, the loss-minimising "
        "(n_params, n_tokens) for a FLOP budget, with bootstrap intervals, optionally inference-aware "
        "(Sardana et al.) or data-constrained (Muennighoff et al.). With --shape, --precision, --mixture or "
        "--samples, the question the fit's law answers (one per command); each group below lists its options.",
    )
    p.add_argument("fit", metavar="FIT_JSON", help="a fit saved with `scalinglaws fit ... -o FILE`")
    g = p.add_argument_group("budget", "the compute-optimal plan (chinchilla-like fits); --flops also for --shape and --precision")
    g.add_argument("--flops", metavar="C[,C...]", help="training budget; several give a frontier table")
    g.add_argument("--inference-tokens", metavar="TOKENS", help="lifetime inference tokens (minimise training + inference FLOPs)")
    g.add_argument("--unique-tokens", metavar="TOKENS", help="unique tokens available (more are repeated epochs)")
    g.add_argument("--convention", choices=CONVENTIONS, help="FLOPs per token (default 6nd); also for --shape")
    g.add_argument("--aspect-ratio", type=float, help="d_model / n_layer of the shape family (conventions other than 6nd)")
    g.add_argument("--head-dim", type=float, help="attention head size (default 64); also for --shape")
    g.add_argument("--vocab-size", type=int, help="vocabulary (default 50257); also for --shape")
    g.add_argument("--seq-len", type=int, help="context length (default 2048); also for --shape")
    g.add_argument("--param-count", choices=PARAM_COUNTS, help="what the fit's n_params counts (default total)")
    g.add_argument("--at", action="append", metavar="VARIABLE=VALUE", help="value of another variable of the law "
                   "(also for --precision, --mixture with dcpt, and n_params with --samples --size-fit)")
    g.add_argument("--suggest", metavar="BUDGET", help="also propose runs within BUDGET FLOPs that narrow the prediction")
    g.add_argument("--suggest-n", type=int, help="most runs to propose (default 4)")
    g = p.add_argument_group("shape", "the best (n_layer, d_model, n_head) from a fit of the 'shape' law, for one --flops")
    g.add_argument("--shape", action="store_true", help="recommend a shape; --head-dim, --vocab-size, --seq-len, "
                   "--convention describe the architecture")
    g.add_argument("--gated", action="store_true", help="gated MLP (SwiGLU/GEGLU)")
    g.add_argument("--untied", action="store_true", help="output head not tied to the embeddings")
    g = p.add_argument_group("precision", "from a fit of kumar_precision, fp_quant or kumar_ptq; --at names the "
                             "law's other variables (fp_quant: --at block_size=128)")
    g.add_argument("--precision", action="store_true", help="best training precision (bits), N and D for each --flops, "
                   "with C = (6/16) N D P; --at n_params=N fixes the model size (precision and D chosen)")
    g.add_argument("--precisions", metavar="BITS[,BITS...]", help="candidate bits (default 3-16)")
    g.add_argument("--critical-data", metavar="N", help="data size past which more tokens hurt, at N parameters and "
                   "the --at precision (fp_quant, kumar_ptq); needs no --flops")
    g = p.add_argument_group("data mixture", "from a fit of dcpt, data_mixing or data_filtering")
    g.add_argument("--mixture", action="store_true", help="best CPT ratio (dcpt), domain mixture (data_mixing) or "
                   "filter (data_filtering)")
    g.add_argument("--mixture-fit", action="append", metavar="FIT_JSON", help="dcpt: the general-loss fit; "
                   "data_mixing: more validation domains")
    g.add_argument("--tolerance", help="dcpt: allowed rise of the general loss (default 0.03)")
    g.add_argument("--general-ratio", choices=("domain", "general"), help="dcpt: what the general-loss fit's "
                   "mix_ratio is: 'domain', the domain share r (default, as for the domain fit), or 'general', "
                   "the general share 1 - r (Que et al.'s parameterisation)")
    g.add_argument("--baseline", metavar="LOSS", help="dcpt: the general loss to protect (default: the general "
                   "fit's prediction at r = 0; Que et al. protect the loss before continual pre-training)")
    g.add_argument("--weights", metavar="W[,W...]", help="data_mixing: weight of each validation-domain fit")
    g.add_argument("--samples-seen", metavar="N", help="data_filtering: samples (or tokens) the run will see "
                   "(--samples N, its first spelling, still works with --mixture)")
    g.add_argument("--pool-size", action="append", metavar="[POOL=]SIZE", help="data_filtering: unique samples per pool")
    g = p.add_argument_group("samples", "test-time compute, from a fit of the 'coverage' law (Brown et al. 2024)")
    g.add_argument("--samples", metavar="TARGET", help="samples per problem that reach coverage TARGET in (0, 1); "
                   "with --size-fit, the cheapest model size and samples")
    g.add_argument("--size-fit", action="append", metavar="N=FIT_JSON", help="coverage fit of a model of N parameters "
                   "(repeatable; give the first fit's size with --at n_params=N)")
    g.add_argument("--tokens-per-sample", metavar="T", help="with --size-fit: tokens per sample (prompt plus answer)")
    g.add_argument("--problems", metavar="P", help="with --size-fit: problems to solve (default 1)")
    g.add_argument("--train-tokens-per-param", metavar="R", help="with --size-fit: also charge training at R tokens "
                   "per parameter (default 0: the models exist)")
    g = p.add_argument_group("output")
    g.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    g.add_argument("--json", action="store_true", help="print JSON")
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
