"""``scalinglaws plan FIT.json --mixture``: the data choice a fitted data law recommends.

The saved fit's law decides the question (see :mod:`scalinglaws.plan.data_mix`):

* ``dcpt``: the domain ratio of a continual pre-training run (``--at n_params=N --at
  n_tokens=D``, ``--tolerance T``, ``--baseline L``; the general-loss fit with ``--mixture-fit``,
  or one fit grouped by corpus with the labels ``domain`` and ``general``; ``--general-ratio
  general`` when the general fit's ``mix_ratio`` is the general share 1 - r, as in the paper);
* ``data_mixing``: the proportions of the training domains (more validation domains with
  ``--mixture-fit``, weighted by ``--weights``);
* ``data_filtering`` fitted per pool: how many of the best pools to keep for
  ``--samples`` samples, with ``--pool-size`` (one number, or ``POOL=SIZE`` per pool).
"""

from __future__ import annotations

import argparse
import json

from scalinglaws.cli.app import load_fit, parse_number, parse_pairs
from scalinglaws.engine.result import jsonable
from scalinglaws.errors import DataError
from scalinglaws.plan.data_mix import (
    DataPlan,
    plan_cpt_mixture,
    plan_filtering,
    plan_mixture,
)

__all__ = ["cmd_plan_data"]

#: The laws ``plan --mixture`` answers from.
_KINDS = ("dcpt", "data_mixing", "data_filtering")


def _pool_sizes(items: list[str] | None) -> float | dict[str, float]:
    if not items:
        raise DataError("give the pools' sizes with --pool-size SIZE (all pools) or --pool-size POOL=SIZE per pool")
    if len(items) == 1 and "=" not in items[0]:
        return parse_number(items[0], "--pool-size")
    return {k: parse_number(v, f"--pool-size {k}") for k, v in parse_pairs(items, "--pool-size").items()}


def cmd_plan_data(args: argparse.Namespace) -> int:
    """Answer ``plan --mixture`` from the fit's law; print a report, or JSON with ``--json``."""
    fit = load_fit(args.fit)
    extra = [load_fit(p) for p in (args.mixture_fit or [])]
    kind = fit.law.spec.get("catalog")
    for flag, value, law in (("--tolerance", args.tolerance, "dcpt"), ("--baseline", args.baseline, "dcpt"),
                             ("--general-ratio", args.general_ratio, "dcpt"), ("--weights", args.weights, "data_mixing"),
                             ("--pool-size", args.pool_size, "data_filtering"),
                             ("--samples-seen", args.samples, "data_filtering")):
        if value is not None and kind != law and kind in _KINDS:  # else the error below names the laws
            raise DataError(f"{flag} is for a fit of the {law} law; this fit is of {kind}")
    plan: DataPlan
    if kind == "dcpt":
        at = parse_pairs(args.at, "--at")
        missing = [v for v in ("n_params", "n_tokens") if v not in at]
        if missing:
            raise DataError(f"the CPT ratio is for one run: give {', '.join(f'--at {v}=...' for v in missing)}")
        if len(extra) > 1:
            raise DataError("a dcpt plan takes one more fit (the general loss) with --mixture-fit, not several")
        plan = plan_cpt_mixture(fit, extra[0] if extra else None, n_params=parse_number(at["n_params"], "--at n_params"),
                                n_tokens=parse_number(at["n_tokens"], "--at n_tokens"),
                                tolerance=0.03 if args.tolerance is None else parse_number(args.tolerance, "--tolerance"),
                                baseline=None if args.baseline is None else parse_number(args.baseline, "--baseline"),
                                general_ratio=args.general_ratio or "domain", level=args.level)
    elif kind == "data_mixing":
        weights = None if args.weights is None else [parse_number(w, "--weights") for w in args.weights.split(",")]
        plan = plan_mixture([fit, *extra], weights=weights, level=args.level)
    elif kind == "data_filtering":
        if args.samples is None:
            raise DataError("give the budget in samples (or tokens) seen with --samples, e.g. --samples 6.4e8")
        plan = plan_filtering(fit, parse_number(args.samples, "--samples"), pool_sizes=_pool_sizes(args.pool_size),
                              level=args.level)
    else:
        raise DataError(f"--mixture answers from a fit of the {', '.join(_KINDS[:-1])} or {_KINDS[-1]} law; "
                        f"this fit is of {fit.law.name!r}")
    if args.json:
        print(json.dumps(jsonable(plan.to_dict()), indent=2, allow_nan=False))
    else:
        print(plan.report())
    return 0
