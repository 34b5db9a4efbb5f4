"""Sweep designs as editable TOML: read with :mod:`tomllib`, written by a small formatter.

The file has three parts::

    [sweep]            # the rule that made the grid (provenance only; not read back into runs)
    [defaults]         # RunSpec fields shared by every run
    [defaults.data]    # the corpus
    [[runs]]           # one table per run: its own fields, overriding the defaults

Any field of :class:`~scalinglaws.sweep.design.RunSpec` may appear in ``[defaults]`` or
in a ``[[runs]]`` table (a run may also have its own ``[runs.data]``). A run's
``run_id`` is a hash of its full content, so an edited run is a new run; an unknown key
is an error, so a typo never passes silently. No dependency is needed: the formatter
writes only strings, booleans, numbers and flat lists of them.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields
from pathlib import Path

from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import _LATER_RUN_FIELDS, DataSpec, RunSpec, SweepDesign

#: The fields written per run; every other RunSpec field goes to ``[defaults]``.
PER_RUN: tuple[str, ...] = ("budget", "n_layer", "d_model", "n_head", "n_tokens",
                            "batch_size", "lr")

_HEADER = """\
# scalinglaws sweep design. Edit freely, then: scalinglaws sweep run THIS_FILE --store runs.db
# Every [[runs]] table takes the [defaults] and may override any of them (a run can
# also have its own [runs.data]). A run's id hashes its full content: an edited run is
# a new run, and runs already in a store are never trained again.
"""


def to_toml(design: SweepDesign) -> str:
    """The design as TOML text (see the module docstring for the layout).

    Examples
    --------
    >>> from scalinglaws.sweep.design import design_sweep
    >>> text = to_toml(design_sweep([1e11], 2))
    >>> from_toml(text) == design_sweep([1e11], 2)
    True
    """
    runs = design.runs
    shared = [f.name for f in fields(RunSpec) if f.name not in PER_RUN and f.name != "data"]
    shared = [name for name in shared if name not in _LATER_RUN_FIELDS  # unused: left out
              or any(getattr(run, name) != _LATER_RUN_FIELDS[name] for run in runs)]
    defaults = {name: getattr(runs[0], name) for name in shared} if runs else {}
    data = runs[0].data if runs else DataSpec()
    lines = [_HEADER, "[sweep]"]
    lines += [f"{key} = {_value(value)}" for key, value in design.rule.items()]
    lines += ["", "[defaults]"]
    lines += [f"{key} = {_value(value)}" for key, value in defaults.items()]
    lines += ["", "[defaults.data]"]
    lines += [f"{f.name} = {_value(getattr(data, f.name))}" for f in fields(DataSpec)]
    for run in runs:
        n_params, _ = run.params
        about = (f"# {n_params} parameters, {run.n_steps} steps, "
                 f"{run.n_tokens / n_params:.3g} tokens per parameter")
        if run.parent:
            about += f"; a branch of run {run.parent} at step {run.branch_step}"
        lines += ["", "[[runs]]", about]
        lines += [f"{name} = {_value(getattr(run, name))}" for name in PER_RUN]
        lines += [f"{name} = {_value(getattr(run, name))}" for name in shared
                  if getattr(run, name) != defaults[name]]
        if run.data != data:
            lines += ["[runs.data]"]
            lines += [f"{f.name} = {_value(getattr(run.data, f.name))}" for f in fields(DataSpec)]
    return "\n".join(lines) + "\n"


def from_toml(text: str, source: str = "<string>") -> SweepDesign:
    """Parse a design from TOML text.

    Raises
    ------
    SweepError
        For invalid TOML, an unknown key, a missing field or an invalid value; the
        message names the run (by position) and the key.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(doc) - {"sweep", "defaults", "runs"}
    if unknown:
        raise SweepError(f"{source}: unknown table(s) {sorted(unknown)}; "
                         "expected [sweep], [defaults] and [[runs]]")
    rule = doc.get("sweep", {})
    defaults = dict(doc.get("defaults", {}))
    default_data = defaults.pop("data", {})
    runs_table = doc.get("runs", [])
    if not isinstance(runs_table, list) or not runs_table:
        raise SweepError(f"{source}: no [[runs]] tables; a design needs at least one run")
    runs = []
    names = {f.name for f in fields(RunSpec)}
    for position, table in enumerate(runs_table, start=1):
        merged = {**defaults, **table}
        data = {**default_data, **merged.pop("data", {})}
        where = f"{source}: run {position}"
        bad = set(merged) - names
        if bad:
            raise SweepError(f"{where}: unknown key(s) {sorted(bad)}; valid keys are "
                             f"{', '.join(sorted(names))}")
        bad = set(data) - {f.name for f in fields(DataSpec)}
        if bad:
            raise SweepError(f"{where}: unknown data key(s) {sorted(bad)}; valid keys are "
                             f"{', '.join(f.name for f in fields(DataSpec))}")
        try:
            runs.append(RunSpec(**merged, data=DataSpec(**data)))
        except TypeError as exc:  # a required field is missing
            raise SweepError(f"{where}: {exc}".replace("__init__()", "")) from None
        except SweepError as exc:
            raise SweepError(f"{where}: {exc}") from None
    return SweepDesign(runs=tuple(runs), rule=rule)


def write_design(design: SweepDesign, path: str | Path) -> Path:
    """Write ``design`` as TOML to ``path`` (atomically) and return the path."""
    from scalinglaws.io import atomic_write_text

    path = Path(path)
    atomic_write_text(path, to_toml(design))
    return path


def read_design(path: str | Path) -> SweepDesign:
    """Read a design written by :func:`write_design` (and perhaps edited).

    Raises
    ------
    SweepError
        If the file is missing or invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"design file {str(path)!r} does not exist; make one with "
                         "`scalinglaws sweep design --budgets ... -o FILE`")
    return from_toml(path.read_text(encoding="utf-8"), source=str(path))


def _value(value: object) -> str:
    """One TOML value: str, bool, int, finite float, or a flat list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SweepError(f"cannot write the non-finite number {value!r} to a design")
        text = next(t for n in range(1, 18) if float(t := f"{value:.{n}g}") == value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise SweepError(f"cannot write {type(value).__name__} {value!r} to a design file")
