"""``scalinglaws plan FIT --flops C --precision``: the best training precision, from a fitted precision law.

Called by :func:`scalinglaws.cli.plan.cmd_plan` when ``--precision`` or
``--critical-data`` is given; prints :meth:`PrecisionPlan.report` (and the critical data
size) or JSON with ``--json``. ``--at n_params=N`` with ``--precision`` fixes the model size:
only the data and the precision are chosen along each budget (Kumar et al. Sec. 4.3.3).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from scalinglaws.cli.app import parse_number, parse_pairs
from scalinglaws.engine.result import Fit, jsonable
from scalinglaws.errors import DataError

#: Variables the precision planner sets itself (``--at`` values for them serve --critical-data only).
_TRAINING_BITS = ("precision", "precision_w", "precision_a", "precision_kv", "exponent_bits", "mantissa_bits")


def cmd_plan_precision(args: argparse.Namespace, fit: Fit, budgets: list[float]) -> int:
    """Answer ``--precision`` (best precision for each budget) and ``--critical-data N``."""
    from scalinglaws.plan.precision import critical_data_size, plan_precision

    at = {k: parse_number(v, f"--at {k}") for k, v in (parse_pairs(args.at, "--at") or {}).items()}
    precisions = None
    if args.precisions is not None:
        precisions = [parse_number(v.strip(), "--precisions") for v in args.precisions.split(",") if v.strip()]
        if not precisions:
            raise DataError("--precisions takes bits separated by commas, e.g. --precisions 4,8,16")
    out: dict[str, Any] = {}
    lines: list[str] = []
    if args.precision:
        plan_at = {k: v for k, v in at.items() if k not in (*_TRAINING_BITS, "n_params")}
        plans = [plan_precision(fit, c, precisions=precisions, at=plan_at, n_params=at.get("n_params"), level=args.level)
                 for c in budgets]
        out["plans"] = [p.to_dict() for p in plans]
        lines += [p.report() for p in plans]
    if args.critical_data is not None:
        if "n_params" in at:
            raise DataError("--critical-data takes the model size itself (--critical-data N); --at n_params=N fixes "
                            "the model size of --precision only: ask them in two commands")
        cd = critical_data_size(fit, parse_number(args.critical_data, "--critical-data"), at=at, level=args.level)
        out["critical_data"] = cd.to_dict()
        lines.append(cd.report())
    if args.json:
        print(json.dumps(jsonable(out), indent=2, allow_nan=False))
    else:
        print("\n\n".join(lines))
    return 0


__all__ = ["cmd_plan_precision"]
