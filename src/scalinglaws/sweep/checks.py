"""Argument checks shared by the sweep's specs, design rules and runner.

Each raises :class:`~scalinglaws.sweep.errors.SweepError` with a one-line message naming
the argument, its allowed range and the value given.
"""

from __future__ import annotations

import math

from scalinglaws.sweep.errors import SweepError


def check_int(name: str, value: object, *, minimum: int) -> None:
    """``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_float(name: str, value: object, *, low: float, high: float = math.inf,
                open_low: bool = True) -> None:
    """``value`` is a finite number above ``low`` (at least, if not ``open_low``) and at
    most ``high``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high  # type: ignore[operator]
    if not ok:
        bound = f"{'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
        raise SweepError(f"{name} must be a finite number {bound}, got {value!r}")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise SweepError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
