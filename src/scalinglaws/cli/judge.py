"""Commands that judge fits: ``validate``, ``compare``, ``report`` and ``plot``.

Added to the ``scalinglaws`` command line through :func:`register` (listed in
``scalinglaws.cli.app.COMMAND_MODULES``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scalinglaws.cli import app as _cli
from scalinglaws.cli.app import add_data_arguments, add_fit_arguments, read_runs
from scalinglaws.errors import DataError, ScalingLawsWarning
from scalinglaws.io import atomic_write_bytes

PLOT_KINDS = ("fit", "learning-curve", "residuals", "isoflop", "bootstrap", "validation")
_pairs = _cli.parse_pairs
_number = _cli.parse_number


def fit_kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`scalinglaws.engine.fit` given by ``add_fit_arguments``, without the
    law, bootstrap and seed."""
    fixed = {k: _number(v, f"--fix {k}") for k, v in _pairs(args.fix, "--fix").items()}
    return {
        "loss": args.loss,
        "delta": args.delta,
        "space": args.space,
        "target": args.target,
        "variables": _pairs(args.var, "--var") or None,
        "fixed": fixed or None,
        "fixed_source": args.fix_source,
        "weights": args.weights,
        "asymmetry": args.asymmetry,
        "groups": args.groups,
        "shared": tuple(args.shared or ()),
        "prune": not args.no_prune,
        "law_options": {"breaks": args.breaks} if args.breaks is not None else None,
    }


def _holdout_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--holdout", default="largest", choices=("largest", "loso"),
                   help="hold out the largest runs (default) or each scale group in turn (loso)")
    p.add_argument("--by", metavar="COLUMN", help="column ordering runs by scale (default: the law's scale or flops)")
    p.add_argument("--frac", type=float, default=0.2, help="share of runs held out (default 0.2)")
    p.add_argument("--n", type=int, metavar="N", help="number of runs held out (instead of --frac)")
    p.add_argument("--level", type=float, default=0.9, help="level of the prediction intervals (default %(default)s)")
    p.add_argument("--candidate", action="append", metavar="LAW", help="candidate for --law auto (repeatable)")
    p.set_defaults(bootstrap=200)


def _judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """The held-out test's options, checked here: ``report`` would otherwise turn a bad one into
    "validation not run" on the page and exit 0, and a ``--candidate`` without ``--law auto``
    would be ignored."""
    if not 0 < args.frac < 1:
        raise DataError(f"frac must lie strictly between 0 and 1 (--frac), got {args.frac:g}")
    if args.n is not None and args.n < 1:
        raise DataError(f"--n must be at least 1 held-out run, got {args.n}")
    laws = args.law if isinstance(args.law, list) else [args.law]
    if args.candidate and not any(isinstance(law, str) and law.strip().lower() == "auto" for law in laws):
        raise DataError("--candidate lists the laws --law auto chooses from: give --law auto too")
    return {
        "holdout": args.holdout,
        "by": args.by,
        "frac": args.frac,
        "n": args.n,
        "level": args.level,
        "bootstrap": args.bootstrap,
        "seed": args.seed,
    }


