"""The options of a fit as small values: what to minimise, where to start, how to bootstrap.

``fit(runs, law, objective=Objective(...), starts=Starts(...), bootstrap=Bootstrap(...))``
says the same as the older keywords (``loss=, delta=, space=, asymmetry=``;
``starts=<grid>, prune=``; ``bootstrap=<int>, seed=``), which :func:`resolve` still
accepts. Giving one option both ways is an error, never a silent choice.

Examples
--------
>>> Objective(loss="squared", space="linear")
Objective(loss='squared', delta=0.001, space='linear', asymmetry=1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scalinglaws.errors import FitError

__all__ = ["UNSET", "Bootstrap", "Objective", "Starts", "resolve"]


class _Unset:
    """The default of an old keyword: tells "not given" from any value."""

    def __repr__(self) -> str:
        return "<default>"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Objective:
    """What a fit minimises: a penalty on residuals, summed over runs.

    Parameters
    ----------
    loss : {"huber", "squared"}
        Huber (quadratic within ``delta``, linear beyond) or squared error.
    delta : float
        Huber threshold; 1e-3 on log loss is the recipe of Hoffmann et al. (2022).
    space : {"log", "linear"}
        Residuals of ``log(loss)`` or of ``loss``.
    asymmetry : float
        Penalty factor on over-predicted runs; > 1 fits the lower envelope.
    """

    loss: str = "huber"
    delta: float = 1e-3
    space: str = "log"
    asymmetry: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in ("huber", "squared"):
            raise FitError(f"loss must be 'huber' or 'squared', got {self.loss!r}")
        if self.space not in ("log", "linear"):
            raise FitError(f"space must be 'log' or 'linear', got {self.space!r}")
        for name in ("delta", "asymmetry"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and value > 0 and math.isfinite(value)
            ):
                raise FitError(f"{name} must be a positive number, got {value!r}")
            object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Starts:
    """Where the multi-start begins, and whether it races.

    Parameters
    ----------
    grid : mapping or array, optional
        Replaces the law's start grid: per-parameter values (their Cartesian product)
        or an array of shape (n_starts, n_params) in natural units. None: the law's.
    prune : bool
        True (default): where the law is affine in some parameters, keep one start per
        combination of the others with those coefficients solved by least squares
        (variable projection), then race large grids by successive halving. False:
        run every start of the grid to convergence.
    """

    grid: Mapping[str, Sequence[float]] | np.ndarray | None = None
    prune: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.prune, bool | np.bool_):
            raise FitError(f"prune must be True or False, got {self.prune!r}")

    def to_dict(self) -> dict[str, Any]:
        grid: Any = self.grid
        if isinstance(grid, Mapping):
            grid = {k: [float(v) for v in vs] for k, vs in grid.items()}
        elif grid is not None:
            grid = np.asarray(grid, dtype=float).tolist()
        return {"grid": grid, "prune": bool(self.prune)}


@dataclass(frozen=True, eq=False)
class Bootstrap:
    """How many bootstrap resamples of the runs to refit, and their seed.

    Parameters
    ----------
    n : int
        Number of resamples (0 for none); each is refitted from the optimum.
    seed : int or numpy Generator
        Same data and seed give the same draws.
    """

    n: int = 0
    seed: int | np.random.Generator | None = 0

    def __post_init__(self) -> None:
        if (
            isinstance(self.n, bool)
            or not isinstance(self.n, int | np.integer)
            or self.n < 0
        ):
            raise FitError(f"bootstrap must be a non-negative integer, got {self.n!r}")
        object.__setattr__(self, "n", int(self.n))
        seed = self.seed
        if not (
            seed is None
            or isinstance(seed, np.random.Generator)
            or (
                isinstance(seed, int | np.integer)
                and not isinstance(seed, bool)
                and seed >= 0
            )
        ):
            raise FitError(
                f"seed must be a non-negative integer or a numpy Generator, got {seed!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        seed = (
            self.seed
            if isinstance(self.seed, int) or self.seed is None
            else "generator"
        )
        return {"n": self.n, "seed": seed}


def _pick(new_name: str, new: Any, old: Mapping[str, Any]) -> None:
    given = [k for k, v in old.items() if v is not UNSET]
    if new is not None and given:
        raise FitError(
            f"{given[0]}= and {new_name}= both set the {new_name}; give only {new_name}={type(new).__name__}(...)"
        )


def resolve(
    *,
    objective: Objective | None,
    starts: Any,
    bootstrap: Any,
    loss: Any = UNSET,
    delta: Any = UNSET,
    space: Any = UNSET,
    asymmetry: Any = UNSET,
    prune: Any = UNSET,
    seed: Any = UNSET,
) -> tuple[Objective, Starts, Bootstrap]:
    """The three option values from new values and old keywords (``UNSET`` when not given).

    Raises
    ------
    FitError
        When an old keyword and the new value set the same option, or a value is of
        the wrong kind.
    """
    if objective is not None and not isinstance(objective, Objective):
        raise FitError(
            f"objective must be a scalinglaws.Objective, got {type(objective).__name__}"
        )
    old = {"loss": loss, "delta": delta, "space": space, "asymmetry": asymmetry}
    _pick("objective", objective, old)
    if objective is None:
        objective = Objective(**{k: v for k, v in old.items() if v is not UNSET})

    if isinstance(starts, Starts):
        _pick("starts", starts, {"prune": prune})
        chosen_starts = starts
    else:
        chosen_starts = Starts(grid=starts, prune=True if prune is UNSET else prune)

    if isinstance(bootstrap, Bootstrap):
        _pick("bootstrap", bootstrap, {"seed": seed})
        chosen_boot = bootstrap
    elif (
        bootstrap is None
        or isinstance(bootstrap, int | np.integer)
        and not isinstance(bootstrap, bool)
    ):
        chosen_boot = Bootstrap(
            n=int(bootstrap or 0), seed=0 if seed is UNSET else seed
        )
    else:
        raise FitError(
            f"bootstrap must be a non-negative integer or a scalinglaws.Bootstrap, got {bootstrap!r}"
        )
    return objective, chosen_starts, chosen_boot
