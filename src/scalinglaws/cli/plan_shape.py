"""``scalinglaws plan FIT.json --flops C --shape``: the compute-optimal transformer shape.

The fit must be of a law in ``d_model`` and ``n_layer`` (catalog ``shape``); saved with
bootstrap draws (``scalinglaws fit ... --bootstrap 200 -o FIT.json``), the plan carries
intervals. The architecture counted is the one ``plan``'s shape options describe
(``--head-dim``, ``--vocab-size``, ``--seq-len``, ``--convention``) plus ``--gated`` and
``--untied``.
"""

from __future__ import annotations

import argparse

from scalinglaws.cli.app import as_flags, load_fit
from scalinglaws.cli.app import parse_number as _number
from scalinglaws.errors import DataError

__all__ = ["cmd_plan_shape"]


def cmd_plan_shape(args: argparse.Namespace) -> int:
    """Print the best (n_layer, d_model, n_head) and tokens for one budget."""
    import json

    from scalinglaws.engine.result import jsonable
    from scalinglaws.plan.shape import plan_shape

    fit = load_fit(args.fit)
    budgets = [v.strip() for v in str(args.flops).split(",") if v.strip()]
    if len(budgets) != 1:
        raise DataError("--shape plans one budget at a time: give a single --flops value")
    head_dim = args.head_dim
    if head_dim != int(head_dim) or head_dim <= 0:
        raise DataError(f"--head-dim must be a positive whole number with --shape, got {head_dim:g}")
    plan = plan_shape(
        fit, _number(budgets[0], "--flops"), convention=args.convention, head_dim=int(head_dim),
        vocab_size=args.vocab_size, seq_len=args.seq_len, gated=bool(getattr(args, "gated", False)),
        tied_embeddings=not bool(getattr(args, "untied", False)), level=args.level,
    )
    if args.json:
        print(json.dumps(jsonable(plan.to_dict()), indent=2, allow_nan=False))
    else:
        print(as_flags(plan.report()))  # its hint "fit with bootstrap= for intervals" as the flag
    return 0
