"""Commands ``scalinglaws curves ...`` and ``scalinglaws downstream ...``.

curves fit       fit a loss-curve law (default lr_annealing) on curves; save it with -o
curves predict   the predicted loss curve of a schedule never trained
curves cooldown  the WSD cooldown fraction with the lowest predicted final loss
downstream predict  two-stage prediction: loss fit, then error-from-loss fit
downstream passk    coverage (mean unbiased pass@k) from per-problem counts
downstream samples  samples needed to reach a target coverage, from a coverage fit
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from scalinglaws.data import datasets
from scalinglaws.dynamics import schedules as _sched
from scalinglaws.data.where import evaluate_where
from scalinglaws.cli.app import load_fit, saved_format
from scalinglaws.cli.app import parse_number as _number
from scalinglaws.cli.app import parse_pairs as _pairs
from scalinglaws.dynamics.curves import CurveFit, best_cooldown, fit_curves, load_curves, read_table
from scalinglaws.dynamics.downstream import coverage_table, predict_downstream, samples_for_coverage
from scalinglaws.errors import DataError
from scalinglaws.io import atomic_write_text

SCHEDULES = ("constant", "cosine", "wsd", "step", "power")


# --------------------------------------------------------------------------- helpers


def _read_curves(args: argparse.Namespace) -> Any:
    if args.source == "wandb":
        from scalinglaws.data.trackers import read_wandb_curves

        return read_wandb_curves(args.data, metric=args.metric, lr=args.lr_metric)
    if args.source == "mlflow":
        from scalinglaws.data.trackers import read_mlflow_curves

        return read_mlflow_curves(args.data[0], metric=args.metric, lr=args.lr_metric, experiment=args.experiment)
    if len(args.data) != 1:
        raise DataError("a curve table is one file; several files are for --source wandb")
    source: Any = args.data[0]
    if not Path(source).exists() and source in datasets.names():
        source = datasets.load(source)  # a bundled curve table, as `fit` takes a bundled name
    return load_curves(source, columns=_pairs(args.column, "--column") or None, where=args.where)


def _load_curve_fit(path: str) -> CurveFit:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"curve-fit file {path!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read curve-fit file {path!r}: {err}") from None
    if saved_format(text) == "scalinglaws.engine.fit/1":
        raise DataError(f"{path} is a fit of runs (from `scalinglaws fit`), not of loss curves: make one with "
                        "`scalinglaws curves fit CURVES -o FILE`")
    return CurveFit.from_json(text)


def _add_schedule_arguments(p: argparse.ArgumentParser, *, choose: bool = True) -> None:
    if choose:
        p.add_argument("--schedule", choices=SCHEDULES, default="cosine", help="schedule shape (default cosine)")
        p.add_argument("--lrs", metavar="FILE", help="a file of per-step learning rates, one per line (instead of --schedule)")
    p.add_argument("--peak", type=float, help="peak learning rate")
    p.add_argument("--steps", type=int, help="number of optimizer steps")
    p.add_argument("--warmup", type=int, default=0, help="linear warmup steps (default 0)")
    p.add_argument("--final", type=float, default=0.0, help="final LR as a fraction of the peak (default 0)")
    p.add_argument("--shape", choices=_sched.COOLDOWN_SHAPES, default="sqrt", help="WSD/power cooldown shape (default sqrt)")
    if choose:
        p.add_argument("--cooldown", type=float, default=0.2, help="WSD cooldown fraction (default 0.2)")
        p.add_argument("--milestones", default="0.5,0.75", help="step schedule: milestones (steps or fractions)")
        p.add_argument("--gamma", type=float, default=0.1, help="step schedule: factor at each milestone")
        p.add_argument("--exponent", type=float, default=0.5, help="power schedule: decay exponent")


def _schedule(args: argparse.Namespace) -> np.ndarray:
    if args.lrs:
        p = Path(args.lrs)
        if not p.is_file():
            raise DataError(f"--lrs file {args.lrs!r} does not exist")
        try:
            values = [float(x) for x in p.read_text(encoding="utf-8").split()]
        except ValueError as err:
            raise DataError(f"--lrs file {args.lrs!r} must hold one number per line ({err})") from None
        return _sched.as_schedule(values, name=f"--lrs {args.lrs}")
    if args.peak is None or args.steps is None:
        raise DataError("give the schedule with --peak and --steps (or --lrs FILE)")
    common = {"warmup": args.warmup}
    if args.schedule == "constant":
        return _sched.constant(args.peak, args.steps, **common)
    if args.schedule == "cosine":
        return _sched.cosine(args.peak, args.steps, final=args.final, **common)
    if args.schedule == "wsd":
        return _sched.wsd(args.peak, args.steps, cooldown=args.cooldown, shape=args.shape, final=args.final, **common)
    if args.schedule == "step":
        marks = [_number(x, "--milestones") for x in args.milestones.split(",") if x.strip()]
        return _sched.step(args.peak, args.steps, milestones=marks, gamma=args.gamma, **common)
    return _sched.power(args.peak, args.steps, exponent=args.exponent, **common)


# --------------------------------------------------------------------------- curves


def cmd_curves_fit(args: argparse.Namespace) -> int:
    curves = _read_curves(args)
    fixed = {k: _number(v, f"--fix {k}") for k, v in _pairs(args.fix, "--fix").items()}
    result = fit_curves(
        curves,
        args.law,
        decay=args.decay,
        warmup=args.lr_warmup,
        min_step=args.min_step,
        loss=args.loss,
        space=args.space,
        delta=args.delta,
        fixed=fixed or None,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    if args.output:
        atomic_write_text(Path(args.output), result.to_json())
    if args.json:
        print(result.to_json())
    else:
        print(result.report())
        if args.output:
            print(f"saved to {args.output}")
    return 0


def cmd_curves_predict(args: argparse.Namespace) -> int:
    cf = _load_curve_fit(args.fit)
    lrs = _schedule(args)
    every = max(1, args.every or max(1, len(lrs) // 20))
    steps = np.unique(np.r_[np.arange(every, len(lrs) + 1, every), len(lrs)])
    pred = cf.predict_curve(lrs, steps=steps)
    band = cf.predict_interval(lrs, level=args.level, steps=steps) if cf.fit.draws is not None else None
    rows = []
    for i, s in enumerate(steps):
        row: dict[str, Any] = {"step": int(s), "lr": float(lrs[s - 1]), "loss": float(pred[i])}
        if band is not None:
            row["lower"], row["upper"] = float(band[0][i]), float(band[1][i])
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'step':>8}  {'lr':>10}  {'loss':>9}" + ("  interval" if band is not None else ""))
        for row in rows:
            line = f"{row['step']:>8}  {row['lr']:>10.4g}  {row['loss']:>9.5f}"
            if band is not None:
                line += f"  ({row['lower']:.5f}, {row['upper']:.5f})"
            print(line)
    return 0


def cmd_curves_cooldown(args: argparse.Namespace) -> int:
    cf = _load_curve_fit(args.fit)
    if args.peak is None or args.steps is None:
        raise DataError("give the budget with --peak and --steps")
    best = best_cooldown(cf, peak=args.peak, steps=args.steps, warmup=args.warmup, shape=args.shape, final=args.final)
    if args.json:
        print(json.dumps(best.to_dict(), indent=2))
    else:
        print(
            f"best WSD cooldown for {args.steps} steps at peak {args.peak:g} ({args.shape}): "
            f"{best.fraction:.1%} of the steps, predicted final loss {best.final_loss:.5f}"
        )
    return 0


# --------------------------------------------------------------------------- downstream


def cmd_downstream_predict(args: argparse.Namespace) -> int:
    loss_fit = load_fit(args.loss_fit)
    ds_fit = load_fit(args.downstream_fit)
    at = _pairs(args.at, "--at")
    if not at:
        raise DataError("give the point with --at, e.g. --at n_params=6.9e9 --at tokens_per_param=20")
    values = {k: np.array([_number(x, f"--at {k}") for x in v.split(",")]) for k, v in at.items()}
    shape = np.broadcast_shapes(*(a.shape for a in values.values()))
    values = {k: np.broadcast_to(a, shape) for k, a in values.items()}
    pred = predict_downstream(loss_fit, ds_fit, level=args.level, **values)
    if args.json:
        print(json.dumps(pred.to_dict(), indent=2))
        return 0
    loss, err = np.atleast_1d(pred.loss), np.atleast_1d(pred.error)
    for i in range(loss.size):
        point = ", ".join(f"{k}={float(np.atleast_1d(v)[i]):g}" for k, v in pred.inputs.items())
        text = f"{point}: loss {loss[i]:.5g}, error {err[i]:.5g}"
        if pred.error_interval is not None and pred.loss_interval is not None:
            ll, lh = (np.atleast_1d(v)[i] for v in pred.loss_interval)
            el, eh = (np.atleast_1d(v)[i] for v in pred.error_interval)
            text += f"  ({int(args.level * 100)}% loss {ll:.5g} to {lh:.5g}, error {el:.5g} to {eh:.5g})"
        print(text)
    return 0


def cmd_downstream_passk(args: argparse.Namespace) -> int:
    frame = read_table(args.data)
    if args.where:
        mask = evaluate_where(args.where, frame)
        if not mask.any():
            raise DataError(f"--where {args.where!r} selects none of the {len(frame)} problems")
        frame = frame.loc[mask.to_numpy()]
    for col in (args.n_column, args.c_column):
        if col not in frame.columns:
            raise DataError(f"{args.data}: no column {col!r} (columns: {', '.join(map(str, frame.columns))}); "
                            "name the columns with --n-column and --c-column")
    n, c = frame[args.n_column].to_numpy(), frame[args.c_column].to_numpy()
    ks = [int(_number(x, "--k")) for x in args.k.split(",")] if args.k else None
    table = coverage_table(n, c, ks)
    if args.output:
        atomic_write_text(Path(args.output), table.to_csv(index=False))
    if args.json:
        print(table.to_json(orient="records", indent=2))
    else:
        print(f"{'k':>8}  {'coverage':>9}")
        for row in table.itertuples():
            print(f"{row.n_samples:>8}  {row.coverage:>9.5f}")
        if args.output:
            print(f"saved to {args.output}")
    return 0


def cmd_downstream_samples(args: argparse.Namespace) -> int:
    fit = load_fit(args.fit)
    need = samples_for_coverage(fit, args.target, level=args.level)
    if args.json:
        print(json.dumps(need.to_dict(), indent=2))
    else:
        text = f"coverage {args.target:g} needs {need.n_samples:.4g} samples per problem"
        if need.interval is not None:
            text += f" ({int(args.level * 100)}% interval {need.interval[0]:.4g} to {need.interval[1]:.4g})"
        print(text)
    return 0


# --------------------------------------------------------------------------- registration


def register(subparsers: Any) -> None:
    """Add the ``curves`` and ``downstream`` commands to the main parser."""
    p = subparsers.add_parser(
        "curves",
        help="loss curves under LR schedules: fit, predict a schedule, best WSD cooldown",
        description="Fit a loss-curve law (Tissue et al. 2024 by default) on training curves and predict the "
        "curve of any learning-rate schedule.",
    )
    sub = p.add_subparsers(dest="curves_command", metavar="SUBCOMMAND")
    sub.required = True

    f = sub.add_parser("fit", help="fit a curve law on curves", description="Fit a loss-curve law on one or more curves.")
    f.add_argument("data", nargs="+", metavar="DATA", help="curve table (run, step, loss, lr) or the name of a bundled one (misfitting_curves), W&B CSV export(s) or an mlruns directory")
    f.add_argument("--source", choices=("table", "wandb", "mlflow"), default="table", help="what DATA is (default table)")
    f.add_argument("--column", "-c", action="append", metavar="NAME=SOURCE", help="table columns: run=..., step=..., loss=..., lr=...")
    f.add_argument("--where", metavar="EXPR", help="keep only rows matching EXPR")
    f.add_argument("--metric", default="loss", help="tracker metric holding the loss (default loss)")
    f.add_argument("--lr-metric", default="lr", help="tracker metric holding the learning rate (default lr)")
    f.add_argument("--experiment", help="MLflow experiment name or id")
    f.add_argument("--law", "-l", default="lr_annealing", help="curve law: catalog name or formula in s1, s2, steps, lr")
    f.add_argument("--decay", type=float, default=_sched.DEFAULT_DECAY, help="momentum decay of the annealing area (default 0.999)")
    f.add_argument("--lr-warmup", type=int, default=None, help="warmup steps left out of the annealing area (default: up to the LR peak)")
    f.add_argument("--min-step", type=int, default=1, help="leave out rows before this step (default 1)")
    f.add_argument("--loss", choices=("huber", "squared"), default="huber", help="penalty on residuals")
    f.add_argument("--space", choices=("log", "linear"), default="log", help="residuals of log loss or of loss")
    f.add_argument("--delta", type=float, default=1e-3, help="Huber threshold (default 1e-3)")
    f.add_argument("--fix", action="append", metavar="PARAM=VALUE", help="pin a parameter (repeatable)")
    f.add_argument("--bootstrap", "-b", type=int, default=0, help="bootstrap resamples of the rows (default %(default)s)")
    f.add_argument("--seed", type=int, default=0, help="random seed")
    f.add_argument("--json", action="store_true", help="print the fit as JSON")
    f.add_argument("--output", "-o", metavar="FILE", help="save the curve fit as JSON")
    f.set_defaults(handler=cmd_curves_fit)

    q = sub.add_parser("predict", help="predict the loss curve of a schedule", description="Predict the loss curve of a schedule.")
    q.add_argument("fit", metavar="CURVE_FIT_JSON", help="a fit saved with `scalinglaws curves fit ... -o FILE`")
    _add_schedule_arguments(q)
    q.add_argument("--every", type=int, help="print every N steps (default: 20 rows)")
    q.add_argument("--level", type=float, default=0.9, help="interval level when the fit has bootstrap draws (default %(default)s)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(handler=cmd_curves_predict)

    c = sub.add_parser("cooldown", help="best WSD cooldown fraction for a budget", description="Find the WSD cooldown fraction with the lowest predicted final loss.")
    c.add_argument("fit", metavar="CURVE_FIT_JSON")
    _add_schedule_arguments(c, choose=False)
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(handler=cmd_curves_cooldown)

    p = subparsers.add_parser(
        "downstream",
        help="downstream error from loss (two stages), pass@k coverage, samples for a target coverage",
        description="Downstream predictions: Gadre et al. two-stage error prediction and repeated sampling.",
    )
    sub = p.add_subparsers(dest="downstream_command", metavar="SUBCOMMAND")
    sub.required = True

    d = sub.add_parser("predict", help="loss then error at a point", description="Predict loss with a loss fit, then error from it.")
    d.add_argument("--loss-fit", required=True, metavar="FIT_JSON", help="saved loss fit (e.g. --law overtraining)")
    d.add_argument("--downstream-fit", required=True, metavar="FIT_JSON", help="saved error-from-loss fit (e.g. --law downstream_exp)")
    d.add_argument("--at", action="append", metavar="VARIABLE=VALUE[,VALUE...]", help="where to predict (repeatable)")
    d.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(handler=cmd_downstream_predict)

    k = sub.add_parser("passk", help="coverage (pass@k) from per-problem counts", description="Unbiased pass@k averaged over problems.")
    k.add_argument("data", metavar="DATA", help="table with one row per problem: samples drawn and samples correct")
    k.add_argument("--where", metavar="EXPR", help="keep only problems matching EXPR")
    k.add_argument("--n-column", default="n", help="column of samples drawn per problem (default n)")
    k.add_argument("--c-column", default="c", help="column of correct samples per problem (default c)")
    k.add_argument("--k", help="comma-separated k values (default: up to 40 log-spaced)")
    k.add_argument("--json", action="store_true", help="print JSON")
    k.add_argument("--output", "-o", metavar="FILE", help="save the coverage table as CSV (fit it with --law coverage --target coverage)")
    k.set_defaults(handler=cmd_downstream_passk)

    s = sub.add_parser("samples", help="samples needed for a target coverage", description="Invert a coverage fit.")
    s.add_argument("fit", metavar="FIT_JSON", help="a coverage fit (scalinglaws fit TABLE --law coverage --target coverage -o FILE)")
    s.add_argument("--target", type=float, required=True, help="target coverage in (0, 1)")
    s.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(handler=cmd_downstream_samples)


__all__ = ["register"]
