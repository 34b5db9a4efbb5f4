"""``scalinglaws plan COVERAGE_FIT --samples TARGET``: test-time compute from a coverage fit.

Called by :func:`scalinglaws.cli.plan.cmd_plan`. With one fit of the ``coverage`` law
(Brown et al. 2024) it prints the samples per problem that reach the target coverage, as
``scalinglaws downstream samples`` does. Given coverage fits of other model sizes
(``--size-fit N=FIT_JSON``, and ``--at n_params=N`` for the first fit's size) and
``--tokens-per-sample``, it prints the cheapest split between model size and samples
(:func:`scalinglaws.plan.samples.plan_samples`) with the table of options.
"""

from __future__ import annotations

import argparse
import json

from scalinglaws.cli.app import load_fit, parse_number, parse_pairs
from scalinglaws.engine.result import Fit, jsonable
from scalinglaws.errors import DataError

__all__ = ["cmd_plan_samples"]


def _coverage_fit(fit: Fit, name: str) -> Fit:
    free = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(free) != 1:
        raise DataError(f"--samples answers from a coverage fit (scalinglaws fit TABLE --law coverage --target coverage "
                        f"-o FILE); {name} is a fit of {fit.law.name!r}, a law of {', '.join(free)}")
    return fit


def cmd_plan_samples(args: argparse.Namespace) -> int:
    """Print the samples needed for ``--samples`` coverage (or the cheapest size and samples)."""
    from scalinglaws.dynamics.downstream import samples_for_coverage
    from scalinglaws.plan.samples import plan_samples

    target = parse_number(args.samples, "--samples")
    if not 0 < target < 1:
        raise DataError(f"--samples is the coverage to reach, strictly between 0 and 1, got {target:g}")
    fit = _coverage_fit(load_fit(args.fit), args.fit)
    sizes = parse_pairs(args.size_fit, "--size-fit")
    if not sizes:
        for flag, value in (("--tokens-per-sample", args.tokens_per_sample), ("--problems", args.problems),
                            ("--train-tokens-per-param", args.train_tokens_per_param)):
            if value is not None:
                raise DataError(f"{flag} prices a choice of model size: give the coverage fits of other sizes with "
                                "--size-fit N=FIT_JSON (and this fit's size with --at n_params=N)")
        need = samples_for_coverage(fit, target, level=args.level)
        if args.json:
            print(json.dumps(jsonable(need.to_dict()), indent=2, allow_nan=False))
        else:
            text = f"coverage {target:g} needs {need.n_samples:.4g} samples per problem"
            if need.interval is not None:
                text += f" ({int(args.level * 100)}% interval {need.interval[0]:.4g} to {need.interval[1]:.4g})"
            print(text)
        return 0
    at = parse_pairs(args.at, "--at")
    if set(at) != {"n_params"}:
        raise DataError("with --size-fit, give the size of the first fit's model with --at n_params=N (and nothing else)")
    fits = {parse_number(at["n_params"], "--at n_params"): fit}
    for n, path in sizes.items():
        size = parse_number(n, "--size-fit")
        if size in fits:
            raise DataError(f"two coverage fits for n_params={size:g}: give one fit per model size")
        fits[size] = _coverage_fit(load_fit(path), path)
    if args.tokens_per_sample is None:
        raise DataError("give the tokens each sample costs (prompt plus answer) with --tokens-per-sample, e.g. 1000")
    plan = plan_samples(
        fits, target, tokens_per_sample=parse_number(args.tokens_per_sample, "--tokens-per-sample"),
        n_problems=1.0 if args.problems is None else parse_number(args.problems, "--problems"),
        train_tokens_per_param=0.0 if args.train_tokens_per_param is None
        else parse_number(args.train_tokens_per_param, "--train-tokens-per-param"),
        level=args.level,
    )
    if args.json:
        print(json.dumps(jsonable(plan.to_dict()), indent=2, allow_nan=False))
    else:
        print(repr(plan))
        print(plan.options.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0
