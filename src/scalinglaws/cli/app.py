"""The ``scalinglaws`` command line: thin, it parses arguments and calls the library.

Every problem the user can cause is printed as one line, ``error: ...``, on standard
error, with exit status 2; warnings are printed as ``warning: ...`` lines. ``fit`` exits
with status 3 (:data:`EXIT_NOT_OK`) when the fit is not OK (:attr:`Fit.ok`: no
convergence, a parameter on a search limit, a singular curvature matrix), unless given
``--accept``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalinglaws._version import __version__
from scalinglaws.data import datasets
from scalinglaws.errors import DataError, ScalingLawsError, ScalingLawsWarning
from scalinglaws.io import atomic_write_text
from scalinglaws.laws import CATALOG, get_law
from scalinglaws.engine.result import Fit
from scalinglaws.data.runs import Runs, load_runs

#: Exit status of ``fit`` when the fit is not OK (see :attr:`Fit.ok`) and ``--accept`` is not given.
EXIT_NOT_OK = 3

#: Modules that add their own commands with ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "scalinglaws.cli.judge",
    "scalinglaws.cli.plan",
    "scalinglaws.cli.curves",
    "scalinglaws.cli.finetune",
    "scalinglaws.sweep.cli",
)


def parse_pairs(items: Sequence[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` -> ``{"a": "1", "b": "2"}``; a DataError naming ``what`` otherwise."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"{what} must look like NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _option_value(text: str) -> bool | int | float | str:
    """A law option's value from the command line: true/false, an integer, a number, else the word."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_number(text: str, name: str) -> float:
    """``float(text)``, or a DataError naming the option."""
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{name}: {text!r} is not a number") from None


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments every command that reads runs shares (DATA, --column, --where)."""
    p.add_argument(
        "data",
        metavar="DATA",
        help="runs: a CSV, TSV, JSONL, JSON, Parquet or sweep-store (.db) file, or the name of a bundled "
        f"data set ({', '.join(datasets.names())})",
    )
    p.add_argument(
        "--column",
        "-c",
        action="append",
        metavar="CANONICAL=SOURCE",
        help="map a canonical column to the file's name, e.g. n_params=N_params (repeatable)",
    )
    p.add_argument("--where", metavar="EXPR", help='keep only rows matching EXPR, e.g. "excluded_by_epoch == 0"')
    p.add_argument("--derive-tokens", action="store_true", help="derive n_tokens as flops / (6 n_params)")


def read_runs(args: argparse.Namespace) -> Runs:
    """Load the runs named by :func:`add_data_arguments`'s arguments."""
    columns = parse_pairs(args.column, "--column")
    source = args.data
    if not Path(source).exists() and source in datasets.BUNDLED:
        b = datasets.BUNDLED[source]  # read as runs, with its own column names and filter unless overridden
        path = str(datasets.path(source))
        try:
            return load_runs(path, columns={**b.columns, **columns} or None, where=args.where or b.where,
                             derive_tokens=args.derive_tokens)
        except DataError as err:  # name the data set as the user did, not by its path inside the install
            raise DataError(str(err).replace(path, source)) from None
    if not Path(source).exists() and not Path(source).suffix:  # a mistyped data set, not a file of unknown format
        import difflib

        close = difflib.get_close_matches(source, datasets.names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (bundled: {', '.join(datasets.names())})"
        raise DataError(f"{source}: no such file, nor a bundled data set{hint}")
    return load_runs(source, columns=columns or None, where=args.where, derive_tokens=args.derive_tokens)


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--law", "-l", default="chinchilla", help="catalog name or formula string (default: chinchilla)")
    p.add_argument("--breaks", type=int, help="number of breaks, for --law bnsl")
    p.add_argument("--law-option", action="append", metavar="NAME=VALUE",
                   help="an option of the law (repeatable), e.g. offsets=true for kumar_precision; true/false, "
                   "numbers and words are read as such")
    p.add_argument("--loss", choices=("huber", "squared"), default="huber", help="penalty on residuals")
    p.add_argument("--delta", type=float, default=1e-3, help="Huber threshold (default 1e-3)")
    p.add_argument("--space", choices=("log", "linear"), default="log", help="residuals of log loss or of loss")
    p.add_argument("--target", help="column the law predicts (default: the law's own, usually loss)")
    p.add_argument("--var", action="append", metavar="VARIABLE=COLUMN", help="map a law variable to a column, e.g. x=n_params")
    p.add_argument("--fix", action="append", metavar="PARAM=VALUE", help="pin a parameter, e.g. E=1.69 (repeatable)")
    p.add_argument("--fix-source", default="", help="where the pinned values come from (kept in the result)")
    p.add_argument("--weights", metavar="COLUMN", help="column of per-run weights")
    p.add_argument("--asymmetry", type=float, default=1.0, help="penalty factor on over-predicted runs (>1: lower envelope)")
    p.add_argument("--groups", metavar="COLUMN", help="fit one law per value of COLUMN")
    p.add_argument("--shared", action="append", metavar="PARAM", help="parameter common to all groups (repeatable)")
    p.add_argument("--no-prune", action="store_true", help="run every start to convergence (slower)")
    p.add_argument("--bootstrap", "-b", type=int, default=0, help="number of bootstrap resamples (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def fit_from_args(runs: Runs, args: argparse.Namespace, progress: bool = True) -> Fit:
    """Run :func:`scalinglaws.engine.fit` with the options of :func:`add_fit_arguments`."""
    from scalinglaws.judge.auto import fit

    law_options: dict[str, Any] = {k: _option_value(v) for k, v in parse_pairs(args.law_option, "--law-option").items()}
    if args.breaks is not None:
        law_options["breaks"] = args.breaks
    fixed = {k: parse_number(v, f"--fix {k}") for k, v in parse_pairs(args.fix, "--fix").items()}
    return fit(
        runs,
        args.law,
        loss=args.loss,
        delta=args.delta,
        space=args.space,
        target=args.target,
        variables=parse_pairs(args.var, "--var") or None,
        fixed=fixed or None,
        fixed_source=args.fix_source,
        weights=args.weights,
        asymmetry=args.asymmetry,
        groups=args.groups,
        shared=tuple(args.shared or ()),
        prune=not args.no_prune,
        bootstrap=args.bootstrap,
        seed=args.seed,
        progress=progress and sys.stderr.isatty(),
        law_options=law_options,
    )


def cmd_laws(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else sorted(CATALOG)
    for i, name in enumerate(names):
        law = get_law(name)
        if i:
            print()
        print(law.describe())
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    runs = read_runs(args)
    result = fit_from_args(runs, args)
    if args.output:
        atomic_write_text(Path(args.output), result.to_json())
    if args.json:
        print(result.to_json())
    else:
        print(as_flags(result.report(level=args.level)))  # hints name flags (--fix), not keywords
        if args.output:
            print(f"saved to {args.output}")
    if not result.ok and not args.accept:
        print(f"error: the fit is NOT OK: {'; '.join(result.problems)} (exit status {EXIT_NOT_OK}; "
              "pass --accept to use it anyway)", file=sys.stderr)
        return EXIT_NOT_OK
    return 0


def load_fit(path: str) -> Fit:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"fit file {path!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read fit file {path!r}: {err}") from None
    if saved_format(text) == "scalinglaws.curvefit/1":
        raise DataError(f"{path} is a loss-curve fit (from `scalinglaws curves fit`): use it with "
                        "`scalinglaws curves predict` or `curves cooldown`")
    return Fit.from_json(text)


def saved_format(text: str) -> str | None:
    """The ``format`` a saved result's JSON declares, or None (not JSON, or none declared)."""
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d.get("format") if isinstance(d, dict) and isinstance(d.get("format"), str) else None


def cmd_predict(args: argparse.Namespace) -> int:
    result = load_fit(args.fit)
    at = parse_pairs(args.at, "--at")
    if not at:
        raise DataError(f"give the point to predict at with --at, e.g. --at {result.law.variables[0]}=1e9")
    values: dict[str, Any] = {}
    for k, v in at.items():
        if k in result.law.categorical:
            values[k] = np.array(v.split(","))
        else:
            values[k] = np.array([parse_number(x, f"--at {k}") for x in v.split(",")])
    try:
        shape = np.broadcast_shapes(*(a.shape for a in values.values()))
    except ValueError:
        sizes = ", ".join(f"{k} has {a.size}" for k, a in values.items())
        raise DataError(f"--at lists must have the same number of values (or one value): {sizes}") from None
    values = {k: np.broadcast_to(a, shape) for k, a in values.items()}
    pred = result.predict(**values)
    band = None
    if result.draws is not None:
        band = result.predict_interval(args.level, check_range=False, **values)  # checked just above
    rows = []
    for i in range(pred.size):
        row: dict[str, Any] = {k: (a[i].item() if hasattr(a[i], "item") else a[i]) for k, a in values.items()}
        row["prediction"] = float(pred.reshape(-1)[i])
        if band is not None:
            row["lower"], row["upper"] = float(band[0].reshape(-1)[i]), float(band[1].reshape(-1)[i])
            row["level"] = args.level
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            point = ", ".join(f"{k}={_fmt(row[k])}" for k in values)
            text = f"{point}: {row['prediction']:.6g}"
            if band is not None:
                text += f"  ({int(args.level * 100)}% interval {row['lower']:.6g} to {row['upper']:.6g})"
            print(text)
    return 0


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, ``error: ...``, exit status 2
    (argparse prints the whole usage first), and that reads ``-1e21`` as a number, not
    as an option (argparse knows only ``-1`` and ``-1.5``), so that a negative value
    reaches the command and is refused there by name. Subcommands inherit the class."""

    _NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = self._NEGATIVE

    def error(self, message: str) -> Any:  # argparse's signature says NoReturn
        self.exit(2, f"error: {' '.join(message.split())} (`{self.prog} --help` lists the options)\n")


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="scalinglaws",
        description="Fit, judge and apply neural scaling laws.",
    )
    parser.add_argument("--version", action="version", version=f"scalinglaws {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("laws", help="list the law catalog with formulas and sources", description="List the law catalog.")
    p.add_argument("name", nargs="?", choices=sorted(CATALOG), help="show one law")
    p.set_defaults(handler=cmd_laws)

    p = sub.add_parser(
        "fit",
        help="fit a law to runs",
        description="Fit a law to runs (Huber on log loss, multi-start, optional bootstrap) and print a report. "
        f"Exit status: 0 for a sound fit, 2 for bad input, {EXIT_NOT_OK} when the fit is NOT OK (it did not converge, "
        "a parameter rests on a search limit, or the curvature matrix is singular) unless --accept is given.",
    )
    add_data_arguments(p)
    add_fit_arguments(p)
    p.add_argument("--level", type=float, default=0.9, help="interval level in the report (default %(default)s, as in report and validate)")
    p.add_argument("--json", action="store_true", help="print the fit as JSON")
    p.add_argument("--output", "-o", metavar="FILE", help="save the fit as JSON to FILE")
    p.add_argument("--accept", action="store_true", help=f"exit 0 even when the fit is NOT OK (default: exit {EXIT_NOT_OK})")
    p.set_defaults(handler=cmd_fit)

    p = sub.add_parser(
        "predict",
        help="predict from a saved fit",
        description="Predict the law of a saved fit at given points; with bootstrap draws, also an interval.",
    )
    p.add_argument("fit", metavar="FIT_JSON", help="a fit saved with `scalinglaws fit ... -o FILE`")
    p.add_argument("--at", action="append", metavar="VARIABLE=VALUE[,VALUE...]", help="where to predict (repeatable)")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_predict)

    for module in dict.fromkeys(COMMAND_MODULES):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and module.startswith(err.name):
                continue
            raise
        mod.register(sub)
    return parser


#: Options of the Python API that library messages name as keywords, and the flags that
#: set them on the command line.
FLAG_OF = {"fixed": "--fix", "where": "--where", "bins": "--bins", "noise": "--noise", "bootstrap": "--bootstrap", "window": "--window",
           "seed": "--seed", "level": "--level", "frac": "--frac", "holdout": "--holdout", "by": "--by",
           "groups": "--groups"}
_KEYWORD = re.compile(r"\b(" + "|".join(FLAG_OF) + r")=([^\s),;]*)")


#: load_runs's hint to name a missing column, ``load_runs(..., columns={'n_params': '<...>'})``.
_COLUMNS_HINT = re.compile(r"load_runs\(\.\.\., columns=\{'(\w+)': '([^']*)'\}\)")


#: Library hints with no flag of their own (or one spelled differently), as a command-line user acts on them.
_NO_FLAG = {
    "columns= maps": "--column maps",
    "pass schedules= for exact areas": "log the lr at every step (or fit in Python with schedules=) for exact areas",
}


def as_flags(message: str) -> str:
    """A library message with its Python keyword hints (``where=...``, ``bins=K``,
    ``load_runs(..., columns={...})``) named as the command's flags (``--where ...``,
    ``--bins K``, ``--column NAME=SOURCE``)."""
    message = _COLUMNS_HINT.sub(lambda m: f"--column {m.group(1)}={m.group(2)}", message)
    for python, command in _NO_FLAG.items():
        message = message.replace(python, command)
    return _KEYWORD.sub(lambda m: FLAG_OF[m.group(1)] + (f" {m.group(2)}" if m.group(2) else ""), message)


#: The warnings one command has printed: the same message raised from two places (a
#: prediction and its interval) is printed once.
_shown: set[str] = set()


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    if issubclass(category, ScalingLawsWarning):
        text = f"warning: {as_flags(str(message))}"
        if text not in _shown:
            _shown.add(text)
            print(text, file=sys.stderr)
    else:
        print(f"{category.__name__}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scalinglaws`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    _shown.clear()
    try:
        level = getattr(args, "level", None)
        if level is not None and not 0 < level < 1:  # before any work: a fit without draws never reads it
            raise DataError(f"--level must lie strictly between 0 and 1, got {level:g}")
        with warnings.catch_warnings():
            warnings.simplefilter("default", ScalingLawsWarning)
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            status = int(args.handler(args) or 0)
            sys.stdout.flush()  # a closed pipe raises here, inside the handler below, not at exit
            return status
    except BrokenPipeError:
        # the reader went away (`scalinglaws plan ... | head`): stop quietly, as `yes | head` does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except ScalingLawsError as err:
        print(f"error: {as_flags(' '.join(str(err).split()))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