@contextlib.contextmanager
def _extrapolating() -> Iterator[None]:
    """An extrapolation test predicts beyond its training runs by design (the output says
    how far): no 'beyond the fitted range' warning for each held-out prediction."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="beyond the fitted range", category=ScalingLawsWarning)
        yield


def cmd_validate(args: argparse.Namespace) -> int:
    from scalinglaws.judge.validate import validate

    runs = read_runs(args)
    with _extrapolating():
        v = validate(runs, args.law, candidates=args.candidate, **_judge_options(args), **fit_kwargs_from_args(args))
    if args.json:
        print(json.dumps(v.to_dict(), indent=2))
        return 0
    print(v.summary())
    cols = [c for c in ("row", v.by, "actual", "predicted", "lower", "upper", "log_error", "inside") if c in v.table]
    print(v.table[cols].to_string(index=False, float_format=lambda x: f"{x:.5g}"))
    print(v.interval)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from scalinglaws.judge.compare import compare

    laws = args.law or ["chinchilla", "kaplan"]
    if len(laws) < 2:
        raise DataError("give at least two laws to compare: --law A --law B")
    runs = read_runs(args)
    opts = _judge_options(args)
    kwargs = fit_kwargs_from_args(args)
    with _extrapolating():
        c = compare(runs, laws, candidates=args.candidate, **opts, **kwargs)
    if args.json:
        print(json.dumps(c.to_dict(), indent=2))
    else:  # the table's n_params counts the law's free parameters, not a model size: say so
        cols = ["law", "n_params", "rmse_log", "max_abs_rel_error", "coverage", "objective", "aic", "bic"]
        table = c.table[cols].rename(columns={"n_params": "free_params"})
        print(f"Comparison of {len(c.table)} laws (held out: {c.holdout} by {c.by}); best extrapolation: {c.best}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"(free_params: fitted parameters of each law; AIC/BIC: in sample, {c.table.likelihood.iloc[0]} "
              "likelihood of log residuals; a tie-breaker, not a test of extrapolation)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from scalinglaws import reporting
    from scalinglaws.io import atomic_write_text
    from scalinglaws.render.summary import target, verdict

    runs = read_runs(args)
    flops = [_number(x, "--plan-flops") for x in args.plan_flops.split(",")] if args.plan_flops else None
    made = reporting.review(runs, args.law, validate=not args.no_validate, candidates=args.candidate, plan_flops=flops,
                            **_judge_options(args), **fit_kwargs_from_args(args))
    path = Path(args.output)
    atomic_write_text(path, reporting._render(made, title=args.title))
    # the page's verdict, so that a CAUTION is seen without opening the page
    word, reasons = verdict(made, target(made))
    print(f"wrote {path}: {word}" + ("" if word == "OK" else f" ({'; '.join(reasons)})"))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from scalinglaws.render import plot
    from scalinglaws.judge.auto import fit

    opts = _judge_options(args)
    runs = read_runs(args)
    kwargs = fit_kwargs_from_args(args)
    out = Path(args.output)
    fmt = out.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "pdf", "svg"):
        raise DataError(f"the figure file must end in .png, .pdf or .svg, got {out.name!r}")
    if not 10 <= args.dpi <= 1200:
        raise DataError(f"--dpi must be between 10 and 1200, got {args.dpi}")
    if args.kind == "validation":
        from scalinglaws.judge.validate import validate

        v = validate(runs, args.law, candidates=args.candidate, **opts, **kwargs)
        fig = plot.validation(v)
    elif args.kind == "isoflop":
        from scalinglaws.plan.isoflop import isoflop

        f = None if args.law == "none" else _fit(runs, args, kwargs, fit)
        fig = plot.isoflop(isoflop(runs, bootstrap=0), fit=f)
    else:
        if args.kind == "bootstrap" and not args.bootstrap:
            args.bootstrap = 200
        f = _fit(runs, args, kwargs, fit)
        if args.kind == "fit":
            fig = plot.fit(f, runs, x=args.x, level=args.level)
        elif args.kind == "learning-curve":
            fig = plot.learning_curve(f, runs, level=args.level)
        elif args.kind == "residuals":
            fig = plot.residuals(f, runs, x=args.x)
        else:
            fig = plot.bootstrap(f)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=args.dpi)
    atomic_write_bytes(out, buf.getvalue())
    print(f"wrote {out}")
    return 0


def _fit(runs: Any, args: argparse.Namespace, kwargs: dict[str, Any], fit: Any) -> Any:
    if isinstance(args.law, str) and args.law.strip().lower() == "auto":
        from scalinglaws.judge.auto import fit_auto

        return fit_auto(runs, args.candidate, bootstrap=args.bootstrap, seed=args.seed, **kwargs)
    return fit(runs, args.law, bootstrap=args.bootstrap, seed=args.seed, **kwargs)


def register(subparsers: Any) -> None:
    """Add ``validate``, ``compare``, ``report`` and ``plot`` to the command line."""
    p = subparsers.add_parser(
        "validate",
        help="fit on the small runs, predict the held-out large ones",
        description="Extrapolation test: hold out the largest runs (or each scale group), fit on the rest, and "
        "report log errors and the coverage of prediction intervals. --law auto chooses the law inside the "
        "training runs.",
    )
    add_data_arguments(p)
    add_fit_arguments(p)
    _holdout_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_validate)

    p = subparsers.add_parser(
        "compare",
        help="the same extrapolation test for several laws, with AIC/BIC",
        description="Run the same held-out test for several laws (--law A --law B ...) and add in-sample "
        "criteria (objective, AIC, BIC).",
        conflict_handler="resolve",
    )
    add_data_arguments(p)
    add_fit_arguments(p)
    p.add_argument("--law", "-l", action="append", metavar="LAW", help="a law to compare (repeat for each)")
    _holdout_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_compare)

    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report",
        description="Fit a law and write one HTML page (inline figures, no network): data, fit with intervals, "
        "diagnostics, figures, extrapolation test and, when available, the compute-optimal plan.",
    )
    add_data_arguments(p)
    add_fit_arguments(p)
    _holdout_arguments(p)
    p.add_argument("--output", "-o", required=True, metavar="FILE.html", help="where to write the page")
    p.add_argument("--no-validate", action="store_true", help="leave out the extrapolation test")
    p.add_argument("--plan-flops", metavar="C[,C...]", help="budgets for the compute-optimal plan")
    p.add_argument("--title", help="page title")
    p.set_defaults(handler=cmd_report)

    p = subparsers.add_parser(
        "plot",
        help="draw a figure of a fit",
        description="Fit a law and draw one figure to a PNG, PDF or SVG file.",
    )
    add_data_arguments(p)
    add_fit_arguments(p)
    _holdout_arguments(p)
    p.set_defaults(bootstrap=0)
    p.add_argument("--output", "-o", required=True, metavar="FILE", help="figure file (.png, .pdf, .svg)")
    p.add_argument("--kind", choices=PLOT_KINDS, default="fit", help="which figure (default: fit)")
    p.add_argument("--x", metavar="COLUMN", help="column on the horizontal axis")
    p.add_argument("--dpi", type=int, default=120, help="resolution of a PNG (default 120)")
    p.set_defaults(handler=cmd_plot)


__all__ = ["PLOT_KINDS", "fit_kwargs_from_args", "register"]
